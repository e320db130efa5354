"""Unpacking an uploaded bundle archive (.tar.gz or .zip) without trusting it.

Every member is checked before anything is written: no absolute paths, no ``..``, no links or
device files, at most ``MAX_FILES`` files and ``MAX_BYTES`` bytes once unpacked (counted while
reading, never taken from the archive's own headers). Files are written one by one into a fresh
directory the caller owns (a temporary one), each path checked to stay inside it.
"""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from portal.inputs import text_problem

MAX_FILES = 500
MAX_BYTES = 20 * 1024 * 1024
CHUNK = 64 * 1024


class ArchiveError(Exception):
    """An archive refused; ``problems`` name each offending member."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def _safe_name(name: str) -> PurePosixPath | None:
    """The member's relative path, or None when it is absolute or climbs out with ``..``."""
    if not name or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or "\\" in name:
        return None
    path = PurePosixPath(name)
    if any(part == ".." for part in path.parts):
        return None
    parts = [p for p in path.parts if p not in ("", ".")]
    return PurePosixPath(*parts) if parts else None


def _clashes(files: list[PurePosixPath], folders: set[PurePosixPath]) -> list[str]:
    """A path held twice, or both a file and a folder (``src`` and ``src/main.tf``): which one would win
    depends on the order of unpacking, so the archive is refused."""
    problems = []
    seen: set[PurePosixPath] = set()
    for path in files:
        if path in seen:
            problems.append(f"{str(path)!r}: appears more than once in the archive")
        seen.add(path)
    parents = {parent for path in files for parent in path.parents} | folders
    for path in sorted(seen & parents):
        problems.append(f"{str(path)!r}: is both a file and a folder in the archive")
    return problems


def _members(data: bytes, filename: str):
    """(name, kind, opener) for each member; kind is "file", "dir" or a refusal reason."""
    lower = filename.lower()
    if lower.endswith(".zip") or data[:4] == b"PK\x03\x04":
        archive = zipfile.ZipFile(io.BytesIO(data))
        for info in archive.infolist():
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                yield info.filename, "a symbolic link", None
            elif info.is_dir():
                yield info.filename, "dir", None
            elif stat.S_IFMT(mode) and not stat.S_ISREG(mode):  # many zip tools store permission bits only
                yield info.filename, "not a regular file", None
            else:
                yield info.filename, "file", (lambda info=info: archive.open(info))
        return
    if lower.endswith((".tar.gz", ".tgz")) or data[:2] == b"\x1f\x8b":
        # Left open: members are read after listing; the in-memory file needs no closing.
        archive = tarfile.open(fileobj=io.BytesIO(data), mode="r:gz")  # noqa: SIM115
        for member in archive.getmembers():
            if member.issym() or member.islnk():
                yield member.name, "a link", None
            elif member.isdir():
                yield member.name, "dir", None
            elif not member.isfile():
                yield member.name, "not a regular file", None
            else:
                yield member.name, "file", (lambda member=member: archive.extractfile(member))
        return
    raise ArchiveError([f"{filename}: not a .tar.gz or .zip archive"])


def extract(data: bytes, filename: str, dest: Path) -> Path:
    """Unpack ``data`` into the empty directory ``dest``; return the bundle's root (the folder holding bundle.yaml)."""
    dest = dest.resolve()
    try:
        members = list(_members(data, filename))
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise ArchiveError([f"{filename}: cannot read the archive ({exc})"]) from exc
    problems = []
    files = []
    folders: set[PurePosixPath] = set()
    for name, kind, opener in members:
        safe = _safe_name(name)
        if text_problem(name):
            problems.append(f"{name!r}: {text_problem(name)}")
        elif safe is None:
            problems.append(f"{name!r}: absolute paths and '..' are not allowed")
        elif kind not in ("file", "dir"):
            problems.append(f"{name!r}: {kind}; an archive may hold only plain files and folders")
        elif kind == "file":
            files.append((safe, opener))
        else:
            folders.add(safe)
    problems += _clashes([safe for safe, _ in files], folders)
    if len(files) > MAX_FILES:
        problems.append(f"{len(files)} files, over the limit of {MAX_FILES}")
    if problems:
        raise ArchiveError(problems)
    total = 0
    for safe, opener in files:
        target = (dest / safe).resolve()
        if not target.is_relative_to(dest):
            raise ArchiveError([f"{safe}: would be written outside the upload folder"])
        target.parent.mkdir(parents=True, exist_ok=True)
        with opener() as source, open(target, "xb") as out:
            while chunk := source.read(CHUNK):
                total += len(chunk)
                if total > MAX_BYTES:
                    raise ArchiveError([f"more than {MAX_BYTES} bytes once unpacked"])
                out.write(chunk)
    if (dest / "bundle.yaml").is_file():
        return dest
    roots = [p for p in dest.iterdir() if p.is_dir() and (p / "bundle.yaml").is_file()]
    if len(roots) == 1 and len(list(dest.iterdir())) == 1:
        return roots[0]
    raise ArchiveError(["no bundle.yaml at the top of the archive (or inside its single top-level folder)"])
