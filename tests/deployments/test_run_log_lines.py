"""The run log says each planned change once (issue 19: "the log without repeated plan lines"): applying the
saved plan re-announces every change, and the engine's plan total duplicated the run's own sentence."""

import json

import pytest

from deployments import services
from deployments.runs.execution import LogWriter, Redactor

pytestmark = pytest.mark.django_db

ADDR = "sandbox_database.main"


def event(kind, message, **extra):
    return json.dumps({"@level": "info", "@message": message, "type": kind, **extra})


def planned():
    return event("planned_change", f"{ADDR}: Plan to create", change={"resource": {"addr": ADDR}, "action": "create"})


PLAN = [
    event("version", "Terraform 1.11.4"),
    planned(),
    event("change_summary", "Plan: 1 to add, 0 to change, 0 to destroy.", changes={"add": 1, "operation": "plan"}),
]
APPLY = [
    event("version", "Terraform 1.11.4"),
    planned(),
    event("apply_start", f"{ADDR}: Creating...", hook={"resource": {"addr": ADDR}, "action": "create"}),
    event("apply_complete", f"{ADDR}: Creation complete", hook={"resource": {"addr": ADDR}, "action": "create"}),
    event("change_summary", "Apply complete! Resources: 1 added.", changes={"add": 1, "operation": "apply"}),
]


@pytest.fixture
def run(dev, catalog, proto_env):
    deployment = services.deployment_create(
        environment=proto_env, name="logged", bundle_version=catalog["workbench"], params={"message": "hi"}, actor=dev
    )
    return deployment.runs.get()


def texts(run):
    return list(run.log_lines.order_by("seq").values_list("text", flat=True))


def feed(writer, lines):
    for line in lines:
        writer.engine("stdout", line)
    writer.flush()


def test_each_planned_change_and_the_plan_total_are_logged_once(run):
    writer = LogWriter(run, Redactor())
    feed(writer, PLAN)
    writer.system("Plan: 1 to add, 0 to change, 0 to replace, 0 to destroy.")
    feed(writer, APPLY)
    logged = texts(run)
    assert logged.count(f"{ADDR}: Plan to create") == 1
    assert [t for t in logged if t.startswith("Plan:")] == ["Plan: 1 to add, 0 to change, 0 to replace, 0 to destroy."]
    assert logged[-1] == "Apply complete! Resources: 1 added."
    assert writer.planned_addresses == {ADDR} and writer.done_addresses == {ADDR}  # progress still counted


def test_an_apply_after_a_review_does_not_announce_the_plan_again(run):
    feed(LogWriter(run, Redactor()), PLAN)
    feed(LogWriter(run, Redactor()), APPLY)  # the reviewed apply: another execution, the same run
    assert texts(run).count(f"{ADDR}: Plan to create") == 1
