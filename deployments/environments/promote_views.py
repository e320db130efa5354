"""The promote page: pick the target, review what changes there (per deployment, each param and connection before
and after, whether it is within the target's policy, what it costs), confirm; then what became of each one."""

from __future__ import annotations

import contextlib

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse

from portal.errors import ServiceError
from portal.querysets import CHANGE

from ..models import Environment
from .promote import environment_promote, promote_access, promote_plan
from .views import environment_for


def _chosen_target(request, data) -> Environment | None:
    raw = (data.get("to") or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 10 or int(raw) > 2**31 - 1:
        raise Http404("No such environment.")
    return environment_for(request, int(raw))


@login_required
def environment_promote_page(request, pk):
    """``?to=<environment id>[&deployment=<name>]``: the plan to review; POST (with its fingerprint) does it;
    ``?done=<event id>`` says what became of each deployment."""
    source = environment_for(request, pk)
    data = request.POST if request.method == "POST" else request.GET
    target = _chosen_target(request, data)
    deployment = (data.get("deployment") or "").strip()[:60]
    targets = (
        Environment.objects.actionable_by(request.user, CHANGE)
        .exclude(pk=source.pk)
        .select_related("project")
        .order_by("project__slug", "slug")
    )
    context = {
        "environment": source,
        "target": target,
        "targets": targets,
        "deployment": deployment,
        "plan": None,
        "error": "",
        "done": _done(request, target),
    }
    if target is not None and context["done"] is None:
        try:
            promote_access(actor=request.user, source=source, target=target)
            if request.method == "POST":
                done = environment_promote(
                    source=source,
                    target=target,
                    actor=request.user,
                    deployment=deployment,
                    reason=request.POST.get("reason", "").strip()[:500],
                    expected_plan=request.POST.get("plan", ""),
                )
                request.session[DONE_KEY] = {**done.as_data(), "target_id": target.pk}
                url = reverse("deployments:env-promote", args=[source.pk])
                return redirect(f"{url}?to={target.pk}&done=1")
            context["plan"] = promote_plan(source=source, target=target, deployment=deployment)
        except PermissionDenied as exc:
            context["error"], context["forbidden"] = str(exc), True
        except ServiceError as exc:
            context["error"] = exc.message
            with contextlib.suppress(ServiceError):  # the plan as it stands, beside why it was refused
                context["plan"] = promote_plan(source=source, target=target, deployment=deployment)
    status = 403 if context.get("forbidden") else 400 if context["error"] else 200
    return render(request, "deployments/env_promote.html", context, status=status)


DONE_KEY = "promotion_done"


def _done(request, target) -> dict | None:
    """What the promotion this page has just made did (kept in the session for the page after the redirect; the
    audit event ``environment.promoted`` keeps it for good)."""
    if target is None or request.GET.get("done") != "1":
        return None
    done = request.session.get(DONE_KEY)
    return done if isinstance(done, dict) and done.get("target_id") == target.pk else None
