"""A run's approval evidence and its log lines are append-only: the models refuse on every database,
and on PostgreSQL a trigger refuses the same in plain SQL."""

import pytest
from django.db import DatabaseError, connection, transaction

from deployments import services
from deployments.models import Run, RunLogLine
from deployments.runs.models import AppendOnly

pytestmark = pytest.mark.django_db
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL; SQLite relies on the models"
)


@pytest.fixture
def run(dev, catalog, proto_env):
    deployment = services.deployment_create(
        environment=proto_env, name="cache", bundle_version=catalog["echo"], params={"message": "hi"}, actor=dev
    )
    run = deployment.runs.get()
    assert run.approval_basis  # the policy that approved it
    RunLogLine.objects.create(run=run, seq=1, text="Plan: 1 to add")
    return run


def sql(statement, params):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, params)


def test_the_approval_basis_can_be_appended_to_but_not_rewritten(run):
    basis = run.approval_basis
    Run.objects.filter(pk=run.pk).update(approval_basis=f"{basis}; plan approved by ops")  # an approval
    with pytest.raises(AppendOnly):
        Run.objects.filter(pk=run.pk).update(approval_basis="approved by nobody in particular")
    run.refresh_from_db()
    run.approval_basis = ""
    with pytest.raises(AppendOnly):
        run.save()
    assert Run.objects.get(pk=run.pk).approval_basis == f"{basis}; plan approved by ops"


def test_runs_and_log_lines_are_never_deleted(run):
    with pytest.raises(AppendOnly):
        run.delete()
    with pytest.raises(AppendOnly):
        Run.objects.filter(pk=run.pk).delete()
    line = run.log_lines.get()
    with pytest.raises(AppendOnly):
        line.delete()
    with pytest.raises(AppendOnly):
        RunLogLine.objects.filter(run=run).delete()
    assert Run.objects.filter(pk=run.pk).exists() and run.log_lines.count() == 1


def test_log_lines_are_masked_only_while_their_run_executes(run):
    run.transition("running")
    RunLogLine.objects.filter(run=run).update(text="Plan: (sensitive)")  # the runner masking a late secret
    with pytest.raises(AppendOnly):
        RunLogLine.objects.filter(run=run).update(seq=5)
    run.transition("failed")
    with pytest.raises(AppendOnly):
        RunLogLine.objects.filter(run=run).update(text="nothing happened here")
    line = run.log_lines.get()
    line.text = "rewritten"
    with pytest.raises(AppendOnly):
        line.save()
    assert run.log_lines.get().text == "Plan: (sensitive)"


@postgres_only
def test_in_sql_the_trigger_refuses_rewriting_or_deleting_the_evidence(run):
    basis = run.approval_basis
    with pytest.raises(DatabaseError, match="append-only"):
        sql("UPDATE deployments_run SET approval_basis = %s WHERE id = %s", ["forged", run.pk])
    with pytest.raises(DatabaseError, match="append-only"):
        sql("DELETE FROM deployments_run WHERE id = %s", [run.pk])
    sql("UPDATE deployments_run SET approval_basis = %s WHERE id = %s", [f"{basis}; approved by ops", run.pk])
    sql("UPDATE deployments_run SET status = 'failed' WHERE id = %s", [run.pk])  # other columns still move

    with pytest.raises(DatabaseError, match="append-only"):
        sql("UPDATE deployments_runlogline SET text = 'forged' WHERE run_id = %s", [run.pk])
    with pytest.raises(DatabaseError, match="append-only"):
        sql("DELETE FROM deployments_runlogline WHERE run_id = %s", [run.pk])
    assert run.log_lines.get().text == "Plan: 1 to add"
    assert Run.objects.get(pk=run.pk).approval_basis == f"{basis}; approved by ops"


@postgres_only
def test_in_sql_a_line_of_an_executing_run_may_be_masked(run):
    sql("UPDATE deployments_run SET status = 'running' WHERE id = %s", [run.pk])
    sql("UPDATE deployments_runlogline SET text = 'Plan: (sensitive)' WHERE run_id = %s", [run.pk])
    with pytest.raises(DatabaseError, match="append-only"):
        sql("UPDATE deployments_runlogline SET seq = 9 WHERE run_id = %s", [run.pk])
    assert run.log_lines.get().text == "Plan: (sensitive)"
