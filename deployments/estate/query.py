"""The estate as a database: a small query language over every live configuration.

``bundle:postgres env.tier:production params.storage.encrypted:false`` or
``params.instance_class~r6g (team:payments OR team:search)`` parse with lark into a tree, and
the tree compiles to one Django ``Q`` over deployments: plain columns for ``bundle``, ``env`` and
friends, key transforms on the JSON ``params`` and ``outputs`` (GIN-indexed on PostgreSQL, the
JSON1 functions on SQLite), and an ``EXISTS`` over :class:`StateResource`, the small index of
non-sensitive resource attributes written each time the engine stores a new state.

The language is documented in ``docs/query.md``; keep the two in step.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import DatabaseError, connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL
from jsonpointer import JsonPointer
from lark import Lark, Token, Transformer, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from bundles import semver

from ..choices import DeploymentStatus
from ..drift.models import DriftCheck, DriftStatus
from ..models import Artifact, Deployment, Environment, EstatePosting, EstateTerm, Project, StateResource

GRAMMAR = r"""
?start: expr?
?expr: and_expr (_OR and_expr)*         -> any_of
?and_expr: unary+                        -> all_of
?unary: NEG atom                         -> negated
      | atom
?atom: comparison
     | "(" expr ")"
comparison: FIELD OP value
?value: STRING -> quoted
      | BARE   -> bare

_OR.2: /OR(?![^\s()])/
NEG: "-"
FIELD: /[A-Za-z_][A-Za-z0-9_.\-]*/
OP: "<=" | ">=" | "<" | ">" | ":" | "~"
STRING: /"(\\.|[^"\\])*"/
BARE: /[^\s()"]+/

%import common.WS
%ignore WS
"""

_PARSER = Lark(GRAMMAR, parser="lalr", lexer="contextual", maybe_placeholders=False)

# Plain fields: the column each compares, and what the value means.
COLUMNS = {
    "name": "name",
    "bundle": "bundle_version__bundle__name",
    "version": "bundle_version__version",
    "env": "environment__slug",
    "env.tier": "environment__tier",
    "project": "environment__project__slug",
    "team": "environment__project__team__slug",
    "status": "status",
}
JSON_ROOTS = ("params", "outputs")
RESOURCE_ROOT = "resource"
# Deployments whose latest drift is unresolved and changed this attribute (``storage_gb``, or with its
# resource type, ``sandbox_database.storage_gb``; ``(deleted)`` for a resource deleted outside Slipway).
DRIFT_ATTRIBUTE = "drift.attribute"
# Deployments connected to a producer: ``connected_to:NAME`` (the producer's name, in the consumer's own
# environment), ``connected_to:PROJECT/ENV/NAME`` (that one producer), ``connected_to:*`` (to anything).
CONNECTED_TO = "connected_to"
# Deployments whose published artifact of a resource type has a spec value: ``artifact.<type>.specs.<path>``.
ARTIFACT_ROOT = "artifact"
# Deployments with an alarm firing now: ``alarm:firing`` (any), ``alarm:storage-almost-full`` (that one), ``~``.
ALARM = "alarm"
FIELD_NAMES = [
    *COLUMNS,
    DRIFT_ATTRIBUTE,
    CONNECTED_TO,
    ALARM,
    "params.<path>",
    "outputs.<path>",
    "resource.<type>.<attr>",
    "artifact.<type>.specs.<path>",
]
REGEX_CHARS = re.compile(r"[\^$*+?\[\]{}|\\]")
MAX_QUERY_CHARS = 2000
MAX_NESTING = 64
MAX_REGEX_CHARS = 500
MAX_REPEAT = 255  # PostgreSQL's RE_DUP_MAX
_REPEAT = re.compile(r"\{(\d+)(?:,(\d*))?\}")
_MISSING = object()
# What a results table shows of each deployment, fetched with it.
DEPLOYMENT_RELATED = ("environment__project__team", "bundle_version__bundle")


class QueryError(ValueError):
    """A query that cannot be parsed or compiled: ``position`` is the 0-based offset of the problem."""

    def __init__(self, message: str, *, position: int, hint: str = ""):
        self.message = message
        self.position = position
        self.hint = hint
        super().__init__(f"{message} (at {position + 1})" + (f" {hint}" if hint else ""))

    def as_dict(self) -> dict:
        return {"message": self.message, "position": self.position, "column": self.position + 1, "hint": self.hint}


# --- The tree -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    field: str
    op: str
    value: Any
    raw: str
    quoted: bool
    position: int


@dataclass(frozen=True)
class Not:
    node: Any


@dataclass(frozen=True)
class And:
    nodes: tuple


@dataclass(frozen=True)
class Or:
    nodes: tuple


class _ToTree(Transformer):
    def comparison(self, items):
        name, op, (raw, quoted) = items
        return Comparison(field=str(name), op=str(op), value=raw, raw=raw, quoted=quoted, position=name.start_pos or 0)

    def quoted(self, items):
        # Only \" and \\ are escapes; any other backslash stays, so regexes read naturally ("^db\.r6g").
        return re.sub(r'\\(["\\])', r"\1", str(items[0])[1:-1]), True

    def bare(self, items):
        return str(items[0]), False

    def negated(self, items):
        return Not(items[1])

    def all_of(self, items):
        return And(tuple(items)) if len(items) > 1 else items[0]

    def any_of(self, items):
        return Or(tuple(items)) if len(items) > 1 else items[0]


def _hint_for(exc: UnexpectedInput, text: str) -> tuple[str, str]:
    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        if text.count("(") > text.count(")"):
            return "The query ends inside a group.", "Close it with `)`."
        if text.rstrip().endswith(("OR", "-")):
            return "The query ends after an operator.", "Add a condition after it, e.g. `team:payments`."
        return "The query ends where a value is expected.", 'Add a value, e.g. `status:live` or `name:"my app"`.'
    if isinstance(exc, UnexpectedToken):
        token = exc.token
        if token.type == "RPAR":
            return "Unexpected `)`.", "Every `)` needs a `(` before it."
        if token.type == "_OR":
            return "`OR` needs a condition on both sides.", "Write `a:1 OR b:2`."
        if token.type == "BARE" and token.value.startswith("="):
            return "Unexpected `=`.", "Use `:` for equals, or `<=` / `>=`."
        if token.type in ("BARE", "STRING"):
            return f"Expected a field before {token.value!r}.", "Write `field:value`, e.g. `bundle:postgres`."
        if token.type == "OP":
            return f"Unexpected {token.value!r}.", "One operator per condition: `:`, `<`, `>`, `<=`, `>=` or `~`."
        if token.type in ("FIELD", "LPAR", "NEG"):
            return f"Expected an operator before {token.value!r}.", "Write `field:value`; `:` means equals."
        return f"Unexpected {token.value!r}.", ""
    if isinstance(exc, UnexpectedCharacters):
        char = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else ""
        if char == '"':
            return "Unclosed quote.", 'End the string with `"`.'
        if char == "=":
            return "Unexpected `=`.", "Use `:` for equals, or `<=` / `>=`."
        return f"Unexpected {char!r}.", "Write `field:value`, e.g. `params.size>=3`."
    return "The query cannot be read.", ""


def parse(text: str):
    """The query's tree, or None for an empty query. Raises QueryError with a position and a hint."""
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"The query is longer than {MAX_QUERY_CHARS} characters.", position=MAX_QUERY_CHARS)
    if not text.strip():
        return None
    depth = _nesting(text)
    if depth > MAX_NESTING:
        raise QueryError(
            f"The query nests parentheses or NOT {depth} deep; at most {MAX_NESTING}.",
            position=0,
            hint="Write the conditions side by side: `a:1 b:2` means both.",
        )
    try:
        tree = _PARSER.parse(text)
    except UnexpectedInput as exc:
        message, hint = _hint_for(exc, text)
        position = getattr(exc, "pos_in_stream", None)
        if (isinstance(exc, UnexpectedToken) and exc.token.type == "$END") or position is None or position < 0:
            position = len(text)
        raise QueryError(message, position=position, hint=hint) from None
    node = _ToTree().transform(tree)
    if isinstance(node, Token):  # an empty start rule
        return None
    for comparison in comparisons(node):
        _check_field(comparison)
        _check_value(comparison)
    return node


