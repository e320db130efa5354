"""Issue 11, items 10 and 11: no input, however strange, makes the server fail; the API keeps its contract.

Each case was a 500 (or a silent wrong answer) before: NUL characters and lone surrogates, JSON nested
thousands deep, regexes that do not compile, infinite and huge numbers, archives with a duplicate member,
``offset=null``, state conflicts answered 400, an HTML answer to a body too large, an HTML 500 under /api/.
"""

from __future__ import annotations

import io
import json
import tarfile
import zipfile

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from bundles.archive import ArchiveError, extract
from deployments import services
from deployments.models import Deployment
from deployments.runs.services import run_cancel
from portal.inputs import json_depth, loads, value_problems
from portal.models import APIToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(dev):
    client = APIClient()
    _, key = APIToken.issue(user=dev, name="hostile")
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def post_json(api, url, raw: str | bytes, **extra):
    body = raw.encode() if isinstance(raw, str) else raw
    return api.generic("POST", url, body, content_type="application/json", **extra)


def assert_error(response, status: int, where: str | None = None):
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) >= {"message", "errors"} and body["message"], body
    if where is not None:
        assert where in body["errors"], body
    return body


# --- the one check ---------------------------------------------------------------------------


def test_value_problems_name_each_bad_value_by_pointer():
    problems = value_problems(
        {"ok": "fine", "nul": "a\x00b", "s": ["x", "\ud800"], "big": 10**4000, "inf": float("inf"), "k\x00": 1}
    )
    assert set(problems) == {"/nul", "/s/1", "/big", "/inf", ""}
    assert "NUL" in problems["/nul"][0] and "surrogate" in problems["/s/1"][0]
    assert "64" in " ".join(problems["/big"])
    assert value_problems({"a": [[[[1]]]]}, max_depth=3)


def test_json_depth_is_counted_without_recursion_and_ignores_brackets_in_strings():
    assert json_depth("[" * 100_000) == 100_000
    assert json_depth('{"a": "[[[[\\"[[", "b": [1, {"c": []}]}') == 4
    with pytest.raises(ValueError, match="nested deeper"):
        loads("[" * 50_000 + "]" * 50_000)
    with pytest.raises(ValueError, match="too many digits"):
        loads("1" * 4000)
    with pytest.raises(ValueError, match="finite"):
        loads('{"a": NaN}')


# --- item 10: NUL, surrogates, depth, numbers through every door ------------------------------


def test_api_json_body_with_nul_or_lone_surrogate_is_a_field_error(api, catalog, proto_env):
    body = {"environment": proto_env.pk, "name": "nul", "bundle": "echo", "params": {"message": "a\u0000b"}}
    assert_error(api.post("/api/v1/deployments/", body, format="json"), 400, "/params/message")
    raw = '{"environment": ENV, "name": "s", "bundle": "echo", "params": {"message": "\\ud800"}}'.replace(
        "ENV", str(proto_env.pk)
    )
    assert_error(post_json(api, "/api/v1/deployments/", raw), 400, "/params/message")
    raw = '{"environment": ENV, "name": "s", "bundle": "echo", "params": {"k\\u0000": "x"}}'.replace(
        "ENV", str(proto_env.pk)
    )
    assert_error(post_json(api, "/api/v1/deployments/", raw), 400, "/params")


@pytest.mark.parametrize("raw", ["[" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000])
def test_json_nested_too_deep_is_a_400_with_a_message(api, raw):
    body = assert_error(post_json(api, "/api/v1/deployments/", raw), 400)
    assert "nested deeper than 64" in body["message"]


@pytest.mark.parametrize(
    ("number", "words"), [("1e999", "finite"), ("-1e999", "finite"), ("1" + "0" * 4000, "too many digits")]
)
def test_json_numbers_that_are_infinite_or_huge_are_refused_before_the_engine(api, catalog, proto_env, number, words):
    raw = '{"environment": ENV, "name": "n", "bundle": "echo", "params": {"message": NUM}}'
    raw = raw.replace("ENV", str(proto_env.pk)).replace("NUM", number)
    body = assert_error(post_json(api, "/api/v1/deployments/", raw), 400)
    assert words in body["message"]
    assert not proto_env.deployments.exists()


