"""One check for every text and JSON value that comes in, whichever door it comes by (issue 11, item 10).

PostgreSQL refuses a NUL character in text and JSON, UTF-8 has no lone surrogates, JSON nested
thousands deep overflows the parser's stack, ``1e999`` is infinity (which JSON cannot hold) and an
integer of four thousand digits means nothing to the engine. Each of them used to reach the
database or the engine and come back as a 500. Here each one is refused with a sentence, at the
field it came in:

- :func:`text_problem` and :func:`value_problems` say what is wrong with a string or a JSON value
  (keys and strings, numbers, depth), keyed by JSON pointer;
- :class:`InputsMiddleware` applies them to the URL path, the query string and form fields of every
  request: a 400 with the field's name (JSON under ``/api/``, a page elsewhere). A page whose view is marked
  :func:`shows_input_problems` gets its form back instead: the characters at fault are removed from the
  posted values, :func:`input_problems` says which field had them, and the view's forms
  (:class:`InputProblemsMixin`, and the form engine's params) show it beside the field, keeping the
  other values as typed;
- :class:`LimitedJSONParser` is the API's JSON parser: a body over the size limit is a JSON 413,
  one nested deeper than :data:`MAX_DEPTH` or holding an unreadable value a JSON 400 with a message.

Services validate params through :func:`value_problems` too (``bundles.schema.param_errors``), so a
form, the CLI, a bulk change or a restore meets the same limits as the API.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, JsonResponse, QueryDict
from django.template.loader import render_to_string
from jsonpointer import JsonPointer
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 64
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
MAX_NUMBER_CHARS = 40  # the longest 64-bit integer is 20 characters; a float needs fewer than 30
_SURROGATE = re.compile("[\ud800-\udfff]")
_TOKENS = re.compile(r'[\[\]{}"\\]')


def text_problem(text: str) -> str | None:
    """What makes ``text`` unstorable, or None."""
    if "\x00" in text:
        return "Contains a NUL character (\\u0000), which cannot be stored."
    if _SURROGATE.search(text):
        return "Contains a lone surrogate (an invalid Unicode character)."
    return None


def number_problem(value: Any) -> str | None:
    """What makes a JSON number unusable (not finite, or an integer outside 64 bits), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and not INT_MIN <= value <= INT_MAX:
        return f"Integers must fit in 64 bits (between {INT_MIN} and {INT_MAX})."
    if isinstance(value, float) and not math.isfinite(value):
        return "Numbers must be finite (no infinity or NaN)."
    return None


def value_problems(value: Any, *, max_depth: int = MAX_DEPTH) -> dict[str, list[str]]:
    """Problems of a decoded JSON value, keyed by the JSON pointer of the value (or key) at fault."""
    problems: dict[str, list[str]] = {}
    _visit(value, [], problems, max_depth)
    return problems


def _where(parts: list) -> str:
    return JsonPointer.from_parts([str(p) for p in parts]).path if parts else ""


def _visit(value: Any, parts: list, problems: dict, max_depth: int) -> None:
    # The pointer is spelled only where a problem is found: a bulk dry run visits millions of values.
    if len(parts) > max_depth:
        problems.setdefault(_where(parts), []).append(f"Nested deeper than {max_depth} levels.")
        return
    if isinstance(value, str):
        found = text_problem(value)
    elif isinstance(value, (int, float)):
        found = number_problem(value)
    else:
        found = None
    if found:
        problems.setdefault(_where(parts), []).append(found)
    if isinstance(value, dict):
        for key, item in value.items():
            key_problem = text_problem(key) if isinstance(key, str) else None
            if key_problem:
                safe_key = key.encode("utf-8", "backslashreplace").decode().replace("\x00", "\\u0000")
                problems.setdefault(_where(parts), []).append(f"Key {safe_key!r}: {key_problem}")
                continue
            _visit(item, [*parts, key], problems, max_depth)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _visit(item, [*parts, index], problems, max_depth)


def json_depth(text: str) -> int:
    """How deeply ``text`` (JSON) nests arrays and objects, counted without parsing it (so without recursion),
    in one pass over its brackets, quotes and backslashes."""
    depth = deepest = 0
    in_string = False
    escaped_at = -1
    for match in _TOKENS.finditer(text):
        token, at = match.group(), match.start()
        if in_string:
            if at == escaped_at:
                continue
            if token == "\\":
                escaped_at = at + 1
            elif token == '"':
                in_string = False
        elif token == '"':
            in_string = True
        elif token in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif token in "]}":
            depth -= 1
    return deepest


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_CHARS:
        raise ValueError(f"The number {text[:20]}... has too many digits.")
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS * 4:
        raise ValueError(f"The number {text[:20]}... has too many digits.")
    return float(text)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON: numbers must be finite.")