def comparisons(node) -> list[Comparison]:
    if node is None:
        return []
    if isinstance(node, Comparison):
        return [node]
    if isinstance(node, Not):
        return comparisons(node.node)
    return [c for child in node.nodes for c in comparisons(child)]


def _check_field(c: Comparison) -> None:
    root, _, rest = c.field.partition(".")
    if c.field in (DRIFT_ATTRIBUTE, ALARM):
        if c.op not in (":", "~"):
            raise QueryError(
                f"`{c.field}` is a name: it cannot be compared with `{c.op}`.",
                position=c.position,
                hint="Write `drift.attribute:storage_gb`, or `~` for part of a name.",
            )
        return
    if c.field == CONNECTED_TO:
        _check_connected_to(c)
        return
    if root == ARTIFACT_ROOT:
        _check_artifact_field(c)
        return
    if c.field in COLUMNS:
        if c.op in ("<", ">", "<=", ">=") and c.field != "version":
            raise QueryError(
                f"`{c.field}` is text: it cannot be compared with `{c.op}`.",
                position=c.position,
                hint="Use `:` or `~`; only `version` and params, outputs and resources take `<` and `>`.",
            )
        if c.field == "version" and c.op in ("<", ">", "<=", ">="):
            try:
                semver.parse(c.raw)
            except ValueError:
                raise QueryError(
                    f"{c.raw!r} is not a version.", position=c.position, hint="Write a version like `2.1.0`."
                ) from None
        return
    if c.op in ("<", ">", "<=", ">=") and not c.quoted and c.raw == "null":
        raise QueryError(
            f"Nothing is {c.op} null: `null` can only be matched with `:`.",
            position=c.position,
            hint=f"Write `{c.field}:null` for a value set to null, or compare with a number or a text.",
        )
    if root in JSON_ROOTS and rest and all(rest.split(".")):
        return
    if root == RESOURCE_ROOT and len(rest.split(".")) >= 2 and all(rest.split(".")):
        return
    known = ", ".join(f"`{n}`" for n in FIELD_NAMES)
    if root in (*JSON_ROOTS, RESOURCE_ROOT):
        shape = "resource.<type>.<attr>" if root == RESOURCE_ROOT else f"{root}.<path>"
        raise QueryError(f"`{c.field}` is incomplete.", position=c.position, hint=f"Write `{shape}`.")
    raise QueryError(f"Unknown field `{c.field}`.", position=c.position, hint=f"Fields: {known}.")


