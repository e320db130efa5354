"""The estate's inverted index (``EstateTerm``/``EstatePosting``, kept by triggers) answers ``~``, ``<`` ``>`` and
resource conditions exactly as the JSON lookups it replaces: every query below runs both ways, on data chosen
to trip them (regex characters, case, nested paths and lists, keys with dots, numbers against text, null,
objects where a scalar is expected, several resources, destroyed deployments, team scoping), and the index
follows every writer (save, update, delete, a new state)."""

import pytest
from django.db import connection
from django.db.models import Q

from deployments.estate import query as estate_query_module
from deployments.estate.index import index_state_resources
from deployments.estate.query import deployments_matching, estate_query
from deployments.models import Deployment, EstatePosting, StateResource

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="the index is PostgreSQL's")

PARAMS = {
    "regex": {"message": "a.b*c [br] x+y back\\slash", "size": 3, "flag": True, "zones": ["eu-1", "us-2"]},
    "case": {"message": "Hello R6G.Large", "size": "3", "flag": False, "zones": {"0": "obj-zero", "1": "obj-one"}},
    "nested": {
        "message": 'quote"d 100%_done',
        "size": 3.0,
        "labels": {"team": "core", "cost": "high", "deep": {"n": 7, "list": [1, "two", None, {"x": 1}]}},
        "a.b": "dotted key",
        "a": {"b": "real path"},
    },
    "numbers": {"message": "numbers", "size": -2, "big": 2**62, "float": 1e3, "nothing": None, "empty": []},
    "objects": {"message": "objects", "size": {"gb": 10}, "flag": [1, 2], "empty": {}},
    "unicode": {"message": "Straße ÄÖÜ ĳ", "size": 1000, "long": "x" * 600},
    "gone": {"message": "destroyed r6g", "size": 99},
}
OUTPUTS = {"regex": {"url": "https://api.internal", "port": 443}, "nested": {"url": "HTTPS://NESTED", "list": ["a"]}}
RESOURCES = {
    "regex": [
        ("aws_db_instance", {"instance_class": "db.r6g.large", "storage_encrypted": False, "allocated": 3}),
        ("aws_db_instance", {"instance_class": "db.m5.xlarge", "storage_encrypted": True, "allocated": "3"}),
    ],
    "case": [
        ("aws_db_instance", {"instance_class": "DB.R6G.2XLARGE", "storage_encrypted": "false", "tags": {"t": "a.b"}}),
        ("terraform_data", {"input": {"message": "hello", "list": ["x", 2]}, "storage_encrypted": False}),
    ],
    "nested": [("aws_db_instance", {"instance_class": None, "allocated": 3.5, "tags": {"team": "core"}})],
    "gone": [("aws_db_instance", {"instance_class": "db.r6g.large", "storage_encrypted": False})],
}

