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
import re
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from lark import Lark, Token, Transformer, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from bundles import semver

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
FIELD_NAMES = [*COLUMNS, "params.<path>", "outputs.<path>", "resource.<type>.<attr>"]
REGEX_CHARS = re.compile(r"[\^$*+?\[\]{}|\\]")
MAX_QUERY_CHARS = 2000


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
    if root in JSON_ROOTS and rest and all(rest.split(".")):
        return
    if root == RESOURCE_ROOT and len(rest.split(".")) >= 2 and all(rest.split(".")):
        return
    known = ", ".join(f"`{n}`" for n in FIELD_NAMES)
    if root in (*JSON_ROOTS, RESOURCE_ROOT):
        shape = "resource.<type>.<attr>" if root == RESOURCE_ROOT else f"{root}.<path>"
        raise QueryError(f"`{c.field}` is incomplete.", position=c.position, hint=f"Write `{shape}`.")
    raise QueryError(f"Unknown field `{c.field}`.", position=c.position, hint=f"Fields: {known}.")


# --- Compiling to the ORM ------------------------------------------------------------------


def typed(value: str, quoted: bool) -> Any:
    """A bare value's JSON meaning: numbers, true/false and null; a quoted value is always text."""
    if quoted:
        return value
    if value in ("true", "false"):
        return value == "true"
    if value == "null":
        return None
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
    from .models import StateResource

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
    root, _, rest = c.field.partition(".")
    if root in JSON_ROOTS:
        return _json_leaf(f"{root}__{_path(rest)}", c), True
    kind, _, attr = rest.partition(".")
    resources = StateResource.objects.filter(_json_leaf(f"attributes__{_path(attr)}", c), deployment=OuterRef("pk"))
    return Q(Exists(resources.filter(type=kind))), False


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
    from .models import Deployment

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
    """The deployments ``user`` may see that match ``text``. Raises QueryError."""
    from .selectors import deployments_visible_to

    query = estate_query(text)
    return query, query.filter(deployments_visible_to(user)).order_by(
        "environment__project__slug", "environment__slug", "name"
    )


# --- Matched values for the results --------------------------------------------------------


def _dig(data: Any, parts: list[str]) -> tuple[bool, Any]:
    node = data
    for part in parts:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False, None
    return True, node


def matched_values(deployment, fields: list[str], resources: list | None = None) -> dict[str, Any]:
    """The value of each queried field on one deployment (what the results table shows)."""
    out: dict[str, Any] = {}
    for name in fields:
        root, _, rest = name.partition(".")
        if name in COLUMNS:
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