def _check_connected_to(c: Comparison) -> None:
    if c.op != ":":
        raise QueryError(
            f"`{CONNECTED_TO}` names a deployment: it cannot be compared with `{c.op}`.",
            position=c.position,
            hint="Write `connected_to:orders-db`, `connected_to:checkout/production/orders-db` or `connected_to:*`.",
        )
    parts = str(c.value).split("/")
    if len(parts) not in (1, 3) or not all(p.strip() for p in parts):
        raise QueryError(
            f"{c.value!r} is not a deployment.",
            position=c.position,
            hint="Write the producer's name (`orders-db`) or PROJECT/ENV/NAME (`checkout/production/orders-db`).",
        )


def _check_artifact_field(c: Comparison) -> None:
    kind, _, rest = c.field.partition(".")[2].partition(".")
    part, _, path = rest.partition(".")
    if part == "data":
        raise QueryError(
            f"`{c.field}` reads an artifact's data, which may hold secrets and is never searchable.",
            position=c.position,
            hint="Query its specs: `artifact.<type>.specs.<path>`.",
        )
    if not kind or part != "specs" or not path or not all(path.split(".")):
        raise QueryError(
            f"`{c.field}` is incomplete.",
            position=c.position,
            hint="Write `artifact.<type>.specs.<path>`, e.g. `artifact.postgresql.specs.version:16`.",
        )


def _nesting(text: str) -> int:
    """How deep parentheses and NOTs nest (an over-estimate is fine: it only bounds the parser's recursion)."""
    depth = deepest = 0
    for token in re.finditer(r'"(?:[^"\\]|\\.)*"|\(|\)|\bNOT\b|(?<![\w.])-(?=[\w(])', text):
        if token.group() == ")":
            depth = max(depth - 1, 0)
        elif not token.group().startswith('"'):
            depth += 1
            deepest = max(deepest, depth)
    return deepest


def regex_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot be a regular expression for ``~``, or None. Python compiles it first (size and
    repetition checked), then, on PostgreSQL, the database itself, whose dialect differs in places."""
    if len(pattern) > MAX_REGEX_CHARS:
        return f"The regular expression is longer than {MAX_REGEX_CHARS} characters."
    for match in _REPEAT.finditer(pattern):
        if any(int(n) > MAX_REPEAT for n in match.groups() if n):
            return f"Repetition counts above {MAX_REPEAT} are not allowed ({match.group()})."
    try:
        re.compile(pattern)
    except (re.error, OverflowError, RecursionError) as exc:
        return f"Not a regular expression: {getattr(exc, 'msg', exc)}."
    if connection.vendor == "postgresql":
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT '' ~* %s", [pattern])
        except DatabaseError as exc:
            reason = str(exc).splitlines()[0] if str(exc) else "the database refuses it"
            return f"Not a regular expression: {reason}."
    return None


def number_problem(value: Any) -> str | None:
    """A number the JSON comparison cannot hold (infinite, or an integer outside 64 bits), or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return "is not a finite number"
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        return "is outside the range of 64-bit integers"
    return None


def _check_value(c: Comparison) -> None:
    if c.op == "~":
        value = c.raw if c.field in COLUMNS and not c.quoted else str(c.value)
        if REGEX_CHARS.search(value):
            problem = regex_problem(value)
            if problem:
                raise QueryError(problem, position=c.position, hint="Escape a literal character with `\\`.")
        return
    if c.field in COLUMNS or c.field == CONNECTED_TO or c.quoted:
        return
    if re.fullmatch(r"[-+]?\d{21,}", c.raw):
        problem = "is outside the range of 64-bit integers"
    else:
        problem = number_problem(typed(c.value, c.quoted))
    if problem:
        raise QueryError(
            f"{c.raw[:40]} {problem}.", position=c.position, hint=f'Quote it to search for the text: "{c.raw[:40]}".'
        )