QUERIES = [
    # `~`: substring (case-insensitive, LIKE characters literal) and regular expressions
    "params.message~R6G",
    "params.message~r6g.large",
    "params.message~%_done",
    "params.message~100%",
    "params.message~_",
    'params.message~"a\\.b\\*c"',
    'params.message~"\\[br\\]"',
    'params.message~"x\\+y"',
    'params.message~"back\\\\slash"',
    'params.message~"quote\\"d"',
    "params.message~^hello",
    'params.message~"^(numbers|objects)$"',
    "params.message~straSSe",
    "params.message~straße",
    "params.message~äöü",
    "params.size~3",
    "params.size~^3$",
    "params.flag~true",
    "params.zones~eu",
    "params.zones.0~eu",
    "params.zones.0~obj",
    "params.zones.1~^us",
    "params.zones.01~us",
    "params.zones.-1~us",
    "params.labels~core",
    'params.labels~"\\"team\\""',
    "params.labels.deep~list",
    "params.labels.deep.list.1~two",
    "params.labels.deep.list.3.x~1",
    "params.a.b~path",
    "params.a.b~dotted",
    "params.nothing~null",
    "params.long~xxx",
    "params.empty~\\[\\]",
    "params.message~e",
    "outputs.url~https",
    "outputs.url~^https://[a-z]+$",
    "outputs.port~44",
    "outputs.list.0~a",
    # comparisons: jsonb order (numbers, text, booleans, null, objects and lists)
    "params.size>2",
    "params.size>=3",
    "params.size<3",
    "params.size<=3.0",
    "params.size>2.5",
    "params.size<-1",
    "params.size>999",
    "params.size>=1e3",
    'params.size>"2"',
    'params.size<"4"',
    "params.size<true",
    "params.flag>false",
    "params.flag>=true",
    "params.flag<1",
    "params.big>4611686018427387903",
    "params.big>=4611686018427387904",
    "params.float>=1000",
    "params.empty<0",
    "params.empty>0",
    "params.labels.deep.n>6",
    "params.labels.deep.list.0<2",
    "params.zones.1>a",
    "params.long>a",
    "outputs.port>=443",
    # resources: equality (a number also finds its text), comparisons, `~`, nested, lists, null
    "resource.aws_db_instance.storage_encrypted:false",
    'resource.aws_db_instance.storage_encrypted:"false"',
    "resource.aws_db_instance.storage_encrypted:true",
    "resource.aws_db_instance.allocated:3",
    'resource.aws_db_instance.allocated:"3"',
    "resource.aws_db_instance.allocated:3.5",
    "resource.aws_db_instance.allocated>=3",
    "resource.aws_db_instance.allocated<3.5",
    "resource.aws_db_instance.instance_class:null",
    "resource.aws_db_instance.instance_class:db.r6g.large",
    "resource.aws_db_instance.instance_class:DB.R6G.LARGE",
    "resource.aws_db_instance.instance_class~r6g",
    'resource.aws_db_instance.instance_class~"^db\\.r6g\\.(x|2x)?large$"',
    "resource.aws_db_instance.instance_class:*",
    "resource.aws_db_instance.tags.team:core",
    "resource.aws_db_instance.tags.t:a.b",
    "resource.aws_db_instance.tags~team",
    "resource.terraform_data.input.message:hello",
    "resource.terraform_data.input.list.1:2",
    "resource.terraform_data.input.list.0~x",
    "resource.terraform_data.storage_encrypted:false",
    "resource.aws_s3_bucket.versioning:true",
    # in combination: negated (a missing path included), OR, AND with plain fields
    "-params.size>2",
    "-params.message~r6g",
    "-resource.aws_db_instance.storage_encrypted:false",
    "-resource.aws_db_instance.instance_class~r6g bundle:echo",
    "params.size>=3 OR params.message~objects",
    "(params.size>=3 OR resource.aws_db_instance.allocated:3) -params.flag:true",
    "params.message~r6g status:destroyed",
    "params.message~r6g -status:live",
    "resource.aws_db_instance.instance_class~r6g env.tier:production",
    "team:search params.size<10",
]


def _resources(deployment, rows):
    for i, (kind, attributes) in enumerate(rows):
        StateResource.objects.create(deployment=deployment, address=f"{kind}.r{i}", type=kind, attributes=attributes)


@pytest.fixture
def tricky(catalog, proto_env, prod_env, other_env):
    echo, trip = catalog["echo"], catalog["tripwire"]
    envs = {"regex": proto_env, "case": prod_env, "nested": prod_env, "numbers": other_env, "gone": proto_env}
    made = {}
    for name, params in PARAMS.items():
        made[name] = Deployment.objects.create(
            environment=envs.get(name, proto_env),
            name=name,
            bundle_version=echo if name in ("regex", "numbers", "gone") else trip,
            params=params,
            outputs=OUTPUTS.get(name, {}),
            status="destroyed" if name == "gone" else "live",
        )
        _resources(made[name], RESOURCES.get(name, []))
    return made


def _names(text, *, indexed=True, user=None, monkeypatch=None):
    if not indexed:
        monkeypatch.setattr(estate_query_module, "_indexed_leaf", lambda *args, **kwargs: None)
    try:
        if user is not None:
            _, qs = deployments_matching(user=user, text=text)
        else:
            qs = estate_query(text).filter(Deployment.objects.all())
        return sorted(qs.values_list("name", flat=True))
    finally:
        monkeypatch.undo() if monkeypatch is not None else None


def _both(text, monkeypatch, user=None):
    with monkeypatch.context() as m:
        old = _names(text, indexed=False, user=user, monkeypatch=m)
    return _names(text, user=user), old


