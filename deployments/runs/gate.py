"""The gate: what happens to a plan once it is made.

Gate steps (the pipeline's ``gate`` stage) look at the plan and may add a :class:`Hold`: the
environment's policy sends some plan actions to ops for approval (``deployments.policy`` adds that
step), a plan that replaces or destroys, or a requester who asked to review first, waits for the
requester. :func:`decide` is the decision table over the holds; it is pure, so it is unit-tested
on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..choices import RunAction, RunStatus

APPROVAL, REVIEW = "approval", "review"  # who a hold waits for: ops, or the requester


@dataclass(frozen=True)
class Hold:
    """A reason the plan may not apply by itself: ``kind`` says who must act, ``why`` is logged."""

    kind: str
    why: str


@dataclass(frozen=True)
class Decision:
    """What the runner does with a plan: ``apply`` it, or end the run with ``status`` (keeping the saved
    plan when ``keep_plan``, for the person who must act), after storing outputs when ``outputs``."""

    apply: bool = False
    status: str = ""
    keep_plan: bool = False
    outputs: bool = False
    why: str = ""


def decide(*, action: str, summary: dict, holds: list[Hold]) -> Decision:
    """The decision table:

    ========================  ===================================================
    a plan-only run           ends, succeeded (the plan is the result)
    a plan with no changes    ends, succeeded, outputs refreshed from the state (drift found by
                              its refresh is a change: applying it writes the refreshed state)
    a hold for approval       waits for ops: awaiting approval, plan kept
    a hold for review         waits for the requester: planned, plan kept
    anything else             applies
    ========================  ===================================================
    """
    if action == RunAction.PLAN:
        return Decision(status=RunStatus.SUCCEEDED)
    if not summary.get("has_changes"):
        return Decision(status=RunStatus.SUCCEEDED, outputs=True)
    approvals = [h.why for h in holds if h.kind == APPROVAL]
    if approvals:
        return Decision(status=RunStatus.AWAITING_APPROVAL, keep_plan=True, why=" ".join(approvals))
    reviews = [h.why for h in holds if h.kind == REVIEW]
    if reviews:
        return Decision(status=RunStatus.PLANNED, keep_plan=True, why=" ".join(reviews))
    return Decision(apply=True)


def review_hold(*, action: str, summary: dict, auto_apply: bool) -> Hold | None:
    """The requester's own gate: a plan that replaces or destroys, or a run asked to stop at its plan."""
    if action == RunAction.APPLY and summary.get("risky"):
        return Hold(REVIEW, "The plan waits for review before it is applied: it replaces or destroys resources.")
    if not auto_apply:
        return Hold(REVIEW, "The plan waits for review before it is applied: a review was requested.")
    return None