# --- Compiling to the ORM ------------------------------------------------------------------


def typed(value: str, quoted: bool) -> Any:
    """A bare value's JSON meaning: numbers, true/false and null; a quoted value is always text."""
    if quoted:
        return value
    if value in ("true", "false"):
        return value == "true"
    if value == "null":
        return None
    if len(value) > 40:  # more digits than any 64-bit number: text (and int() of 5000 digits refuses)
        return value
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return value


def _text_match(lhs: str, value: str) -> Q:
    """``~``: a regular expression when the value has regex characters, else a case-insensitive substring."""
    if REGEX_CHARS.search(value):
        return Q(**{f"{lhs}__iregex": value})
    return Q(**{f"{lhs}__icontains": value})


def _json_leaf(lhs: str, c: Comparison) -> Q:
    if c.op == "~":
        return _text_match(lhs, str(c.value))
    value = typed(c.value, c.quoted)
    if c.op == ":":
        if c.raw == "*" and not c.quoted:
            return Q(**{f"{lhs}__isnull": False})
        q = _json_equals(lhs, value)
        if not c.quoted and not isinstance(value, str):
            q |= _json_equals(lhs, c.raw)  # `size:3` also finds "3" stored as text
        return q
    lookup = {"<": "lt", ">": "gt", "<=": "lte", ">=": "gte"}[c.op]
    return Q(**{f"{lhs}__{lookup}": value})


def _json_equals(lhs: str, value: Any) -> Q:
    """Equality on a JSON path. On PostgreSQL it is written as containment (``params @> '{"a": {"b": 1}}'``)
    so the GIN index answers it; elsewhere (SQLite) it is a key transform."""
    column, *parts = lhs.split("__")
    if connection.vendor == "postgresql" and not any(p.isdigit() for p in parts) and value is not None:
        nested: Any = value
        for part in reversed(parts):
            nested = {part: nested}
        return Q(**{f"{column}__contains": nested})
    return Q(**{lhs: value})


def _version_compare(c: Comparison) -> Q:
    v = semver.parse(c.raw)
    major, minor, patch = v.major, v.minor, v.patch
    base = "bundle_version__"
    strict = c.op in ("<", ">")
    less = c.op in ("<", "<=")
    cmp = "lt" if less else "gt"
    q = (
        Q(**{f"{base}major__{cmp}": major})
        | Q(**{f"{base}major": major, f"{base}minor__{cmp}": minor})
        | Q(**{f"{base}major": major, f"{base}minor": minor, f"{base}patch__{cmp}": patch})
    )
    if not strict:
        q |= Q(**{f"{base}major": major, f"{base}minor": minor, f"{base}patch": patch})
    return q


def _path(rest: str) -> str:
    return "__".join(rest.split("."))


def _leaf(c: Comparison) -> tuple[Q, bool]:
    """(condition, whether its negation needs a subquery: JSON keys may be missing, which SQL reads as NULL)."""
    if c.field in COLUMNS:
        column = COLUMNS[c.field]
        if c.field == "version" and c.op not in (":", "~"):
            return _version_compare(c), False
        if c.op == "~":
            return _text_match(column, c.raw if not c.quoted else c.value), False
        if c.field in ("version", "env.tier", "status"):
            # Fixed vocabularies stored lower-case: an exact match can use the column's index.
            return Q(**{column: c.value if c.field == "version" else str(c.value).lower()}), False
        return Q(**{f"{column}__iexact": c.value}), False
    if c.field == DRIFT_ATTRIBUTE:
        return _drift_leaf(c), False
    if c.field == CONNECTED_TO:
        return _connected_to_leaf(c), False
    if c.field == ALARM:
        return _alarm_leaf(c), False
    root, _, rest = c.field.partition(".")
    if root == ARTIFACT_ROOT:
        return _artifact_leaf(c), False
    if root in JSON_ROOTS:
        # (equality stays with the GIN index on the column, which answers it from the index alone)
        indexed = (
            _indexed_leaf(root[0], "", rest.split("."), c, equality=False, selective=c.op != "~")
            if c.op != ":"
            else None
        )
        return (indexed if indexed is not None else _json_leaf(f"{root}__{_path(rest)}", c)), True
    kind, _, attr = rest.partition(".")
    indexed = _indexed_leaf("r", kind, attr.split("."), c, equality=True, selective=c.op != "~")
    if indexed is not None:
        return indexed, False
    resources = StateResource.objects.filter(_json_leaf(f"attributes__{_path(attr)}", c), deployment=OuterRef("pk"))
    return Q(Exists(resources.filter(type=kind))), False


