"""The estate query language: the grammar (every operator, every field kind, error positions), what it
selects from the database, who sees what, and the page, CSV, saved queries and API around it."""

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse

from deployments.estate.dimensions import param_dimensions, suggestions
from deployments.estate.query import And, Comparison, Not, Or, QueryError, parse
from deployments.models import Deployment, SavedQuery, StateResource

# --- grammar ----------------------------------------------------------------------------------


def test_it_parses_field_value_with_every_operator():
    for op in (":", "<", ">", "<=", ">=", "~"):
        node = parse(f"params.size{op}3")
        assert node == Comparison("params.size", op, "3", "3", False, 0)


def test_it_parses_quoted_strings_with_spaces_and_escapes():
    node = parse(r'params.message:"hello world \"quoted\""')
    assert node.value == 'hello world "quoted"' and node.quoted


def test_terms_side_by_side_are_and_and_or_needs_parentheses_to_group():
    node = parse("bundle:echo (team:payments OR team:search) -status:live")
    assert isinstance(node, And)
    first, group, negated = node.nodes
    assert first.field == "bundle"
    assert isinstance(group, Or) and [c.value for c in group.nodes] == ["payments", "search"]
    assert isinstance(negated, Not) and negated.node.field == "status"


def test_or_binds_looser_than_and():
    node = parse("bundle:a env:x OR bundle:b")
    assert isinstance(node, Or)
    assert isinstance(node.nodes[0], And) and node.nodes[1].field == "bundle"


def test_a_group_can_be_negated():
    node = parse("-(env.tier:production OR env.tier:staging)")
    assert isinstance(node, Not) and isinstance(node.node, Or)


@pytest.mark.parametrize(
    "field",
    [
        "name",
        "bundle",
        "version",
        "env",
        "env.tier",
        "project",
        "team",
        "status",
        "params.a",
        "params.a.b.c",
        "outputs.endpoint",
        "resource.aws_db_instance.instance_class",
        "resource.terraform_data.input.message",
    ],
)
def test_it_knows_every_field_kind(field):
    assert parse(f"{field}:x").field == field


def test_an_empty_query_selects_everything():
    assert parse("") is None and parse("   ") is None


@pytest.mark.parametrize(
    ("text", "position", "words"),
    [
        ("bundle:", 7, "value is expected"),
        ("bundle:echo (team:a", 19, "inside a group"),
        ("team:a OR", 9, "after an operator"),
        ('name:"unclosed', 5, "Unclosed quote"),
        ("bundle:echo )", 12, "Unexpected `)`"),
        ("status live", 7, "Expected an operator"),
        ("size=3", 4, "Unexpected `=`"),
        ("colour:blue", 0, "Unknown field `colour`"),
        ("bundle:echo cost:1", 12, "Unknown field `cost`"),
        ("params:1", 0, "incomplete"),
        ("resource.aws_instance:1", 0, "incomplete"),
        ("team<3", 0, "cannot be compared"),
        ("version>banana", 0, "not a version"),
        ("params.size>=null", 0, "can only be matched with `:`"),
        ("resource.aws_db.engine<null", 0, "can only be matched with `:`"),
    ],
)
def test_errors_give_their_position_and_a_hint(text, position, words):
    with pytest.raises(QueryError) as caught:
        parse(text)
    assert caught.value.position == position, caught.value.as_dict()
    assert words in caught.value.message
    assert caught.value.hint


# --- what queries select ----------------------------------------------------------------------


