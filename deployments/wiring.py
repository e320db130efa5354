"""What the deployments app connects at start-up (``DeploymentsConfig.ready``): the hooks the lower
layers offer, the signals between its own sub-domains, and the steps other packages add to a run.

Lower layers never import ``deployments``; they take a function instead (``bundles.extensions``,
``portal.context_processors``). Sub-domains that build on runs add to the run pipeline from their
own modules (``policy.gate``, the estate's index); importing them here is what makes them count.
"""

from __future__ import annotations

from django.db.models.signals import post_save, pre_save

from bundles import extensions
from portal.context_processors import count_waiting_for_ops
from portal.history import record_scope_change

from . import params_form
from .alarms import steps as alarm_steps  # noqa: F401  (the alarm webhook in the slipway object)
from .choices import RunStatus
from .connections import steps as connection_steps  # noqa: F401  (connections in, artifacts out, in every run)
from .drift.services import check_after_resolution
from .environments.tasks import run_finished_drives
from .estate import index as estate_index  # noqa: F401  (the resource index follows each state written)
from .estate.bulk import upgrade_offer
from .models import Deployment, Environment, ExceptionRequest, Policy, Project, Run
from .policy import gate as policy_gate  # noqa: F401  (the policy's gate step; ops told of held plans)
from .policy.rules import default_policy_follows_tier
from .runs import steps as run_steps  # noqa: F401  (every run's own steps)
from .runs.signals import run_finished


def waiting_for_ops() -> int:
    pending = ExceptionRequest.objects.filter(status=ExceptionRequest.Status.PENDING).count()
    return pending + Run.objects.filter(status=RunStatus.AWAITING_APPROVAL).count()


# --- Scope: a project moved to another team, an environment that changed tier ------------------------


def remember_scope(sender, instance, raw: bool = False, **kwargs) -> None:
    """``pre_save``: what the row says before the change (its team, or its tier)."""
    field = {Project: "team_id", Environment: "tier"}[sender]
    if not raw and instance.pk:
        instance._scope_before = sender.objects.filter(pk=instance.pk).values_list(field, flat=True).first()


def file_under_new_scope(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    """``post_save``: when a project moved to another team, or an environment changed tier, everything under
    it gets a history row filed under the new scope (nothing of theirs changed). Earlier rows keep the
    scope they were written with, so the reviewers' pages file earlier history where it was then."""
    before = instance.__dict__.pop("_scope_before", None)
    if raw or created:
        return
    if sender is Project and before != instance.team_id:
        note = f"project {instance.slug} moved to team {instance.team.slug}"
        environments = Environment.objects.filter(project=instance)
    elif sender is Environment and before != instance.tier:
        note = f"environment {instance} became {instance.get_tier_display().lower()}"
        environments = Environment.objects.filter(pk=instance.pk)
    else:
        return
    change = instance.history.order_by("-history_date", "-history_id").first()  # the row this save wrote
    actor = change.history_user if change is not None else None
    if sender is Project:
        record_scope_change(Environment, environments.select_related("project__team"), note=note, actor=actor)
    record_scope_change(Policy, Policy.objects.filter(environment__in=environments), note=note, actor=actor)
    record_scope_change(Deployment, Deployment.objects.filter(environment__in=environments), note=note, actor=actor)


def connect() -> None:
    extensions.lend_form_context(params_form.form_context)
    extensions.lend_detail_context(upgrade_offer)
    count_waiting_for_ops(waiting_for_ops)
    run_finished.connect(check_after_resolution, dispatch_uid="deployments.drift.check_after_resolution")
    run_finished.connect(run_finished_drives, dispatch_uid="deployments.environments.run_finished_drives")
    post_save.connect(default_policy_follows_tier, sender=Environment, dispatch_uid="deployments.default_policy")
    for model in (Project, Environment):
        pre_save.connect(remember_scope, sender=model, dispatch_uid=f"deployments.remember_scope.{model.__name__}")
        post_save.connect(file_under_new_scope, sender=model, dispatch_uid=f"deployments.new_scope.{model.__name__}")