# A path step the index reads as the JSON lookups do: a name, or a list position written plainly. (A first step
# that reads as a number, or a position like ``01`` or ``-1``, is left to the JSON lookups, which read it their
# own way.)
_NUMBERLIKE = re.compile(r"[-+]?[0-9][0-9_]*")
_POSITION = re.compile(r"0|[1-9][0-9]{0,8}")
_RANGE_SQL = {"<": "<", ">": ">", "<=": "<=", ">=": ">="}
MAX_NAMED_TERMS = 200


def _indexable_path(parts: list[str]) -> bool:
    if not parts or _NUMBERLIKE.fullmatch(parts[0]):
        return False
    return all(_POSITION.fullmatch(p) or not _NUMBERLIKE.fullmatch(p) for p in parts)


def _indexed_leaf(
    source: str, kind: str, parts: list[str], c: Comparison, *, equality: bool, selective: bool = False
) -> Q | None:
    """The deployments holding a matching value at the path, read from the estate's inverted index
    (:class:`EstateTerm`, :class:`EstatePosting`; PostgreSQL): the condition runs over the path's distinct
    values with the operator the JSON lookups use (``~*``, ``UPPER(..) LIKE``, jsonb ``<`` ``>`` ``=``), then
    the postings of those that match give the deployments. None where the JSON lookups must answer (SQLite,
    ``:*``, a path the index would read differently; with ``selective``, values held by most deployments). The
    compiler uses it for ``~``, and, where the values are ``selective``, for comparisons on params and outputs,
    whose JSON lookups evaluate a path on every deployment (30 ms at 100k), and for resource conditions, which
    otherwise join the resources table (bench/estate_query.py). Equality on params and outputs stays with their
    GIN indexes. The index answers as the JSON lookups do (tests/deployments/test_estate_index.py)."""
    if connection.vendor != "postgresql" or not _indexable_path(parts):
        return None
    text = "(t.value #>> '{}')"
    small = "estate_small(t.value)"
    if c.op == "~":
        pattern = str(c.value)
        if REGEX_CHARS.search(pattern):
            where, params = f"{text} ~* %s", [pattern]
        else:
            where, params = f"UPPER{text} LIKE UPPER(%s)", [f"%{connection.ops.prep_for_like_query(pattern)}%"]
    elif c.op in _RANGE_SQL and typed(c.value, c.quoted) is not None:  # (`<null`: the JSON lookups refuse it)
        op = _RANGE_SQL[c.op]
        value = json.dumps(typed(c.value, c.quoted))
        where = f"({small} {op} %s::jsonb OR ({small} IS NULL AND t.value {op} %s::jsonb))"
        params = [value, value]
    elif c.op == ":" and equality and not (c.raw == "*" and not c.quoted):
        value = typed(c.value, c.quoted)
        values = [value] if c.quoted or isinstance(value, str) else [value, c.raw]  # `size:3` also finds "3"
        where = " OR ".join(f"({small} = %s::jsonb OR ({small} IS NULL AND t.value = %s::jsonb))" for _ in values)
        where, params = f"({where})", [json.dumps(v) for v in values for _ in (0, 1)]
    else:
        return None
    terms = f"SELECT t.id FROM {EstateTerm._meta.db_table} t WHERE t.source = %s AND t.kind = %s AND t.path = %s"
    terms, params = f"{terms} AND {where}", [source, kind, ".".join(parts), *params]
    # The matching values are found first, and named: the planner then knows from its statistics how many
    # deployments hold each (a few or most), and starts from the cheaper side. Too many: a subquery.
    with connection.cursor() as cursor:
        cursor.execute(f"{terms} LIMIT {MAX_NAMED_TERMS + 1}", params)
        ids = [row[0] for row in cursor.fetchall()]
    named = len(ids) <= MAX_NAMED_TERMS
    if selective and ids and not (named and _few_postings(ids)):  # (so many values: likely most deployments)
        return None
    if named:
        return Q(pk__in=EstatePosting.objects.filter(term_id__in=ids).values("deployment_id")) if ids else Q(pk__in=[])
    postings = EstatePosting._meta.db_table
    return Q(pk__in=RawSQL(f"SELECT p.deployment_id FROM {postings} p WHERE p.term_id IN ({terms})", params))


# The postings beat the JSON lookups while the values are held by fewer than this share of the estate's rows;
# past it, hashing as many postings as there are deployments costs more than reading each deployment's value
# (a comparison every deployment passes: 250 ms against 100 ms at 100k, bench/estate_query.py).
POSTINGS_SHARE = 0.7
POSTINGS_FLOOR = 1000  # below this the choice costs nothing either way (and a table never analyzed has no size)