@pytest.fixture
def estate(catalog, proto_env, prod_env, other_env):
    echo, trip = catalog["echo"], catalog["tripwire"]

    def make(env, name, version, params, outputs=None, status="live"):
        return Deployment.objects.create(
            environment=env, name=name, bundle_version=version, params=params, outputs=outputs or {}, status=status
        )

    return {
        "api": make(proto_env, "api", echo, {"message": "hello r6g.large", "copies": 2}, {"url": "https://api"}),
        "worker": make(prod_env, "worker", echo, {"message": "bye", "copies": 5}, status="failed"),
        "nested": make(prod_env, "nested", trip, {"message": "x", "labels": {"team": "core", "cost": "high"}}),
        "text-num": make(proto_env, "text-num", trip, {"message": "y", "size": "3"}),
        "search": make(other_env, "search", echo, {"message": "hello", "copies": 1}),
    }


def names(text):
    from deployments.estate.query import estate_query

    return sorted(estate_query(text).filter(Deployment.objects.all()).values_list("name", flat=True))


def test_plain_fields_select_by_bundle_env_tier_project_team_status_and_name(estate):
    assert names("bundle:echo") == ["api", "search", "worker"]
    assert names("env.tier:production") == ["nested", "worker"]
    assert names("env:proto project:checkout") == ["api", "text-num"]
    assert names("team:search") == ["search"]
    assert names("status:failed") == ["worker"]
    assert names("name~^text") == ["text-num"]
    assert names("version:1.0.0 bundle:tripwire") == ["nested", "text-num"]


def test_version_comparisons_follow_semver(estate):
    assert names("version<1.0.1 bundle:echo") == ["api", "search", "worker"]
    assert names("version>1.0.0") == []
    assert names("version>=1.0.0 version<=1.0.0 bundle:tripwire") == ["nested", "text-num"]


def test_params_equality_range_and_contains(estate):
    assert names("params.copies:2") == ["api"]
    assert names("params.copies>=2") == ["api", "worker"]
    assert names("params.copies<2") == ["search"]
    assert names("params.copies>2 OR params.copies<=1") == ["search", "worker"]
    assert names("params.message~R6G") == ["api"]  # contains, case-insensitive
    assert names("params.message~^h.*o$") == ["search"]  # a regex when it has regex characters
    assert names('params.message:"hello r6g.large"') == ["api"]


def test_a_bare_number_also_matches_the_same_number_stored_as_text(estate):
    assert names("params.size:3") == ["text-num"]
    assert names('params.size:"3"') == ["text-num"]


def test_nested_paths_and_outputs(estate):
    assert names("params.labels.team:core") == ["nested"]
    assert names("params.labels.cost~hi") == ["nested"]
    assert names("outputs.url~api") == ["api"]
    assert names("params.labels.team:*") == ["nested"]


def test_negation_includes_deployments_that_lack_the_key(estate):
    assert names("-params.copies:5") == ["api", "nested", "search", "text-num"]
    assert names("-bundle:echo") == ["nested", "text-num"]
    assert names("bundle:echo -(team:search OR status:failed)") == ["api"]


def test_resource_attributes_read_the_index(estate):
    StateResource.objects.create(
        deployment=estate["api"],
        address="aws_db_instance.main",
        type="aws_db_instance",
        attributes={"instance_class": "db.r6g.large", "storage_encrypted": False, "tags": {"team": "core"}},
    )
    StateResource.objects.create(
        deployment=estate["worker"],
        address="aws_db_instance.main",
        type="aws_db_instance",
        attributes={"instance_class": "db.m5.large", "storage_encrypted": True},
    )
    assert names("resource.aws_db_instance.instance_class~r6g") == ["api"]
    assert names("resource.aws_db_instance.storage_encrypted:false") == ["api"]
    assert names("resource.aws_db_instance.tags.team:core") == ["api"]
    assert names("-resource.aws_db_instance.storage_encrypted:true bundle:echo") == ["api", "search"]
    assert names("resource.aws_s3_bucket.versioning:true") == []


# --- dimensions and autocomplete --------------------------------------------------------------


