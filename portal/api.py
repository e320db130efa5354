"""One error format for the whole API: ``{"message": ..., "errors": {"/json/pointer": [...]}}``."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from deployments.services import ParamsInvalid, ServiceError


def _pointer_errors(detail, prefix: str = "") -> dict[str, list[str]]:
    """Flatten DRF's nested error detail into messages keyed by JSON pointer."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            where = prefix if key in ("non_field_errors", "__all__") else f"{prefix}/{key}"
            for k, v in _pointer_errors(value, where).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            out[prefix] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                for k, v in _pointer_errors(item, f"{prefix}/{index}").items():
                    out.setdefault(k, []).extend(v)
    else:
        out[prefix] = [str(detail)]
    return out


def exception_handler(exc, context):
    if isinstance(exc, ParamsInvalid):
        errors = {"/params" + pointer: messages for pointer, messages in exc.errors.items()}
        return Response({"message": exc.message, "errors": errors}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, ServiceError):
        errors = {f"/{exc.field}": [exc.message]} if exc.field else {}
        return Response({"message": exc.message, "errors": errors}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = _pointer_errors(exc.detail)
        first = next(iter(errors.values()), ["Invalid request."])[0]
        response.data = {"message": f"Invalid request: {first}", "errors": errors}
    else:
        detail = response.data.get("detail", response.data) if isinstance(response.data, dict) else response.data
        response.data = {"message": str(detail), "errors": {}}
    return response