def _few_postings(term_ids: list[int]) -> bool:
    """Whether fewer postings than :data:`POSTINGS_SHARE` of the deployments hold the terms, by the planner's
    statistics (its estimate of the postings read, against the table's size): a plan, not a count, so the
    choice costs a fraction of a millisecond (counting 60k postings to decide took 5 ms). It counts postings,
    not deployments: a resource type with several resources per deployment reads as more deployments than
    hold the value, and the JSON lookups answer, as correctly. A table never analysed has no size: the floor
    decides. Either way the answer is the same; only its speed differs."""
    postings, deployments = EstatePosting._meta.db_table, Deployment._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {postings} p WHERE p.term_id = ANY(%s)", [term_ids])
        plan = cursor.fetchone()[0]
        cursor.execute("SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = %s::regclass", [deployments])
        estate = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return plan[0]["Plan"]["Plan Rows"] < max(estate * POSTINGS_SHARE, POSTINGS_FLOOR)


def _drift_leaf(c: Comparison) -> Q:
    """An unresolved drift check (the latest drift: older ones are superseded) that found this attribute changed."""
    name = str(c.value).strip()
    if c.op == "~":
        words = (
            Q(drifted_attributes__icontains=name)
            if not REGEX_CHARS.search(name)
            else Q(drifted_attributes__iregex=name)
        )
    elif name == "*":
        words = ~Q(drifted_attributes="")
    else:
        words = Q(drifted_attributes__contains=f" {name} ")
    checks = DriftCheck.objects.filter(words, deployment=OuterRef("pk"), status=DriftStatus.DRIFTED, resolution="")
    return Q(Exists(checks))


def _connected_to_leaf(c: Comparison) -> Q:
    """Deployments connected to a producer of that name in their own environment (connections never leave an
    environment), or to the one PROJECT/ENV/NAME, or (``*``) to any. Driven from the producers: they are found
    by name, then their environments' deployments whose ``connections`` hold the producer's id."""
    table = Deployment._meta.db_table
    postgres = connection.vendor == "postgresql"
    # (an object always, as the services write it; anything else reads as no connections rather than an error)
    each = (
        "jsonb_each_text(CASE WHEN jsonb_typeof(c.connections) = 'object' THEN c.connections ELSE '{}' END)"
        if postgres
        else "json_each(c.connections)"
    )
    as_text = "p.id::text" if postgres else "p.id"
    if str(c.value) == "*" and not c.quoted:
        sql = f"SELECT c.id FROM {table} c WHERE EXISTS (SELECT 1 FROM {each} w WHERE w.value <> '')"
        return Q(pk__in=RawSQL(sql, []))
    parts = [p.strip() for p in str(c.value).split("/")]
    where, params = ["lower(p.name) = lower(%s)"], [parts[-1]]
    if len(parts) == 3:
        environments, projects = Environment._meta.db_table, Project._meta.db_table
        where.append(
            # one environment at most (slugs are unique per project): a scalar, so the producer is found first
            f"p.environment_id = (SELECT e.id FROM {environments} e JOIN {projects} pr ON pr.id = e.project_id "
            "WHERE lower(pr.slug) = lower(%s) AND lower(e.slug) = lower(%s) LIMIT 1)"
        )
        params += parts[:2]
    sql = (
        f"SELECT c.id FROM {table} p JOIN {table} c ON c.environment_id = p.environment_id "
        f"WHERE {' AND '.join(where)} AND EXISTS (SELECT 1 FROM {each} w WHERE w.value = {as_text})"
    )
    return Q(pk__in=RawSQL(sql, params))


def _artifact_leaf(c: Comparison) -> Q:
    """Deployments whose newest version of an artifact of the type (the one consumers read) has the spec value.
    An ``EXISTS`` over :class:`Artifact` by deployment (its unique index), newer versions ruled out."""
    kind, _, rest = c.field.partition(".")[2].partition(".")
    path = rest.partition(".")[2]
    newer = Artifact.objects.filter(
        deployment=OuterRef("deployment"), name=OuterRef("name"), serial__gt=OuterRef("serial")
    )
    published = Artifact.objects.filter(_json_leaf(f"specs__{_path(path)}", c), deployment=OuterRef("pk"), type=kind)
    return Q(Exists(published.filter(~Exists(newer))))


def _alarm_leaf(c: Comparison) -> Q:
    """An alarm firing now (its latest event says firing): any (``firing``), or by its name or the bundle's."""
    from ..alarms.selectors import firing_events

    name = str(c.value).strip()
    firing = firing_events().filter(deployment_id=OuterRef("pk"))
    if c.op == "~":
        firing = firing.filter(Q(name__icontains=name) | Q(bundle_alarm__icontains=name))
    elif name.lower() != "firing":
        firing = firing.filter(Q(name=name) | Q(bundle_alarm=name))
    return Q(Exists(firing))


def _compile(node, model) -> Q:
    if isinstance(node, Comparison):
        q, _ = _leaf(node)
        return q
    if isinstance(node, Not):
        inner = node.node
        if isinstance(inner, Comparison):
            q, needs_subquery = _leaf(inner)
            if needs_subquery:
                return ~Q(pk__in=model.objects.filter(q).values("pk"))
            return ~q
        return ~Q(pk__in=model.objects.filter(_compile(inner, model)).values("pk"))
    parts = [_compile(child, model) for child in node.nodes]
    combined = parts[0]
    for part in parts[1:]:
        combined = (combined & part) if isinstance(node, And) else (combined | part)
    return combined


