"""Reads for alarms: which alarms fire now (the latest event of each alarm name says), their history, and the
remedy a firing alarm offers."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, QuerySet

from bundles.alarms import Remedy, remedy_params, section_anchor

from ..models import Deployment
from .models import AlarmEvent, AlarmStatus, SnsSubscription


def latest_events() -> QuerySet[AlarmEvent]:
    """Each (deployment, alarm name)'s latest event: no later one of the same alarm exists."""
    later = AlarmEvent.objects.filter(
        deployment_id=OuterRef("deployment_id"), name=OuterRef("name"), id__gt=OuterRef("id")
    )
    return AlarmEvent.objects.filter(~Exists(later))


def firing_events() -> QuerySet[AlarmEvent]:
    return latest_events().filter(status=AlarmStatus.FIRING)


def with_firing_alarms(deployments: QuerySet[Deployment]) -> QuerySet[Deployment]:
    """The deployments with an alarm firing now (the estate's ``alarm:firing``)."""
    return deployments.filter(Exists(firing_events().filter(deployment_id=OuterRef("pk"))))


def firing_counts(deployment_ids) -> dict:
    """{deployment id: number of alarms firing} for the canvas and the overview."""
    counts: dict = {}
    for deployment_id in (
        firing_events().filter(deployment_id__in=list(deployment_ids)).values_list("deployment_id", flat=True)
    ):
        counts[deployment_id] = counts.get(deployment_id, 0) + 1
    return counts


def firing_alarms(deployment: Deployment) -> list[AlarmEvent]:
    return list(firing_events().filter(deployment=deployment).order_by("-starts_at", "-id"))


@dataclass
class AlarmShown:
    event: AlarmEvent
    title: str
    runbook: str
    runbook_anchor: str
    remedy: Remedy | None


def alarms_shown(deployment: Deployment) -> list[AlarmShown]:
    """The firing alarms as the deployment page shows them: with the runbook section and the remedy."""
    version = deployment.bundle_version
    declared = {a.get("name"): a for a in version.alarms or [] if isinstance(a, dict)}
    shown = []
    for event in firing_alarms(deployment):
        alarm = declared.get(event.bundle_alarm) or {}
        section = alarm.get("runbook") or ""
        shown.append(
            AlarmShown(
                event=event,
                title=alarm.get("title") or event.name,
                runbook=section,
                runbook_anchor=section_anchor(section) if section else "",
                remedy=remedy_params(alarm, version.params_schema, deployment.params) if alarm else None,
            )
        )
    return shown


def alarm_history(deployment: Deployment, limit: int = 50) -> list[AlarmEvent]:
    return list(AlarmEvent.objects.filter(deployment=deployment).order_by("-id")[:limit])


def sns_subscriptions(deployment: Deployment) -> list[SnsSubscription]:
    return list(SnsSubscription.objects.filter(deployment=deployment)[:10])