def display(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


# --- The resource index -------------------------------------------------------------------

MAX_INDEXED_STRING = 512


def _sensitive_roots(instance: dict) -> set[str]:
    """Top-level attributes the state marks sensitive (any path into them hides the whole attribute)."""
    roots = set()
    for path in instance.get("sensitive_attributes") or []:
        steps = path if isinstance(path, list) else [path]
        first = steps[0] if steps else None
        if isinstance(first, dict) and first.get("type") == "get_attr":
            roots.add(str(first.get("value")))
        elif isinstance(first, str):  # newer engines write "attr.path" strings
            roots.add(first.split(".")[0].split("[")[0])
    return roots


def _small(value: Any, depth: int = 0) -> tuple[bool, Any]:
    """Keep what is worth querying: scalars, short strings, small nested structures.

    Attributes of a dynamic type are stored by the engine as ``{"value": ..., "type": ...}``; the index
    keeps the value, so ``resource.terraform_data.input.message`` reads like the configuration.
    """
    if isinstance(value, dict) and set(value) == {"value", "type"}:
        value = value["value"]
    if isinstance(value, str):
        return (len(value) <= MAX_INDEXED_STRING), value
    if value is None or isinstance(value, (bool, int, float)):
        return True, value
    if depth >= 4:
        return False, None
    if isinstance(value, dict):
        kept = {}
        for key, item in list(value.items())[:100]:
            ok, small = _small(item, depth + 1)
            if ok:
                kept[str(key)] = small
        return True, kept
    if isinstance(value, list):
        kept_list = []
        for item in value[:50]:
            ok, small = _small(item, depth + 1)
            if ok:
                kept_list.append(small)
        return True, kept_list
    return False, None


def resource_rows(state: dict) -> list[dict]:
    """One row per managed resource instance: address, type and its non-sensitive attributes."""
    rows = []
    for resource in state.get("resources") or []:
        if resource.get("mode") != "managed":
            continue
        prefix = f"{resource['module']}." if resource.get("module") else ""
        for instance in resource.get("instances") or []:
            hidden = _sensitive_roots(instance)
            attributes = {}
            for key, value in (instance.get("attributes") or {}).items():
                if key in hidden:
                    continue
                ok, small = _small(value)
                if ok:
                    attributes[key] = small
            index = instance.get("index_key")
            suffix = "" if index is None else f"[{json.dumps(index)}]"
            rows.append(
                {
                    "address": f"{prefix}{resource.get('type')}.{resource.get('name')}{suffix}",
                    "type": str(resource.get("type") or ""),
                    "attributes": attributes,
                }
            )
    return rows


def index_state_resources(*, deployment, state: dict, state_version=None) -> int:
    """Replace the deployment's resource index with the resources of ``state`` (called when state is written).

    Attributes the state marks sensitive are never indexed; nor are the values of the deployment's
    ``x-sensitive`` params or sensitive outputs, in case a module passes one through a plain attribute.
    """
    from .models import StateResource
    from .secrets import values as secret_values

    rows = resource_rows(state)
    secrets_known = {json.dumps(v, sort_keys=True) for v in secret_values(deployment.sensitive_params)}
    if deployment.sensitive_outputs:
        from portal.crypto import decrypt

        secrets_known |= {
            json.dumps(v, sort_keys=True) for v in json.loads(decrypt(bytes(deployment.sensitive_outputs))).values()
        }
    if secrets_known:
        for row in rows:
            row["attributes"] = _without(row["attributes"], secrets_known)
    StateResource.objects.filter(deployment=deployment).delete()
    StateResource.objects.bulk_create(
        StateResource(deployment=deployment, state_version=state_version, **row) for row in rows
    )
    return len(rows)


def _without(value: Any, secrets_known: set[str]) -> Any:
    if isinstance(value, dict):
        return {
            k: _without(v, secrets_known)
            for k, v in value.items()
            if json.dumps(v, sort_keys=True) not in secrets_known
        }
    if isinstance(value, list):
        return [_without(v, secrets_known) for v in value if json.dumps(v, sort_keys=True) not in secrets_known]
    return value


# --- Param dimensions and autocomplete ----------------------------------------------------


@dataclass
class Dimension:
    """One queryable path: its type, where it comes from, and sample values."""

    path: str
    type: str = ""
    title: str = ""
    bundles: list[str] = field(default_factory=list)
    samples: list[Any] = field(default_factory=list)

    def add_sample(self, value: Any, limit: int = 8) -> None:
        if isinstance(value, (dict, list)) or len(self.samples) >= limit:
            return
        from .secrets import is_mask

        if is_mask(value) or value in self.samples or (isinstance(value, str) and len(value) > 80):
            return
        self.samples.append(value)

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "type": self.type,
            "title": self.title,
            "bundles": self.bundles,
            "samples": self.samples,
        }


def _schema_type(schema: dict) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        return "|".join(str(k) for k in kind)
    if kind:
        return str(kind)
    consts = [v.get("const") for v in schema.get("oneOf") or schema.get("anyOf") or [] if isinstance(v, dict)]
    values = schema.get("enum") or [c for c in consts if c is not None]
    if values:
        return {bool: "boolean", int: "integer", float: "number"}.get(type(values[0]), "string")
    return ""


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    return {int: "integer", float: "number", str: "string", dict: "object", list: "array"}.get(type(value), "null")


def _resolve(schema: dict, root: dict) -> dict:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        node: Any = root
        for part in ref[2:].split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        return node if isinstance(node, dict) else {}
    return schema


def schema_paths(schema: dict, root: dict | None = None, prefix: tuple = (), depth: int = 0):
    """Yield (path, sub-schema) for every property of a params schema, nested objects included; x-sensitive
    properties are skipped (their stored value is a mask, so there is nothing to query)."""
    root = root or schema
    if depth > 6:
        return
    for name, sub in (schema.get("properties") or {}).items():
        if not isinstance(sub, dict):
            continue
        sub = _resolve(sub, root)
        if sub.get("x-sensitive"):
            continue
        path = (*prefix, name)
        yield path, sub
        if "properties" in sub:
            yield from schema_paths(sub, root, path, depth + 1)
    for branch in (schema.get("oneOf") or []) + (schema.get("anyOf") or []) + (schema.get("allOf") or []):
        if isinstance(branch, dict) and "properties" in branch:
            yield from schema_paths(branch, root, prefix, depth + 1)