def compile_query(node) -> Q:
    """The Q object for a parsed query (empty Q: everything)."""
    if node is None:
        return Q()
    return _compile(node, Deployment)


@dataclass
class EstateQuery:
    """A parsed query, ready to filter a queryset, and the fields whose values the results show."""

    text: str
    tree: Any
    fields: list[str] = field(default_factory=list)

    def filter(self, qs: QuerySet) -> QuerySet:
        return qs.filter(compile_query(self.tree)) if self.tree is not None else qs


def estate_query(text: str) -> EstateQuery:
    tree = parse(text)
    fields: list[str] = []
    for c in comparisons(tree):
        if c.field not in fields:
            fields.append(c.field)
    return EstateQuery(text=text, tree=tree, fields=fields)


def deployments_matching(*, user, text: str) -> tuple[EstateQuery, QuerySet]:
    """The deployments ``user`` may see that match ``text``. Raises QueryError.

    The estate is what is live: destroyed deployments are left out unless the query asks about ``status``
    (``status:destroyed``, ``-status:live``)."""
    query = estate_query(text)
    visible = Deployment.objects.visible_to(user)
    if "status" not in query.fields:
        visible = visible.exclude(status=DeploymentStatus.DESTROYED)
    return query, query.filter(visible.select_related(*DEPLOYMENT_RELATED)).order_by(
        "environment__project__slug", "environment__slug", "name"
    )


def row_prefetch(fields: list[str]) -> tuple[str, ...]:
    """What the results read of each row beside the deployment: its resources, for a resource field."""
    return ("state_resources",) if any(f.startswith(f"{RESOURCE_ROOT}.") for f in fields) else ()


class Matches:
    """A query's deployments for a paginator (Django's on the page, DRF's in the API), always in the estate's
    order (project, environment, name), whatever the queryset's own order.

    On PostgreSQL, two reads whatever the query: how many match in each environment, in the estate's order
    (the count's own plan, grouped: one row per environment with a match), then the keys of the page: each
    environment the page falls in gives its share along its (environment, name) index, the query written once
    and read for each (``LATERAL``). Counting, then sorting the matches by the joined project and environment
    slugs, left the page to the planner: it either walked the environments in order and stopped early (2 ms)
    or re-read thousands of matches for each project (55 ms for the regex of bench/estate_query.py, issue 18),
    and sorting every match instead cost 70 ms for a query all 100k deployments pass. Then the page's rows,
    by key, with their relations. Both reads are planned as short reads of cached tables (:func:`_page_read`):
    no parallel workers, whose start took longer (25 ms on the bench) than the 10-30 ms they would share.
    Elsewhere (SQLite): the queryset's own count and slice (``deployments_matching`` orders it the same way)."""

    def __init__(self, queryset: QuerySet, *, prefetch: tuple[str, ...] = ()):
        self.queryset = queryset
        self.prefetch = prefetch
        self._per_environment: list[tuple[int, int]] | None = None

    def count(self) -> int:
        if connection.vendor != "postgresql":
            return self.queryset.count()
        return sum(n for _, n in self.per_environment())

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, window: slice) -> list:
        if not isinstance(window, slice) or window.step is not None or (window.start or 0) < 0:
            raise TypeError("Matches reads forward slices: matches[start:stop], start and stop not negative.")
        if window.stop is not None and window.stop < 0:
            raise TypeError("Matches reads forward slices: matches[start:stop], start and stop not negative.")
        if connection.vendor != "postgresql":
            return list(self.queryset.prefetch_related(*self.prefetch)[window])
        keys = self._keys(window.start or 0, window.stop)
        if not keys:
            return []
        rows = Deployment.objects.select_related(*DEPLOYMENT_RELATED).prefetch_related(*self.prefetch)
        found = rows.in_bulk(keys)
        return [found[key] for key in keys if key in found]  # (one deleted since the first read is left out)

    def _inner(self) -> tuple[str, tuple]:
        """The matching deployments' key, environment and name, as SQL (raises EmptyResultSet for none)."""
        return self.queryset.order_by().values("pk", "environment_id", "name").query.sql_with_params()

    def per_environment(self) -> list[tuple[int, int]]:
        """(environment id, how many match there), for each environment with a match, in the estate's order."""
        if self._per_environment is None:
            try:
                sql, params = self.per_environment_sql()
            except EmptyResultSet:  # a condition that can match nothing (no visible teams, no matching values)
                self._per_environment = []
                return self._per_environment
            self._per_environment = _page_read(sql, params)
        return self._per_environment

    def per_environment_sql(self) -> tuple[str, tuple]:
        inner, params = self._inner()
        environments, projects = Environment._meta.db_table, Project._meta.db_table
        sql = (
            "SELECT g.environment_id, g.n FROM (SELECT m.environment_id, count(*) AS n "
            f"FROM ({inner}) AS m (id, environment_id, name) GROUP BY m.environment_id) AS g "
            f"JOIN {environments} e ON e.id = g.environment_id JOIN {projects} p ON p.id = e.project_id "
            "ORDER BY p.slug, e.slug"
        )
        return sql, params

    def _keys(self, start: int, stop: int | None) -> list:
        read = self.keys_sql(start, stop)
        return [key for (key,) in _page_read(*read)] if read is not None else []

    def keys_sql(self, start: int, stop: int | None) -> tuple[str, list] | None:
        """The read of the keys of the matches from ``start`` to ``stop`` in the estate's order (None: there are
        none): for each environment the window overlaps, its share, along its (environment, name) index."""
        parts, before = [], 0
        for environment_id, n in self.per_environment():
            low, high = max(start - before, 0), n if stop is None else min(stop - before, n)
            if low < high:
                parts.append((environment_id, low, high - low))
            before += n
            if stop is not None and before >= stop:
                break
        if not parts:
            return None
        inner, params = self._inner()
        sql = (
            "SELECT k.id FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) "
            "WITH ORDINALITY AS w (env, skip, take, part) CROSS JOIN LATERAL "
            f"(SELECT m.id, m.name FROM ({inner}) AS m (id, environment_id, name) WHERE m.environment_id = w.env "
            "ORDER BY m.name LIMIT w.take OFFSET w.skip) AS k ORDER BY w.part, k.name"
        )
        environments, skips, takes = (list(column) for column in zip(*parts, strict=True))
        return sql, [environments, skips, takes, *params]


