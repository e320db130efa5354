"""The policy's part in a run: a gate step that sends the plan actions the environment gates to ops,
and the note to ops when a plan waits for them. Both are added to the runs package from here (it
does not know policies): the step to the pipeline's gate stage, the note on ``run_finished``."""

from __future__ import annotations

from ..choices import RunStatus
from ..notifications import notify, ops_emails
from ..runs.gate import APPROVAL, Hold
from ..runs.pipeline import GATE, PIPELINE
from ..runs.signals import run_finished
from .rules import needs_person, policy_for


@PIPELINE.step(GATE)
def policy_approval(ex) -> None:
    """Plan actions the environment's policy gates (by default a replace or destroy in production) wait for ops."""
    environment = ex.deployment.environment
    held = needs_person(environment=environment, summary=ex.summary)
    if held:
        ex.holds.append(Hold(APPROVAL, f"The policy of {environment} needs ops to approve: {', '.join(held)}."))


def tell_ops_a_plan_waits(sender, run, deployment, **kwargs) -> None:
    """``run_finished``: a plan held for approval is mailed to ops (and posted to the policy's webhook)."""
    if run.status != RunStatus.AWAITING_APPROVAL:
        return
    summary = run.plan_summary or {}
    notify(
        subject=f"Run #{run.pk} of {deployment} awaits approval",
        body=(
            f"{run.requested_by_name} asked to {run.action} {deployment}. The plan needs ops to approve: "
            f"{summary.get('add', 0)} to add, {summary.get('change', 0)} to change, "
            f"{summary.get('replace', 0)} to replace, {summary.get('destroy', 0)} to destroy."
        ),
        path=run.get_absolute_url(),
        recipients=ops_emails(),
        webhook_url=policy_for(deployment.environment).webhook_url,
        event="run.awaiting_approval",
    )


run_finished.connect(tell_ops_a_plan_waits, dispatch_uid="deployments.policy.tell_ops_a_plan_waits")