def _walk_values(data: Any, prefix: tuple = (), depth: int = 0):
    if isinstance(data, dict) and depth < 4:
        for key, value in data.items():
            yield (*prefix, str(key)), value
            yield from _walk_values(value, (*prefix, str(key)), depth + 1)


def param_dimensions(*, deployments: QuerySet | None = None, sample_size: int = 300) -> list[Dimension]:
    """Every param path across all bundle versions (type, bundles, sample values), then the outputs seen and
    the resource types and attributes indexed. Samples come from ``deployments`` (scope it to the user)."""
    from bundles.models import BundleVersion

    from .models import StateResource

    dims: dict[str, Dimension] = {}
    for version in BundleVersion.objects.select_related("bundle").order_by("bundle__name", "-major", "-minor"):
        for path, sub in schema_paths(version.params_schema or {}):
            key = "params." + ".".join(path)
            dim = dims.setdefault(key, Dimension(path=key, type=_schema_type(sub), title=str(sub.get("title", ""))))
            if version.bundle.name not in dim.bundles:
                dim.bundles.append(version.bundle.name)
            for value in sub.get("enum") or []:
                dim.add_sample(value)
            for variant in sub.get("oneOf") or sub.get("anyOf") or []:
                if isinstance(variant, dict) and "const" in variant:
                    dim.add_sample(variant["const"])
    if deployments is not None:
        for params, outputs in deployments.order_by("-updated_at").values_list("params", "outputs")[:sample_size]:
            for path, value in _walk_values(params or {}):
                key = "params." + ".".join(path)
                dim = dims.get(key)
                parent = dims.get("params." + ".".join(path[:-1])) if len(path) > 1 else None
                if dim is None and parent is not None and parent.type == "object":
                    # A key of a map (additionalProperties): known from the data, not the schema.
                    dim = dims[key] = Dimension(path=key, type=_json_type(value), bundles=list(parent.bundles))
                if dim is not None:
                    dim.add_sample(value)
            for path, value in _walk_values(outputs or {}):
                key = "outputs." + ".".join(path)
                dim = dims.setdefault(key, Dimension(path=key, type=_json_type(value)))
                dim.add_sample(value)
        resources = StateResource.objects.filter(deployment__in=deployments.values("pk"))
        for kind, attributes in resources.order_by("-id").values_list("type", "attributes")[:sample_size]:
            for name, value in (attributes or {}).items():
                key = f"resource.{kind}.{name}"
                dim = dims.setdefault(key, Dimension(path=key, type=_json_type(value)))
                dim.add_sample(value)
    return sorted(dims.values(), key=lambda d: (d.path.split(".")[0] != "params", d.path))


def suggestions(text: str, dimensions: list[Dimension], deployments: QuerySet, limit: int = 20) -> list[str]:
    """Whole queries that complete the last term of ``text``: a field name, or a value of the field typed."""
    head, last = re.match(r"^(.*?)([^\s()]*)$", text, re.S).groups()
    negate = "-" if last.startswith("-") else ""
    term = last[len(negate) :]
    op_match = re.search(r"(<=|>=|[:<>~])", term)
    fields = {**{name: None for name in COLUMNS}, **{d.path: d for d in dimensions}}
    out: list[str] = []
    if op_match is None:
        for name in fields:
            if name.lower().startswith(term.lower()):
                out.append(f"{head}{negate}{name}:")
        return out[:limit]
    name, op = term[: op_match.start()], op_match.group(1)
    typed_value = term[op_match.end() :].strip('"')
    dim = fields.get(name)
    samples = list(dim.samples) if dim is not None else _column_samples(name, deployments)
    for value in samples:
        shown = display(value)
        if shown.lower().startswith(typed_value.lower()):
            if isinstance(value, str) and (not shown or re.search(r'[\s()"]', shown)):
                shown = json.dumps(value)
            out.append(f"{head}{negate}{name}{op}{shown}")
    return out[:limit]


def _column_samples(name: str, deployments: QuerySet) -> list[str]:
    """Values of a plain field among the deployments the user can see (never other teams' names)."""
    from .choices import DeploymentStatus, Tier

    if name == "env.tier":
        return list(Tier.values)
    if name == "status":
        return list(DeploymentStatus.values)
    column = COLUMNS.get(name)
    if column is None:
        return []
    return list(deployments.order_by(column).values_list(column, flat=True).distinct()[:50])
