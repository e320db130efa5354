"""The run pipeline without the engine: the gate's decision table, the one status rule, and the stages
driven with a fake engine (fast: the real engine's end-to-end tests are in test_run_engine.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bundles.loader import module_archive
from bundles.models import Bundle, BundleVersion
from deployments import services
from deployments.choices import DeploymentStatus, RunStatus
from deployments.models import Deployment, Environment
from deployments.runs import runner
from deployments.runs.execution import RunFailed
from deployments.runs.gate import APPROVAL, REVIEW, Hold, decide, review_hold
from deployments.runs.pipeline import AFTER_APPLY, GATE, INPUTS, PIPELINE, Pipeline
from deployments.runs.status import deployment_status_after

# --- the gate's decision table -----------------------------------------------------------------

CHANGES = {"has_changes": True, "risky": False, "total": 1}
NO_CHANGES = {"has_changes": False, "risky": False, "total": 0}
HOLD_OPS = Hold(APPROVAL, "ops must approve")
HOLD_REQUESTER = Hold(REVIEW, "the requester reviews")


@pytest.mark.parametrize(
    ("action", "summary", "holds", "apply", "status", "keep_plan"),
    [
        ("plan", CHANGES, [HOLD_OPS], False, RunStatus.SUCCEEDED, False),  # a plan is its own result
        ("apply", NO_CHANGES, [HOLD_OPS], False, RunStatus.SUCCEEDED, False),  # nothing to apply or approve
        ("apply", CHANGES, [], True, "", False),
        ("apply", CHANGES, [HOLD_REQUESTER], False, RunStatus.PLANNED, True),
        ("apply", CHANGES, [HOLD_OPS], False, RunStatus.AWAITING_APPROVAL, True),
        ("apply", CHANGES, [HOLD_REQUESTER, HOLD_OPS], False, RunStatus.AWAITING_APPROVAL, True),  # ops first
        ("destroy", CHANGES, [], True, "", False),
        ("destroy", CHANGES, [HOLD_OPS], False, RunStatus.AWAITING_APPROVAL, True),
    ],
)
def test_the_gate_decides_from_the_action_the_plan_and_the_holds(action, summary, holds, apply, status, keep_plan):
    decision = decide(action=action, summary=summary, holds=holds)
    assert (decision.apply, decision.status, decision.keep_plan) == (apply, status, keep_plan)


def test_a_plan_that_changes_nothing_still_refreshes_the_outputs():
    assert decide(action="apply", summary=NO_CHANGES, holds=[]).outputs


@pytest.mark.parametrize(
    ("action", "risky", "auto_apply", "held"),
    [
        ("apply", True, True, True),  # a replace or destroy waits for the requester
        ("apply", False, False, True),  # the requester asked to review first
        ("apply", False, True, False),
        ("destroy", True, True, False),  # a destroy destroys: asking to destroy is the review
        ("destroy", True, False, True),
    ],
)
def test_the_requesters_review_holds_risky_plans_and_asked_for_reviews(action, risky, auto_apply, held):
    hold = review_hold(action=action, summary={**CHANGES, "risky": risky}, auto_apply=auto_apply)
    assert (hold is not None) == held and (hold is None or hold.kind == REVIEW)


# --- one status rule -----------------------------------------------------------------------------

LIVE, DRAFT, FAILED = DeploymentStatus.LIVE, DeploymentStatus.DRAFT, DeploymentStatus.FAILED
DEPLOYING, DESTROYING, DESTROYED = DeploymentStatus.DEPLOYING, DeploymentStatus.DESTROYING, DeploymentStatus.DESTROYED


@pytest.mark.parametrize(
    ("action", "run_status", "current", "applied_before", "others_pending", "expected"),
    [
        ("apply", RunStatus.SUCCEEDED, DEPLOYING, False, False, LIVE),
        ("destroy", RunStatus.SUCCEEDED, DESTROYING, True, False, DESTROYED),
        ("plan", RunStatus.SUCCEEDED, LIVE, True, False, None),
        ("apply", RunStatus.FAILED, DEPLOYING, True, False, FAILED),
        ("apply", RunStatus.INTERRUPTED, DEPLOYING, True, False, FAILED),  # the reaper
        ("plan", RunStatus.FAILED, LIVE, True, False, None),
        ("apply", RunStatus.CANCELLED, DEPLOYING, False, False, DRAFT),  # cancel, or an ops rejection
        ("apply", RunStatus.CANCELLED, DEPLOYING, True, False, LIVE),
        ("destroy", RunStatus.CANCELLED, DESTROYING, True, False, LIVE),
        ("apply", RunStatus.PLANNED, DEPLOYING, True, False, LIVE),  # waiting for the requester
        ("apply", RunStatus.AWAITING_APPROVAL, DEPLOYING, False, False, DRAFT),  # waiting for ops
        ("apply", RunStatus.CANCELLED, DEPLOYING, True, True, None),  # another run is on its way
        ("apply", RunStatus.CANCELLED, FAILED, True, False, None),
    ],
)
def test_one_rule_settles_a_deployment_after_any_run_outcome(
    action, run_status, current, applied_before, others_pending, expected
):
    assert (
        deployment_status_after(
            action=action,
            run_status=run_status,
            current=current,
            applied_before=applied_before,
            others_pending=others_pending,
        )
        == expected
    )


@pytest.mark.parametrize(
    ("applied_before", "holds_resources", "expected"),
    [(False, True, FAILED), (False, False, DRAFT), (True, True, LIVE)],
)
def test_a_cancelled_first_apply_that_created_resources_is_not_draft(applied_before, holds_resources, expected):
    status = deployment_status_after(
        action="apply",
        run_status=RunStatus.CANCELLED,
        current=DEPLOYING,
        applied_before=applied_before,
        others_pending=False,
        holds_resources=holds_resources,
    )
    assert status == expected


# --- the stages, with a fake engine --------------------------------------------------------------


def plan_json(*actions: str) -> dict:
    return {
        "resource_changes": [
            {"address": f"terraform_data.r{i}", "type": "terraform_data", "change": {"actions": list(a.split("+"))}}
            for i, a in enumerate(actions)
        ]
    }


class FakeEngine:
    """Stands in for the engine binary: records the commands and answers ``show`` with a given plan."""

    plan: dict = plan_json("create")

    def __init__(self, ex):
        self.ex = ex
        self.commands: list[tuple] = []
        self.inputs_on_disk: list[tuple[str, bool]] = []
        FakeEngine.last = self

    def run(self, *args):
        self.commands.append(args)
        self.inputs_on_disk.append((args[0], (self.ex.workdir / "terraform.tfvars.json").exists()))
        if args[0] == "plan":
            (self.ex.workdir / "plan.bin").write_bytes(b"a saved plan")

    def capture(self, *args):
        self.commands.append(args)
        return json.dumps(self.plan)


@pytest.fixture
def version(db, tmp_path):
    src = tmp_path / "module"
    src.mkdir()
    (src / "main.tf").write_text('variable "size" {\n  type = string\n}\n')
    bundle = Bundle.objects.create(name="fake", title="Fake")
    schema = {"type": "object", "properties": {"size": {"type": "string"}}, "required": ["size"]}
    return BundleVersion.objects.create(
        bundle=bundle, version="1.0.0", params_schema=schema, module_archive=module_archive(src), module_sha256="x"
    )


@pytest.fixture
def fake(settings, tmp_path):
    settings.SLIPWAY_WORKDIR = tmp_path / "work"
    FakeEngine.plan = plan_json("create")
    return FakeEngine


def deploy(environment: Environment, version, dev, **kwargs) -> Deployment:
    return services.deployment_create(
        environment=environment, name="fake", bundle_version=version, params={"size": "s"}, actor=dev, **kwargs
    )


def execute(deployment: Deployment, **kwargs):
    run = deployment.runs.order_by("-created_at", "-id").first()
    runner.execute(run.pk, engine_factory=FakeEngine, **kwargs)
    run.refresh_from_db()
    deployment.refresh_from_db()
    return run


def test_a_harmless_plan_applies_and_the_deployment_goes_live(fake, version, dev, proto_env):
    deployment = deploy(proto_env, version, dev)
    run = execute(deployment)
    assert run.status == RunStatus.SUCCEEDED and deployment.status == DeploymentStatus.LIVE
    assert [c[0] for c in FakeEngine.last.commands] == ["init", "plan", "show", "apply"]
    tfvars = [line for line in run.log_lines.values_list("text", flat=True) if "terraform.tfvars" in line]
    assert tfvars == []  # the inputs are a file, never on a command line


def test_plaintext_inputs_leave_the_disk_after_the_plan_and_the_work_directory_after_the_run(
    fake, version, dev, proto_env, settings
):
    deployment = deploy(proto_env, version, dev)
    run = execute(deployment)
    assert run.status == RunStatus.SUCCEEDED
    # The plan reads them; applying the saved plan does not, so they are gone by then.
    assert FakeEngine.last.inputs_on_disk == [("init", True), ("plan", True), ("apply", False)]
    assert list(Path(settings.SLIPWAY_WORKDIR).iterdir()) == []


def test_a_failed_plan_leaves_no_inputs_on_disk(fake, version, dev, proto_env, settings):
    class FailingPlan(FakeEngine):
        def run(self, *args):
            super().run(*args)
            if args[0] == "plan":
                raise RunFailed("`terraform plan` failed (exit 1).")

    deployment = deploy(proto_env, version, dev)
    run = deployment.runs.get()
    runner.execute(run.pk, engine_factory=FailingPlan)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert list(Path(settings.SLIPWAY_WORKDIR).iterdir()) == []


def test_a_gated_replace_in_production_waits_for_ops_with_its_plan(fake, version, dev, prod_env):
    FakeEngine.plan = plan_json("delete+create")
    deployment = deploy(prod_env, version, dev)
    run = execute(deployment)
    assert run.status == RunStatus.AWAITING_APPROVAL and run.plan_file
    assert deployment.status == DeploymentStatus.DRAFT  # never applied: back to rest while it waits
    assert "apply" not in [c[0] for c in FakeEngine.last.commands]
    assert run.log_lines.filter(text__contains="needs ops to approve: replace").exists()


def test_a_review_asked_for_stops_at_the_plan(fake, version, dev, proto_env):
    run = execute(deploy(proto_env, version, dev, auto_apply=False))
    assert run.status == RunStatus.PLANNED and run.plan_file


def test_a_capability_adds_a_step_without_touching_the_runner(fake, version, dev, proto_env):
    seen = []
    extended = Pipeline(steps={stage: list(steps) for stage, steps in PIPELINE.steps.items()})
    extended.add(INPUTS, lambda ex: ex.variables.update(extra="from a connection"), name="extra_inputs")
    extended.add(GATE, lambda ex: seen.append(("gate", ex.summary["add"])), name="cost", before="review")
    extended.add(AFTER_APPLY, lambda ex: seen.append(("after", ex.variables["extra"])), name="drift")
    run = execute(deploy(proto_env, version, dev), pipeline=extended)
    assert run.status == RunStatus.SUCCEEDED
    assert seen == [("gate", 1), ("after", "from a connection")]
    assert "extra_inputs" not in PIPELINE.names(INPUTS)  # the one pipeline every run follows is untouched


def test_adding_a_step_to_a_stage_that_does_not_exist_is_refused():
    with pytest.raises(ValueError, match="No stage 'drift'"):
        Pipeline().add("drift", lambda ex: None)


def test_a_failing_engine_fails_the_run_and_the_deployment(fake, version, dev, proto_env):
    class Broken(FakeEngine):
        def run(self, *args):
            if args[0] == "apply":
                raise RunFailed("`terraform apply` failed (exit 1).")
            super().run(*args)

    deployment = deploy(proto_env, version, dev)
    run = deployment.runs.get()
    runner.execute(run.pk, engine_factory=Broken)
    run.refresh_from_db()
    deployment.refresh_from_db()
    assert run.status == RunStatus.FAILED and "apply" in run.error and deployment.status == DeploymentStatus.FAILED


def test_a_crash_in_slipway_shows_people_one_sentence_and_the_worker_log_the_traceback(
    fake, version, dev, proto_env, caplog
):
    pipeline = Pipeline()

    @pipeline.step(INPUTS)
    def broken(ex):
        raise KeyError("a bug in a step")

    deployment = deploy(proto_env, version, dev)
    run = deployment.runs.get()
    runner.execute(run.pk, engine_factory=FakeEngine, pipeline=pipeline, worker="celery-a@host")
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and run.worker == "celery-a@host"
    assert "\n" not in run.error and "Traceback" not in run.error
    assert "KeyError" in run.error and "celery-a@host" in run.error
    assert "Traceback" in caplog.text and "a bug in a step" in caplog.text