def test_the_index_answers_as_the_json_lookups_do(tricky, monkeypatch):
    # one test for every query (the fixture's catalog takes seconds to publish)
    differ = {}
    for text in QUERIES:
        new, old = _both(text, monkeypatch)
        if new != old:
            differ[text] = (new, old)
    assert differ == {}
    # and the data trips them: most queries find something, not all the same
    found = {text: tuple(_names(text)) for text in QUERIES}
    assert sum(1 for names in found.values() if names) > len(QUERIES) * 2 // 3
    assert found["params.message~%_done"] == ("nested",) and found["params.message~_"] == ("nested",)
    assert found["params.a.b~dotted"] == () and found["params.a.b~path"] == ("nested",)
    assert found["params.size<true"] == ("case", "gone", "nested", "numbers", "regex", "unicode")


def test_the_shapes_it_can_answer_read_the_index_and_the_others_the_json_columns(tricky):
    def sql(text):
        return str(estate_query(text).filter(Deployment.objects.all()).query)

    for text in ("params.message~r6g", "outputs.url~^https", "resource.aws_db_instance.instance_class~r6g"):
        assert "estateposting" in sql(text), text
    # comparisons and resource conditions, while few deployments hold the values (here: a small estate)
    for text in ("params.size>=3", "outputs.port<500", "resource.aws_db_instance.allocated:3"):
        assert "estateposting" in sql(text), text
    for text in ("resource.aws_db_instance.allocated>=3", "-resource.aws_db_instance.storage_encrypted:false"):
        assert "estateposting" in sql(text), text
    # equality has the GIN index; a path the index reads differently, `:*`: the JSON columns
    for text in ("params.size:3", "params.zones.01~us", "params.0~x", "resource.x.tags:*"):
        assert "estateposting" not in sql(text), text


def test_values_most_deployments_hold_are_read_from_the_json_columns(tricky, monkeypatch):
    # a comparison every deployment passes read the postings 2.5x slower than the JSON (bench/estate_query.py);
    # the planner's statistics say how many hold the values
    with connection.cursor() as cursor:  # (the tables' sizes outlive the test's rollback: the floor covers others)
        cursor.execute("ANALYZE deployments_deployment, deployments_estateposting")
    monkeypatch.setattr(estate_query_module, "POSTINGS_FLOOR", 0)

    def sql(text):
        return str(estate_query(text).filter(Deployment.objects.all()).query)

    rare = ("params.size>=1000", "resource.terraform_data.input.message:hello")  # one or two of seven
    assert all("estateposting" in sql(text) for text in rare)
    monkeypatch.setattr(estate_query_module, "POSTINGS_SHARE", 0.1)  # now one deployment is "most" of them
    assert not any("estateposting" in sql(text) for text in rare)
    assert "estateposting" in sql("resource.terraform_data.input.message~hello")  # `~` reads the index always
    assert _names("params.size>=1000") == ["objects", "unicode"]  # (an object sorts after any number)


def test_scoping_and_destroyed_deployments_are_unchanged(tricky, dev, ops, monkeypatch):
    for user in (dev, ops):
        for text in ("params.message~r6g", "params.size>=0", "resource.aws_db_instance.storage_encrypted:false"):
            new, old = _both(text, monkeypatch, user=user)
            assert new == old, (user, text)
    assert _names("params.message~r6g", user=dev) == ["case"]
    assert _names("params.message~r6g status:destroyed", user=dev) == ["gone"]


def _postings(deployment, source):
    return EstatePosting.objects.filter(deployment=deployment, source=source).count()


def test_the_index_follows_every_writer(tricky, monkeypatch):
    regex = tricky["regex"]
    # save()
    regex.params = {**regex.params, "message": "now m7g", "size": 50}
    regex.save()
    assert _names("params.message~m7g") == ["regex"] and "regex" not in _names("params.message~r6g")
    # QuerySet.update(), params and outputs separately
    Deployment.objects.filter(pk=tricky["case"].pk).update(params={"message": "updated", "size": [1]})
    Deployment.objects.filter(pk=tricky["nested"].pk).update(outputs={"url": "gopher://x"})
    assert _names("params.message~^updated$") == ["case"]
    assert _names("outputs.url~gopher") == ["nested"]
    assert _postings(tricky["case"], "p") == 3  # message, size, size.0
    # a new state rewrites the resources; a deleted resource takes its postings along
    index_state_resources(
        deployment=tricky["case"],
        state={
            "resources": [
                {
                    "mode": "managed",
                    "type": "aws_db_instance",
                    "name": "main",
                    "instances": [{"attributes": {"instance_class": "db.x2.huge", "storage_encrypted": True}}],
                }
            ]
        },
    )
    assert _names("resource.aws_db_instance.instance_class~x2") == ["case"]
    assert _names("resource.terraform_data.input.message:hello") == []
    StateResource.objects.filter(deployment=tricky["regex"]).update(attributes={"allocated": 9})
    assert _names("resource.aws_db_instance.allocated>=9") == ["regex"]
    StateResource.objects.filter(deployment=tricky["regex"]).delete()
    assert EstatePosting.objects.filter(deployment=tricky["regex"], source="r").count() == 0
    # a deleted deployment takes its postings along
    gone = tricky["gone"]
    gone.state_resources.all().delete()
    gone.delete()
    assert not EstatePosting.objects.filter(deployment_id=gone.pk).exists()
    # and after all that, the index still answers as the JSON columns do
    for text in QUERIES:
        new, old = _both(text, monkeypatch)
        assert new == old, text