def test_dimensions_list_every_param_path_across_versions_with_type_and_samples(estate):
    dims = {d.path: d for d in param_dimensions(deployments=Deployment.objects.all())}
    assert dims["params.copies"].type == "integer" and set(dims["params.copies"].bundles) == {"echo"}
    assert 2 in dims["params.copies"].samples
    assert dims["params.labels"].type == "object"
    assert "core" in dims["params.labels.team"].samples  # seen in a deployment, though the schema has no such key
    assert "params.api_key" not in dims  # x-sensitive: only masks are stored, nothing to query
    assert "outputs.url" in dims


def test_autocomplete_completes_field_names_then_values(estate):
    dims = param_dimensions(deployments=Deployment.objects.all())
    everyone = Deployment.objects.all()
    assert "bundle:echo params.copies:" in suggestions("bundle:echo params.cop", dims, everyone)
    assert "env.tier:production" in suggestions("env.tier:pro", dims, everyone)
    assert "-bundle:tripwire" in suggestions("-bundle:tr", dims, everyone)
    assert 'params.message:"hello r6g.large"' in suggestions("params.message:hello", dims, everyone)


# --- page, CSV, saved queries and API ----------------------------------------------------------


def test_developers_see_only_their_teams_deployments(client, dev, estate):
    client.force_login(dev)
    response = client.get(reverse("deployments:estate"), {"q": "bundle:echo"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "api" in body and "worker" in body
    assert ">search<" not in body


def test_the_page_shows_matched_values_and_links_to_csv_and_itself(client, ops, estate):
    client.force_login(ops)
    response = client.get(reverse("deployments:estate"), {"q": "params.copies>=2"})
    body = response.content.decode()
    assert "2</strong> deployments match" in body
    assert "echo@1.0.0" in body and "params.copies" in body
    assert "format=csv" in body and "q=params.copies%3E%3D2" in body


def test_a_bad_query_shows_where_and_why(client, dev, estate):
    client.force_login(dev)
    body = client.get(reverse("deployments:estate"), {"q": "team:payments OR"}).content.decode()
    assert "The query ends after an operator." in body and "column 17" in body


def test_csv_export_has_a_row_per_match_with_the_matched_values(client, ops, estate):
    client.force_login(ops)
    response = client.get(reverse("deployments:estate"), {"q": "params.labels.team:*", "format": "csv"})
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][-1] == "params.labels.team"
    assert rows[1][0] == "nested" and rows[1][-1] == "core" and len(rows) == 2


def test_saved_queries_belong_to_their_owner_unless_shared(client, dev, teammate, estate):
    client.force_login(dev)
    client.post(reverse("deployments:estate-saved-save"), {"name": "big echo", "q": "params.copies>=2"})
    client.post(reverse("deployments:estate-saved-save"), {"name": "shared one", "q": "bundle:echo", "shared": "1"})
    client.post(reverse("deployments:estate-saved-save"), {"name": "broken", "q": "bundle:"})
    assert set(SavedQuery.objects.values_list("name", flat=True)) == {"big echo", "shared one"}
    other = Client()
    other.force_login(teammate)
    body = other.get(reverse("deployments:estate")).content.decode()
    assert "shared one" in body and "big echo" not in body
    mine = SavedQuery.objects.get(name="big echo")
    assert other.post(reverse("deployments:estate-saved-delete", args=[mine.pk])).status_code == 404


def test_the_api_answers_queries_scoped_to_the_caller(client, dev, estate):
    client.force_login(dev)
    response = client.get("/api/v1/estate/", {"q": "params.copies>=1"})
    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 2
    assert {r["name"]: r["matched"] for r in data["results"]} == {
        "api": {"params.copies": 2},
        "worker": {"params.copies": 5},
    }
    bad = client.get("/api/v1/estate/", {"q": "(team:payments"})
    assert bad.status_code == 400 and bad.json()["query_error"]["position"] == 14


def test_the_suggest_endpoint_fills_the_datalist(client, dev, estate):
    client.force_login(dev)
    body = client.get(
        reverse("deployments:estate-suggest"), {"q": "params.me"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert '<option value="params.message:">' in body
