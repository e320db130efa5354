"""What the layers above lend the bundle pages.

The catalog, a bundle's page and the form engine's htmx endpoint belong to ``bundles``. Whose
deployment a form edits, what that deployment already stores, which environment's policy narrows
the form and who may see any of it belong to ``deployments``, a layer above, which the bundles app
never imports. It hands those answers down at start-up (``DeploymentsConfig.ready``) through the
two hooks here. Without them (the bundles app on its own) a form draws its bundle's whole schema
and edits no stored deployment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FormContext:
    """How one request's params form of a bundle version is drawn and checked.

    ``deployment`` is the object being edited (None for a new one); ``stored`` its params in clear
    (a blank sensitive field keeps what is stored); ``stored_secrets`` the pointers of the sensitive
    values it holds; ``lock_immutable`` whether ``x-immutable`` fields are locked yet; ``current_cost``
    what the deployment costs a month now; and ``policy(params)`` returns the schema to draw, the policy's
    objections to ``params`` (None when the policy is not checked live) and the sentence a submit would
    say about them ("" when none).
    """

    schema: dict
    deployment: Any = None
    stored: dict | None = None
    stored_secrets: set[str] = field(default_factory=set)
    lock_immutable: bool = False
    policy: Callable[[dict], tuple[dict, dict | None, str]] | None = None
    current_cost: Any = None  # the deployment's monthly estimate now (a bundles.cost.Estimate), for "+$210 from now"

    def drawn(self, params: dict) -> tuple[dict, dict | None, str]:
        return self.policy(params) if self.policy is not None else (self.schema, None, "")


def _whole_schema(request, bundle_version) -> FormContext:
    return FormContext(schema=bundle_version.params_schema)


_form_context: Callable[[Any, Any], FormContext] = _whole_schema
_detail_providers: list[Callable[[Any, Any], dict]] = []


def lend_form_context(provider: Callable[[Any, Any], FormContext]) -> None:
    """``provider(request, bundle_version)`` answers for the form endpoint; it raises Http404 or
    PermissionDenied for a deployment the user may not see or change."""
    global _form_context
    _form_context = provider


def lend_detail_context(provider: Callable[[Any, Any], dict]) -> None:
    """``provider(request, latest_version)`` adds to a bundle page's context (e.g. the upgrade offer)."""
    if provider not in _detail_providers:
        _detail_providers.append(provider)


def form_context(request, bundle_version) -> FormContext:
    return _form_context(request, bundle_version)


def detail_context(request, version) -> dict:
    extra: dict = {}
    for provider in _detail_providers:
        extra.update(provider(request, version))
    return extra
