"""Publishing from the admin: a safely unpacked archive, linted and published; versions compared by schema."""

import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from bundles.archive import MAX_FILES, ArchiveError, extract
from bundles.models import BundleVersion
from tests.conftest import FIXTURE_BUNDLES

pytestmark = pytest.mark.django_db
ECHO = FIXTURE_BUNDLES / "echo"


def tar_of(entries) -> bytes:
    """A .tar.gz of (name, bytes | ("symlink", target) | ("hardlink", target)) entries."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in entries:
            info = tarfile.TarInfo(name)
            if isinstance(content, tuple):
                info.type = tarfile.SYMTYPE if content[0] == "symlink" else tarfile.LNKTYPE
                info.linkname = content[1]
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def zip_of(entries, symlink: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries:
            archive.writestr(name, content)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = 0o120777 << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def echo_entries(prefix="echo/", version="1.0.0"):
    manifest = (ECHO / "bundle.yaml").read_text().replace("version: 1.0.0", f"version: {version}")
    return [(f"{prefix}bundle.yaml", manifest.encode()), (f"{prefix}src/main.tf", (ECHO / "src/main.tf").read_bytes())]


def files_under(path: Path) -> set[str]:
    return {str(p) for p in path.rglob("*")}


@pytest.mark.parametrize(
    "evil",
    [
        ("../escaped.txt", b"x"),
        ("echo/../../escaped.txt", b"x"),
        ("/tmp/escaped-absolute.txt", b"x"),
        ("echo/src/link.tf", ("symlink", "/etc/passwd")),
        ("echo/src/hard.tf", ("hardlink", "/etc/passwd")),
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "symlink", "hardlink"],
)
def test_an_archive_with_a_path_escape_or_a_link_is_refused_and_nothing_is_written(tmp_path, evil):
    dest = tmp_path / "upload"
    dest.mkdir()
    outside_before = files_under(tmp_path)
    with pytest.raises(ArchiveError) as excinfo:
        extract(tar_of([*echo_entries(), evil]), "echo.tar.gz", dest)
    assert evil[0] in str(excinfo.value)
    assert files_under(tmp_path) == outside_before  # nothing written anywhere, not even the good files
    assert not Path("/tmp/escaped-absolute.txt").exists()


def test_a_zip_with_a_symlink_or_dotdot_is_refused(tmp_path):
    for data in (zip_of(echo_entries(), symlink="echo/src/evil.tf"), zip_of([*echo_entries(), ("../x", "1")])):
        dest = tmp_path / f"z{len(os.listdir(tmp_path))}"
        dest.mkdir()
        with pytest.raises(ArchiveError):
            extract(data, "echo.zip", dest)
        assert list(dest.iterdir()) == []


def test_file_count_and_size_limits(tmp_path, settings, monkeypatch):
    many = [(f"echo/f{i}.txt", b"") for i in range(MAX_FILES + 1)]
    with pytest.raises(ArchiveError, match="over the limit"):
        extract(tar_of(many), "many.tar.gz", tmp_path)
    monkeypatch.setattr("bundles.archive.MAX_BYTES", 1000)
    with pytest.raises(ArchiveError, match="bytes once unpacked"):
        extract(tar_of([("echo/big.bin", b"0" * 5000)]), "big.tar.gz", tmp_path / "x")


def test_ops_publish_a_version_from_the_admin(client, ops):
    client.force_login(ops)
    upload = io.BytesIO(tar_of(echo_entries()))
    upload.name = "echo-1.0.0.tar.gz"
    response = client.post("/admin/bundles/bundle/publish/", {"archive": upload})
    assert response.status_code == 302, response.content.decode()[:2000]
    version = BundleVersion.objects.get(bundle__name="echo")
    assert version.version == "1.0.0" and version.published_by == ops


def test_an_upload_that_fails_lint_is_refused_with_its_problems(client, ops):
    client.force_login(ops)
    entries = echo_entries(version="one")
    upload = io.BytesIO(zip_of(entries))
    upload.name = "echo.zip"
    response = client.post("/admin/bundles/bundle/publish/", {"archive": upload})
    assert response.status_code == 400
    assert "bundle.yaml /version: &#x27;one&#x27; is not a semantic version" in response.content.decode()
    assert not BundleVersion.objects.exists()


def test_an_evil_upload_is_refused_in_the_admin(client, ops):
    client.force_login(ops)
    upload = io.BytesIO(tar_of([*echo_entries(), ("../../escaped.txt", b"x")]))
    upload.name = "echo.tar.gz"
    response = client.post("/admin/bundles/bundle/publish/", {"archive": upload})
    assert response.status_code == 400
    assert "absolute paths and" in response.content.decode()
    assert not BundleVersion.objects.exists()


def test_developers_cannot_publish(client, dev):
    dev.is_staff = True
    dev.save()
    client.force_login(dev)
    assert client.get("/admin/bundles/bundle/publish/").status_code == 403


def test_a_published_version_never_changes_through_an_upload(client, ops):
    client.force_login(ops)
    for description in ("First.", "Changed."):
        entries = echo_entries()
        entries[0] = (entries[0][0], entries[0][1] + f"\nchangelog: {description}\n".encode())
        upload = io.BytesIO(tar_of(entries))
        upload.name = "echo.tar.gz"
        response = client.post("/admin/bundles/bundle/publish/", {"archive": upload})
    assert response.status_code == 400
    assert "a published version never changes" in response.content.decode()
    assert BundleVersion.objects.get(bundle__name="echo").changelog == "First."


def test_the_bundle_page_lists_versions_and_diffs_their_params_schemas(admin_client):
    client = admin_client
    for version, extra in (("1.0.0", ""), ("1.1.0", "      x-unit: copies\n")):
        entries = echo_entries(version=version)
        text = entries[0][1].decode().replace("      maximum: 10\n", "      maximum: 20\n" + extra)
        upload = io.BytesIO(tar_of([(entries[0][0], text.encode()), entries[1]]))
        upload.name = "echo.tar.gz"
        assert client.post("/admin/bundles/bundle/publish/", {"archive": upload}).status_code == 302
    old, new = BundleVersion.objects.get(version="1.0.0"), BundleVersion.objects.get(version="1.1.0")
    page = client.get(f"/admin/bundles/bundle/{new.bundle.pk}/change/").content.decode()
    assert "<code>1.1.0</code>, <code>1.0.0</code>" in page and "Compare the params schema" in page
    diff = client.get(f"/admin/bundles/bundle/{new.bundle.pk}/compare/?a={old.pk}&b={new.pk}").content.decode()
    assert "/properties/copies/x-unit" in diff and "added" in diff