def test_an_integer_beyond_64_bits_is_refused_by_the_service_whatever_the_door(dev, catalog, proto_env):
    with pytest.raises(services.ParamsInvalid) as refused:
        services.deployment_create(
            environment=proto_env, name="big", bundle_version=catalog["echo"], params={"message": 10**30}, actor=dev
        )
    assert "/message" in refused.value.errors


def test_a_body_over_the_limit_is_a_json_413(api, settings):
    settings.SLIPWAY_API_MAX_BODY_BYTES = 1000
    body = assert_error(post_json(api, "/api/v1/deployments/", json.dumps({"x": "y" * 5000})), 413)
    assert "1000 bytes" in body["message"]


@pytest.mark.parametrize(
    ("url", "where"),
    [
        ("/api/v1/deployments/?name=a%00b", "/query/name"),
        ("/api/v1/estate/?q=name:a%00", "/query/q"),
        ("/api/v1/deploy%00ments/", "/path"),
    ],
)
def test_query_strings_and_paths_with_nul_or_surrogates_are_400_not_500(api, url, where):
    assert_error(api.get(url), 400, where)


def test_an_encoded_surrogate_in_a_query_is_read_as_a_replacement_character_not_a_500(api):
    assert api.get("/api/v1/estate/?q=name:%ED%A0%80").status_code == 200


def test_a_page_with_nul_in_the_query_or_a_form_field_answers_400_with_the_field(dev_client, proto_env):
    response = dev_client.get("/deployments/?q=a%00")
    assert response.status_code == 400 and b"/query/q" in response.content
    response = dev_client.post("/accounts/tokens/", {"name": "bad\x00name"})
    assert response.status_code == 400 and b"/form/name" in response.content


def test_the_new_deployment_form_shows_a_bad_param_beside_its_field_and_keeps_the_rest(dev_client, catalog, proto_env):
    # (A lone surrogate cannot arrive in a form: Django decodes a post's bytes, replacing what is not UTF-8.)
    data = {
        "environment": proto_env.pk,
        "name": "kept-name",
        "reason": "kept reason",
        "param/message": "hello\x00world",
    }
    response = dev_client.post(reverse("deployments:new", args=["echo"]), data)
    page = response.content.decode()
    assert response.status_code == 400 and "<html" in page.lower()
    assert "It was removed: check the value and send it again." in page
    assert 'value="kept-name"' in page and 'value="kept reason"' in page
    assert 'value="helloworld"' in page  # the value, less what no field can hold
    assert not Deployment.objects.filter(name="kept-name").exists()
    data["param/message"] = "helloworld"
    assert dev_client.post(reverse("deployments:new", args=["echo"]), data).status_code == 302


def test_a_bad_form_field_beside_the_params_is_an_error_on_that_field(dev_client, dev, catalog, proto_env):
    deployment = services.deployment_create(
        environment=proto_env, name="kept", bundle_version=catalog["echo"], params={"message": "x"}, actor=dev
    )
    edit = reverse("deployments:edit", args=[deployment.pk])
    response = dev_client.post(edit, {"param/message": "changed", "reason": "why\x00not"})
    page = response.content.decode()
    assert response.status_code == 400 and "NUL character" in page
    assert 'value="changed"' in page and 'value="whynot"' in page
    deployment.refresh_from_db()
    assert deployment.params == {"message": "x"} and deployment.runs.count() == 1
    destroy = reverse("deployments:destroy", args=[deployment.pk])
    response = dev_client.post(destroy, {"confirm": "kept\x00", "reason": "done"})
    assert response.status_code == 200 and "NUL character" in response.content.decode()
    assert deployment.runs.count() == 1


# --- item 10: the estate query's regexes and numbers -----------------------------------------


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ('params.message~"[z-a]"', "range"),
        ('params.message~"abc\\\\"', "Not a regular expression"),
        ('params.message~"a{1000}{1000}"', "Repetition"),
        ("name~[z-a]", "range"),
        ("params.size:1e999", "not a finite number"),
        ("params.size>" + "9" * 30, "64-bit"),
        ("(" * 70 + "name:a" + ")" * 70, "nests"),
    ],
)
def test_estate_queries_that_cannot_run_are_400_with_a_message(api, query, words):
    body = assert_error(api.get("/api/v1/estate/", {"q": query}), 400, "/q")
    assert words in body["message"], body


