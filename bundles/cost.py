"""A bundle's cost model (``cost:`` in bundle.yaml): what a deployment costs a month, from its params.

::

    cost:
      currency: USD
      base: 5                          # every deployment, whatever its params
      prices:                          # an enum param: the price of each value
        size: {small: 45, medium: 150, large: 300, xlarge: 600}
      per_unit:                        # a number param: the price of one unit (one GiB, one day, one copy)
        storage_gb: 0.115
      multipliers:                     # applied to the sum above
        high_availability: 2           # a boolean param: x 2 when it is on
        replicas: value                # a number param: x its value

    monthly = (base + sum of prices + sum of per_unit * value) * product of multipliers

A param is named by its top-level name (``size``) or a JSON pointer (``/storage/gb``). A value the
params leave out counts as the param's default; a param with neither counts as nothing (no price,
zero units, off, x 1). :func:`cost_problems` is the lint; :func:`monthly_estimate` is the one function
that turns params into money, used by every page, the API, the budget check and the cost views.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from jsonpointer import JsonPointer

from .schema import as_text, options, pointer, title, walk
from .schema.walk import PROPERTY

CENTS = Decimal("0.01")
SECTIONS = ("prices", "per_unit", "multipliers")
_MISSING = object()
# Keywords that place a subschema somewhere a single value's price cannot follow (a variant's field,
# a conditional branch, an array item): a cost names a param that is always in the same place.
_PLAIN = {PROPERTY, "root", "all_of", "ref"}


@dataclass(frozen=True)
class Estimate:
    """A monthly estimate: ``amount`` (rounded to cents) in ``currency``."""

    amount: Decimal
    currency: str

    def __str__(self) -> str:
        return money(self.amount, self.currency)


def money(amount: Decimal | int | float | None, currency: str = "USD", *, signed: bool = False) -> str:
    """``$1,200/month`` style text for an amount (``+$210`` with ``signed``); other currencies by code."""
    if amount is None:
        return "no estimate"
    amount = Decimal(amount).quantize(CENTS, rounding=ROUND_HALF_UP)
    sign = ("+" if amount > 0 else "-" if amount < 0 else "±") if signed else ("-" if amount < 0 else "")
    whole = amount.copy_abs()
    digits = f"{whole:,.0f}" if whole >= 100 or whole == whole.to_integral_value() else f"{whole:,.2f}"
    symbol = {"USD": "$", "EUR": "€", "GBP": "£"}.get(currency)
    return f"{sign}{symbol}{digits}" if symbol else f"{sign}{digits} {currency}"


def _parts(name: str) -> tuple[str, ...]:
    return tuple(JsonPointer(name).parts) if name.startswith("/") else (name,)


def param_schema(params_schema: dict, name: str) -> dict | None:
    """The subschema of the param ``name`` (a top-level name or a JSON pointer), or None when it has none
    reachable as a plain property."""
    want = _parts(name)
    for node in walk(params_schema):
        if node.path == want and node.kind == PROPERTY and set(node.under) <= _PLAIN:
            return node.schema
    return None


def _kind(schema: dict) -> str:
    kinds = schema.get("type")
    kinds = set(kinds) if isinstance(kinds, list) else {kinds}
    if "boolean" in kinds:
        return "boolean"
    if kinds & {"integer", "number"}:
        return "number"
    return "other"


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def cost_problems(cost: Any, params_schema: dict, *, where: str = "bundle.yaml /cost") -> list[str]:
    """What is wrong with a cost model, in words, each with its JSON pointer: every param it names must exist
    (and be an enum for ``prices``, a number for ``per_unit``, a boolean or a number for ``multipliers``),
    every priced value must be one of the param's values, every value of a priced param must have a price,
    and no price may read a secret."""
    if cost in (None, {}):
        return []
    if not isinstance(cost, dict):
        return [f"{where}: must be a mapping with currency, base, prices, per_unit and multipliers"]
    problems = []
    currency = cost.get("currency", "USD")
    if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha() and currency.isupper()):
        problems.append(f"{where}/currency: {currency!r} is not a three-letter currency code such as USD or EUR")
    if "base" in cost and (_number(cost["base"]) is None or isinstance(cost["base"], str)):
        problems.append(f"{where}/base: {cost['base']!r} is not a number")
    unknown = sorted(set(cost) - {"currency", "base", *SECTIONS})
    if unknown:
        problems.append(
            f"{where}: unknown key(s) {', '.join(unknown)}; a cost has currency, base, {', '.join(SECTIONS)}"
        )
    for section in SECTIONS:
        entries = cost.get(section, {})
        if not isinstance(entries, dict):
            problems.append(f"{where}/{section}: must map param names to prices")
            continue
        for name, rule in entries.items():
            here = f"{where}/{section}{pointer((name,))}"
            problems += _rule_problems(section, str(name), rule, params_schema, here)
    return problems


def _rule_problems(section: str, name: str, rule: Any, params_schema: dict, here: str) -> list[str]:
    sub = param_schema(params_schema, name)
    if sub is None:
        return [f"{here}: there is no param {name!r} in /params (name a top-level param, or a JSON pointer to one)"]
    label = title(sub, name.rsplit("/", 1)[-1])
    if sub.get("x-sensitive"):
        return [f"{here}: {label} is sensitive; a cost cannot read a secret"]
    if section == "prices":
        choices = options(sub)
        if choices is None:
            return [f"{here}: {label} is not an enum, so it has no values to price; use per_unit for a number"]
        if not isinstance(rule, dict):
            return [f"{here}: map each value of {label} to its monthly price"]
        values = {as_text(v) for v, _ in choices}
        problems = [
            f"{here}{pointer((key,))}: {key!r} is not a value of {label} (its values are {', '.join(sorted(values))})"
            for key in map(str, rule)
            if key not in values
        ]
        problems += [
            f"{here}{pointer((key,))}: the price {price!r} is not a number"
            for key, price in rule.items()
            if _number(price) is None or isinstance(price, str)
        ]
        missing = sorted(values - set(map(str, rule)))
        if missing:
            problems.append(f"{here}: no price for {label} {', '.join(repr(v) for v in missing)}")
        return problems
    kind = _kind(sub)
    if section == "per_unit":
        if kind != "number":
            return [f"{here}: {label} is not a number, so it has no units to price; use prices for an enum"]
        if _number(rule) is None or isinstance(rule, str):
            return [f"{here}: the price of one unit of {label} must be a number, not {rule!r}"]
        return []
    if kind == "boolean":
        if _number(rule) is None or isinstance(rule, str):
            return [f"{here}: {label} is on or off, so its multiplier is a number (x 2 when on), not {rule!r}"]
        return []
    if kind == "number":
        if rule != "value":
            return [f"{here}: {label} is a number; its multiplier is the word value (x its value), not {rule!r}"]
        return []
    return [f"{here}: {label} is neither on/off nor a number, so it cannot multiply the cost"]


def _value(params: dict, params_schema: dict, name: str) -> Any:
    try:
        value = JsonPointer(name if name.startswith("/") else pointer((name,))).resolve(params, _MISSING)
    except Exception:  # a path through a non-object: the value is not there
        value = _MISSING
    if value is _MISSING:
        value = (param_schema(params_schema, name) or {}).get("default", _MISSING)
    return value


def monthly_estimate(cost: dict | None, params_schema: dict, params: dict) -> Estimate | None:
    """The monthly cost of ``params`` under a bundle's cost model, or None when the bundle has none.

    The one function that turns params into money: forms, plans, exceptions, budgets and the cost pages
    all come here. The model is linted on publish, so each param it names exists.
    """
    if not cost:
        return None
    params = params if isinstance(params, dict) else {}
    total = _number(cost.get("base", 0)) or Decimal(0)
    for name, table in (cost.get("prices") or {}).items():
        value = _value(params, params_schema, name)
        if value is not _MISSING:
            total += _number((table or {}).get(as_text(value), 0)) or Decimal(0)
    for name, price in (cost.get("per_unit") or {}).items():
        units = _number(_value(params, params_schema, name))
        if units is not None:
            total += units * (_number(price) or Decimal(0))
    for name, rule in (cost.get("multipliers") or {}).items():
        value = _value(params, params_schema, name)
        if value is True:
            total *= _number(rule) or Decimal(1)
        elif rule == "value" and _number(value) is not None:
            total *= _number(value)
    return Estimate(total.quantize(CENTS, rounding=ROUND_HALF_UP), str(cost.get("currency") or "USD"))


def difference(new: Estimate | None, old: Estimate | None) -> Decimal | None:
    """How much ``new`` adds to ``old`` a month (negative: saves); None when either has no estimate or they
    are in different currencies. A new deployment (``old`` None with ``new`` priced) adds all of it."""
    if new is None:
        return None
    if old is None:
        return new.amount
    return new.amount - old.amount if new.currency == old.currency else None


def change_words(new: Estimate | None, old: Estimate | None) -> str:
    """``this change adds $1,200/month`` (or saves, or changes nothing): for plans, approvals and exceptions."""
    delta = difference(new, old)
    if delta is None:
        return ""
    currency = new.currency
    if delta > 0:
        return f"this change adds {money(delta, currency)}/month"
    if delta < 0:
        return f"this change saves {money(-delta, currency)}/month"
    return "this change does not change the monthly cost"


def form_line(new: Estimate | None, current: Estimate | None) -> dict | None:
    """The form's live line: ``≈ $380/month`` and, for a deployment that has one, ``+$210 from now``."""
    if new is None:
        return None
    line = {"estimate": f"≈ {new}/month", "change": ""}
    if current is not None:
        delta = difference(new, current)
        if delta is not None:
            line["change"] = "the same as now" if delta == 0 else f"{money(delta, new.currency, signed=True)} from now"
    return line


def priced_presets(version) -> list[dict]:
    """A bundle version's presets, each with its monthly estimate in words (``estimate``, "" without a model)."""
    priced = []
    for preset in version.presets:
        estimate = version.monthly_estimate(preset.get("params") or {})
        priced.append({**preset, "estimate": f"≈ {estimate}/month" if estimate else ""})
    return priced
