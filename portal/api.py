"""One error format for the whole API: ``{"message": ..., "errors": {"/json/pointer": [...]}}``."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.openapi import AutoSchema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .crypto import KeyMismatch
from .errors import Conflict, ParamsInvalid, ServiceError
from .inputs import InputInvalid


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
    if isinstance(exc, KeyMismatch):
        return Response({"message": str(exc), "errors": {}}, status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    if isinstance(exc, ParamsInvalid):
        errors = {"/params" + pointer: messages for pointer, messages in exc.errors.items()}
        return Response({"message": exc.message, "errors": errors}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, InputInvalid):
        return Response({"message": exc.message, "errors": exc.errors}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, ServiceError):
        errors = {f"/{exc.field}": [exc.message]} if exc.field else {}
        code = status.HTTP_409_CONFLICT if isinstance(exc, Conflict) else status.HTTP_400_BAD_REQUEST
        return Response({"message": exc.message, "errors": errors}, status=code)
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


class ErrorSerializer(serializers.Serializer):
    """Every error the API returns."""

    message = serializers.CharField(help_text="One sentence a person can read.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages keyed by the JSON pointer of the field they are about; empty when no field is at fault.",
    )


class SlipwayAutoSchema(AutoSchema):
    """drf-spectacular's schema, with the error responses every operation can give, in the one error format."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        codes = ["400", "401", "403"]
        if "{" in self.path:
            codes.append("404")
        if self.method in ("POST", "PUT", "PATCH"):
            codes += ["409", "413"]  # a state conflict (already finished, changed since read); a body too large
        from .idempotency import HEADER  # why: DRF loads this module from settings, before models may load

        if any(getattr(p, "name", None) == HEADER for p in self.get_override_parameters()):
            codes += ["409", "422"]
        codes.append("500")
        for code in codes:
            if code not in responses:
                responses[code] = self._get_response_for_code(ErrorSerializer, code, direction=direction)
        return responses


# component -> [(collection path, field of the component that is the id in that collection)]
_LINKS = {
    "Deployment": [("/api/v1/deployments/", "/id")],
    "DeploymentCreated": [("/api/v1/deployments/", "/id"), ("/api/v1/runs/", "/run/id")],
    "Run": [("/api/v1/runs/", "/id"), ("/api/v1/deployments/", "/deployment")],
    "ExceptionRequest": [("/api/v1/exceptions/", "/id")],
    "Bundle": [("/api/v1/bundles/", "/name")],
    "BundleDetail": [("/api/v1/bundles/", "/name")],
    "Project": [("/api/v1/projects/", "/id")],
    "Environment": [("/api/v1/environments/", "/id")],
    "AuditEvent": [("/api/v1/audit/events/", "/id")],
}
_FIRST_PARAM = re.compile(r"^\{([^}]+)\}/")


def add_links(result, generator, request, public):
    """Add OpenAPI links: from a response that names an object to every operation on that object.

    A created deployment leads to its detail, plan, apply, destroy, history and restore, and to its
    first run; a run leads to its logs, cancel, confirm, approve and reject. Lists lead there
    through their first result. Clients (and schemathesis' stateful phase) follow them.
    """
    operations = [
        (path, op)
        for path, item in result.get("paths", {}).items()
        for method, op in item.items()
        if isinstance(op, dict) and "operationId" in op
    ]
    for _path, op in operations:
        for code, response in op.get("responses", {}).items():
            if not code.startswith("2"):
                continue
            ref = response.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref", "")
            component = ref.rsplit("/", 1)[-1]
            prefix = ""
            if component.startswith("Paginated") and component.endswith("List"):
                component, prefix = component[len("Paginated") : -len("List")], "/results/0"
            links = {}
            for collection, field in _LINKS.get(component, []):
                for target_path, target in operations:
                    match = (
                        _FIRST_PARAM.match(target_path[len(collection) :])
                        if target_path.startswith(collection)
                        else None
                    )
                    if match and target is not op:
                        links[target["operationId"]] = {
                            "operationId": target["operationId"],
                            "parameters": {match.group(1): f"$response.body#{prefix}{field}"},
                        }
            if links:
                response["links"] = links
    return result