def test_comparisons_and_equality_through_the_index_answer_as_the_json_lookups_do(tricky):
    # (the compiler reads the index for `~` only, the bench finding the rest no faster; its comparisons and
    # equality must still agree with the JSON lookups on the tricky values, params, outputs and resources)
    from deployments.estate.query import Comparison, _indexed_leaf, _json_leaf, parse

    checked = 0
    for text in QUERIES:
        c = parse(text)
        if not isinstance(c, Comparison):
            continue
        root, _, rest = c.field.partition(".")
        if c.op == "~" or root not in ("params", "outputs", "resource") or (c.raw == "*" and not c.quoted):
            continue
        if root == "resource":
            kind, _, attr = rest.partition(".")
            indexed = _indexed_leaf("r", kind, attr.split("."), c, equality=True)
            rows = StateResource.objects.filter(_json_leaf(f"attributes__{'__'.join(attr.split('.'))}", c), type=kind)
            lookup = Q(pk__in=rows.values("deployment_id"))
        else:
            indexed = _indexed_leaf(root[0], "", rest.split("."), c, equality=False)
            lookup = _json_leaf(f"{root}__{'__'.join(rest.split('.'))}", c)
        if indexed is None:
            continue
        old = sorted(Deployment.objects.filter(lookup).values_list("name", flat=True))
        new = sorted(Deployment.objects.filter(indexed).values_list("name", flat=True))
        assert new == old, text
        checked += 1
    assert checked >= 35


def test_a_key_longer_than_any_query_is_stored_but_not_indexed(tricky):
    long_key = "k" * 3000
    d = tricky["regex"]
    d.params = {"message": "long key", long_key: "v"}
    d.save()
    assert _names("params.message~^long") == ["regex"]
    assert EstatePosting.objects.filter(deployment=d, source="p").count() == 1


def _term_rows_read() -> int:
    """Rows of the term table this transaction has read so far, by index or by scan (PostgreSQL's own count)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(idx_tup_fetch, 0) + coalesce(seq_tup_read, 0) FROM pg_stat_xact_user_tables "
            "WHERE relname = 'deployments_estateterm'"
        )
        row = cursor.fetchone()
    return row[0] if row else 0


def test_a_write_of_many_deployments_reads_each_term_once(catalog, proto_env):
    # One statement writing 2,000 deployments with values of their own: the triggers used to look every
    # value up among all of its path's values (a plan made while the table was small), reading millions of
    # term rows here and hours for 100k deployments. Now one probe of the unique index per value.
    many = 2000
    before = _term_rows_read()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO deployments_deployment (id, environment_id, name, bundle_version_id, params, outputs, "
            "connections, status, version, created_at, updated_at, cost_currency) "
            "SELECT md5('bulk' || i)::uuid, %s, 'bulk-' || i, %s, "
            "jsonb_build_object('size', i, 'name', 'n' || i, 'nested', jsonb_build_object('k', i)), "
            "jsonb_build_object('endpoint', 'e' || i), '{}'::jsonb, 'live', 1, now(), now(), '' "
            "FROM generate_series(1, %s) i",
            [proto_env.pk, catalog["echo"].pk, many],
        )
    values = EstatePosting.objects.filter(deployment__name__startswith="bulk-").count()
    assert values == many * 5  # size, name, nested, nested.k, endpoint
    assert _term_rows_read() - before <= 2 * values
    # and the index answers for them as the JSON columns do
    assert _names("params.name~^n1999$") == ["bulk-1999"]
    assert _names("outputs.endpoint~^e7$") == ["bulk-7"]