def test_postgresql_regex_dialect_is_checked_by_the_database_itself(api):
    # Python's re accepts a named group; PostgreSQL's regex engine does not.
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's own regex dialect")
    assert_error(api.get("/api/v1/estate/", {"q": 'params.message~"(?P<x>a)"'}), 400, "/q")


# --- item 10: bundle archives ------------------------------------------------------------------


def _tar(members: list[tuple[str, bytes | None]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_an_archive_with_a_duplicate_member_is_refused_with_a_message(tmp_path):
    data = _tar([("bundle.yaml", b"a: 1"), ("bundle.yaml", b"a: 2")])
    with pytest.raises(ArchiveError, match="appears more than once"):
        extract(data, "b.tar.gz", tmp_path)


def test_an_archive_with_a_file_and_a_folder_of_one_name_is_refused(tmp_path):
    data = _tar([("bundle.yaml", b"a: 1"), ("src", b"x"), ("src/main.tf", b"")])
    with pytest.raises(ArchiveError, match="both a file and a folder"):
        extract(data, "b.tar.gz", tmp_path / "one")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("src/", "")
        archive.writestr("src", "x")
    (tmp_path / "two").mkdir()
    with pytest.raises(ArchiveError, match="both a file and a folder"):
        extract(out.getvalue(), "b.zip", tmp_path / "two")


def test_the_admin_upload_of_a_clashing_archive_answers_the_message_not_a_500(client, ops):
    client.force_login(ops)
    data = _tar([("bundle.yaml", b"a: 1"), ("bundle.yaml", b"a: 2")])
    upload = io.BytesIO(data)
    upload.name = "clash.tar.gz"
    response = client.post(reverse("admin:bundles_bundle_publish"), {"archive": upload})
    assert response.status_code == 400
    assert b"appears more than once" in response.content


# --- item 11: the API contract ------------------------------------------------------------------


@pytest.mark.parametrize("query", ["offset=null", "offset=-1", "limit=0", "limit=abc", "offset=1e3", "limit=%EF%BC%91"])
def test_pagination_parameters_are_strict(api, query):
    assert_error(api.get(f"/api/v1/deployments/?{query}"), 400)


def test_valid_pagination_still_pages(api):
    assert api.get("/api/v1/deployments/?limit=5&offset=0").status_code == 200


def test_finished_run_cancel_is_a_409(api, dev, catalog, proto_env):
    deployment = services.deployment_create(
        environment=proto_env, name="c", bundle_version=catalog["echo"], params={"message": "x"}, actor=dev
    )
    run = deployment.runs.get()
    run_cancel(run=run, actor=dev)
    assert_error(api.post(f"/api/v1/runs/{run.pk}/cancel/"), 409)


def test_an_apply_on_a_changed_configuration_is_a_409(api, dev, catalog, proto_env):
    deployment = services.deployment_create(
        environment=proto_env, name="v", bundle_version=catalog["echo"], params={"message": "x"}, actor=dev
    )
    body = {"params": {"message": "y"}, "expected_version": deployment.version - 1}
    assert (
        "someone else"
        in assert_error(api.post(f"/api/v1/deployments/{deployment.pk}/apply/", body, format="json"), 409)["message"]
    )


def test_idempotency_key_is_documented_as_it_is_enforced(api, catalog, proto_env):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    create = schema["paths"]["/api/v1/deployments/"]["post"]
    header = next(p for p in create["parameters"] if p["name"] == "Idempotency-Key")
    assert header["schema"]["pattern"] and "printable ASCII" in header["description"]
    for code in ("409", "413", "500"):
        assert create["responses"][code]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
    body = {"environment": proto_env.pk, "name": "k", "bundle": "echo", "params": {"message": "x"}}
    for bad in ("", " ", "x" * 256, "caf\u00e9"):
        headers = {"HTTP_IDEMPOTENCY_KEY": bad.encode().decode("latin-1")}
        assert_error(api.post("/api/v1/deployments/", body, format="json", **headers), 400, "/Idempotency-Key")


@override_settings(DEBUG=False)
def test_an_api_500_is_json_with_debug_off(dev, monkeypatch):
    from deployments.api import views

    def explode(self):
        raise RuntimeError("boom")

    monkeypatch.setattr(views.ProjectViewSet, "get_queryset", explode)
    client = Client(raise_request_exception=False)
    client.force_login(dev)
    response = client.get("/api/v1/projects/")
    body = assert_error(response, 500)
    assert "boom" not in body["message"]
    page = client.get("/deployments/?q=x", HTTP_ACCEPT="text/html")
    assert page.status_code == 200


@pytest.mark.parametrize("url", ["/api/v1/runs/?deployment=", "/api/v1/audit/events/?deployment="])
def test_a_uuid_filter_sent_empty_is_a_400_not_an_unfiltered_list(api, url):
    assert_error(api.get(url), 400, "/deployment")


@pytest.mark.parametrize("url", ["/api/v1/audit/events/?created_before=", "/api/v1/runs/?status="])
def test_a_typed_filter_sent_empty_is_a_400(api, url):
    assert_error(api.get(url), 400)


def test_a_loose_boolean_is_a_400(auditor):
    client = APIClient()
    client.force_authenticate(auditor)
    assert_error(client.get("/api/v1/audit/as-of/?include_destroyed=abc"), 400, "/include_destroyed")
    assert client.get("/api/v1/audit/as-of/?include_destroyed=true").status_code == 200


def test_the_api_reads_json_only(api, dev, catalog, proto_env):
    deployment = services.deployment_create(
        environment=proto_env, name="form", bundle_version=catalog["echo"], params={"message": "x"}, actor=dev
    )
    response = api.post(f"/api/v1/deployments/{deployment.pk}/apply/", {"auto_apply": ""}, format="multipart")
    assert_error(response, 415)


# --- item 11: a value of another JSON type than the schema states is a 400, not a guess ----------


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"reason": 0}, "/reason"),  # DRF would read "0"
        ({"auto_apply": "yes"}, "/auto_apply"),  # DRF would read true
        ({"auto_apply": 1}, "/auto_apply"),
        ({"expected_version": "1"}, "/expected_version"),  # DRF would read 1
        ({"expected_version": 1.0}, "/expected_version"),
        ({"expected_version": True}, "/expected_version"),
        ({"connections": {"network": 7}}, "/connections/network"),
        ({"connections": ["net"]}, "/connections"),
    ],
)
def test_a_body_value_of_another_json_type_than_the_schema_says_is_a_400(api, dev, catalog, proto_env, body, where):
    deployment = services.deployment_create(
        environment=proto_env, name="typed", bundle_version=catalog["echo"], params={"message": "x"}, actor=dev
    )
    response = api.post(f"/api/v1/deployments/{deployment.pk}/apply/", body, format="json")
    assert_error(response, 400, where)
    assert deployment.runs.count() == 1


def test_a_related_id_sent_as_a_string_is_a_400(api, catalog, proto_env):
    body = {"environment": str(proto_env.pk), "name": "typed", "bundle": "echo", "params": {"message": "x"}}
    assert_error(api.post("/api/v1/deployments/", body, format="json"), 400, "/environment")
    body["environment"] = proto_env.pk
    assert api.post("/api/v1/deployments/", body, format="json").status_code == 201


def test_request_bodies_that_name_what_is_not_there_or_mistype_it_are_field_errors(api, catalog, proto_env, project):
    """A reference in a body to nothing the user can see is the body's fault (400 on that field), not a 404
    of the URL; and the environment actions read JSON types as strictly as every other body."""
    missing = api.post(
        "/api/v1/exceptions/",
        {"deployment": "00000000-0000-0000-0000-000000000000", "params": {}, "reason": "why"},
        format="json",
    )
    assert missing.status_code == 400 and "/deployment" in missing.json()["errors"]
    fork = api.post(f"/api/v1/environments/{proto_env.pk}/fork/", {"project": "checkout", "slug": 0}, format="json")
    assert fork.status_code == 400 and "/slug" in fork.json()["errors"]
    assert not proto_env.project.environments.exclude(pk=proto_env.pk).exists()
