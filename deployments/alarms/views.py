"""What the deployment page and its change form show of alarms (the webhook itself is in :mod:`.webhook`)."""

from __future__ import annotations

from bundles.alarms import Remedy, alarm_named, remedy_params

from ..models import Deployment
from .selectors import alarm_history, alarms_shown, sns_subscriptions
from .services import webhook_url_shown


def alarm_context(deployment: Deployment) -> dict:
    """The deployment page's *Alarms* card: firing alarms with their runbook section and remedy, the history,
    SNS subscriptions waiting to be confirmed, and the webhook's URL with its token masked."""
    declared = deployment.bundle_version.alarms or []
    history = alarm_history(deployment, limit=20)
    if not declared and not history:
        return {"alarms_card": False}
    return {
        "alarms_card": True,
        "alarms_declared": declared,
        "alarms_firing": alarms_shown(deployment),
        "alarm_history": history,
        "sns_subscriptions": sns_subscriptions(deployment),
        "alarm_webhook_shown": webhook_url_shown(deployment),
    }


def remedy_prefill(deployment: Deployment, name: str) -> Remedy | None:
    """The params an alarm's remedy proposes (``?remedy=<alarm>`` on the change form), or None."""
    if not name:
        return None
    alarm = alarm_named(deployment.bundle_version.alarms, name[:63])
    if alarm is None:
        return None
    return remedy_params(alarm, deployment.bundle_version.params_schema, deployment.params)