def loads(text: str, *, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` with limits: depth, number length, no NaN/Infinity. Raises ValueError with a sentence."""
    if json_depth(text) > max_depth:
        raise ValueError(f"The JSON is nested deeper than {max_depth} levels.")
    return json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_refuse_constant)


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_REMOVED = " It was removed: check the value and send it again."


def shows_input_problems(view):
    """Mark a page view whose every posted field goes through a form that shows :func:`input_problems` beside
    the field (and is then invalid): the inputs middleware sends such a post on, cleaned, instead of a 400."""
    view.shows_input_problems = True
    return view


def input_problems(data) -> dict[str, list[str]]:
    """What the inputs middleware removed from a cleaned form post, by field name (empty for any other data)."""
    return getattr(data, "input_problems", {})


class InputProblemsMixin:
    """For a Django form: a field the inputs middleware cleaned shows why, and the form is not valid."""

    def full_clean(self):
        super().full_clean()
        if not self.is_bound:
            return
        for key, messages in input_problems(self.data).items():
            name = key
            if self.prefix:
                name = key.removeprefix(f"{self.prefix}-") if key.startswith(f"{self.prefix}-") else None
            if name in self.fields:
                self._errors.pop(name, None)  # "required" when nothing was left, which is not the news
                self.add_error(name, messages)


class _CleanedPost(QueryDict):
    input_problems: dict[str, list[str]]


def _cleaned_post(post: QueryDict) -> _CleanedPost:
    """``post`` without the characters no field can hold, saying by field what was removed."""
    cleaned = _CleanedPost(mutable=True)
    cleaned.input_problems = {}
    for key, values in post.lists():
        problem = text_problem(key)
        if problem:
            safe_key = _UNSTORABLE.sub("", key)
            cleaned.input_problems.setdefault(safe_key, []).append(f"The field's name: {problem}")
            continue
        for value in values:
            problem = text_problem(value)
            if problem and not cleaned.input_problems.get(key):
                cleaned.input_problems[key] = [problem + _REMOVED]
            cleaned.appendlist(key, _UNSTORABLE.sub("", value))
    cleaned._mutable = False
    return cleaned


def _json_error(message: str, errors: dict, status_code: int) -> JsonResponse:
    return JsonResponse({"message": message, "errors": errors}, status=status_code)


def _printable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode().replace("\x00", "\\x00")


class InputsMiddleware:
    """Refuse a URL path, query parameter or form field that :func:`text_problem` finds fault with."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            errors = self.problems(request)
        except RequestDataTooBig:
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            message = f"The request body is larger than the limit of {limit} bytes."
            if request.path.startswith("/api/"):
                return _json_error(message, {}, status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
            return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
        if not errors:
            return self.get_response(request)
        if all(at.startswith("/form/") for at in errors):
            request._input_problems = errors  # the view decides (process_view): its form back, or the 400
            return self.get_response(request)
        return self.refuse(request, errors)

    def process_view(self, request, view_func, view_args, view_kwargs):
        errors = getattr(request, "_input_problems", None)
        if errors is None:
            return None
        if getattr(view_func, "shows_input_problems", False):
            request.POST = _cleaned_post(request.POST)
            return None
        return self.refuse(request, errors)

    def refuse(self, request, errors: dict[str, list[str]]) -> HttpResponse:
        first_at, first = next(iter(errors.items()))
        message = f"Invalid input at {first_at}: {first[0]}"
        if request.path.startswith(("/api/", "/state/")):
            return _json_error(message, errors, status.HTTP_400_BAD_REQUEST)
        body = render_to_string("400.html", {"message": message, "errors": errors}, request=request)
        return HttpResponse(body, status=400)

    def problems(self, request) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        found = text_problem(request.path)
        if found:
            errors["/path"] = [found]
        sources = [("query", request.GET)]
        if request.method == "POST" and not request.path.startswith(("/state/", "/api/")):
            # Only form and multipart bodies fill it. The API's bodies are JSON, checked by its parser; reading
            # them here would leave DRF an empty stream.
            sources.append(("form", request.POST))
        for where, data in sources:
            for key, values in data.lists():
                name = f"/{where}/{_printable(key)}"
                for text in (key, *values):
                    found = text_problem(text)
                    if found:
                        errors.setdefault(name, []).append(found)
                        break
        return errors


class InputInvalid(Exception):
    """A request body with values no field can hold; ``errors`` are keyed by JSON pointer into the body."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        where, messages = next(iter(errors.items()))
        self.message = f"Invalid input at {where or 'the top level'}: {messages[0]}"
        super().__init__(self.message)


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


class LimitedJSONParser(JSONParser):
    """DRF's JSON parser with limits: body size (413), depth, number length and range, text (400)."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.SLIPWAY_API_MAX_BODY_BYTES
        request = (parser_context or {}).get("request")
        length = request.META.get("CONTENT_LENGTH") if request is not None else None
        if length and str(length).isdigit() and int(length) > limit:
            raise RequestTooLarge(f"The request body is larger than the limit of {limit} bytes.")
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise RequestTooLarge(f"The request body is larger than the limit of {limit} bytes.")
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(f"JSON parse error: the body is not valid {encoding}.") from exc
        try:
            data = loads(text)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"JSON parse error: {exc}") from exc
        problems = value_problems(data)
        if problems:
            raise InputInvalid(problems)
        return data