def _page_read(sql: str, params) -> list[tuple]:
    """Rows of an estate page's read (PostgreSQL; see :class:`Matches`), planned for a short read of tables in
    memory: no parallel workers, and an index page costed near a sequential one (``random_page_cost`` 1.1,
    PostgreSQL's advice for cached or solid-state data). At the default 4 the planner read the deployments'
    37 MB of rows (24 ms) rather than the 3 MB key index (10 ms) to count a regex's matches."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(PAGE_READ_SETTINGS)
        cursor.execute(sql, params)
        return cursor.fetchall()


PAGE_READ_SETTINGS = "SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL random_page_cost = 1.1"


# --- Matched values for the results --------------------------------------------------------


def _dig(data: Any, parts: list[str]) -> tuple[bool, Any]:
    """The value at a dotted path's parts (a digit indexes a list), and whether it is there."""
    found = JsonPointer.from_parts(parts).resolve(data, _MISSING)
    return found is not _MISSING, None if found is _MISSING else found


def matched_values(deployment, fields: list[str], resources: list | None = None) -> dict[str, Any]:
    """The value of each queried field on one deployment (what the results table shows)."""
    out: dict[str, Any] = {}
    for name in fields:
        root, _, rest = name.partition(".")
        if name == CONNECTED_TO or root == ARTIFACT_ROOT:
            out.update(_connection_values(deployment, name))
        elif name in COLUMNS:
            out[name] = {
                "name": deployment.name,
                "bundle": deployment.bundle_version.bundle.name,
                "version": deployment.bundle_version.version,
                "env": deployment.environment.slug,
                "env.tier": deployment.environment.tier,
                "project": deployment.environment.project.slug,
                "team": deployment.environment.project.team.slug,
                "status": deployment.status,
            }[name]
        elif root in JSON_ROOTS:
            found, value = _dig(getattr(deployment, root), rest.split("."))
            if found:
                out[name] = value
        elif root == RESOURCE_ROOT:
            kind, _, attr = rest.partition(".")
            values = []
            for res in resources if resources is not None else deployment.state_resources.all():
                if res.type == kind:
                    found, value = _dig(res.attributes, attr.split("."))
                    if found:
                        values.append(value)
            if values:
                out[name] = values[0] if len(values) == 1 else values
    return out


def _connection_values(deployment, name: str) -> dict[str, Any]:
    """What ``connected_to`` (the producers' names) or ``artifact.<type>.specs.<path>`` (the newest artifact's
    value) shows for one deployment of the results."""
    if name == CONNECTED_TO:
        ids = [v for v in (deployment.connections or {}).values() if v]
        names = sorted(Deployment.objects.filter(pk__in=ids).values_list("name", flat=True)) if ids else []
        return {name: names[0] if len(names) == 1 else names} if names else {}
    kind, _, rest = name.partition(".")[2].partition(".")
    latest = Artifact.objects.filter(deployment=deployment, type=kind).order_by("name", "-serial").first()
    if latest is None:
        return {}
    found, value = _dig(latest.specs, rest.partition(".")[2].split("."))
    return {name: value} if found else {}


def display(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)
