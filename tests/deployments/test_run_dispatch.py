"""Dispatch: a worker that held a deployment takes the runs queued behind it itself, in order, without the
broker; a message for a run held back ends at once (it no longer bounces through the broker); a run whose
worker died frees the line for the next one. The engine is the pipeline tests' fake."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from deployments.choices import RunStatus
from deployments.models import Run, StateLock
from deployments.runs import runner, tasks, workdirs
from deployments.runs import services as run_services

from .test_pipeline import FakeEngine, deploy, fake, version  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    """What goes to the broker."""
    messages: list[int] = []
    monkeypatch.setattr("deployments.tasks.execute_run.apply_async", lambda args, **kw: messages.append(args[0]))
    return messages


@pytest.fixture
def line(fake, version, dev, proto_env):  # noqa: F811
    """A deployment with three applies queued on it, oldest first."""
    deployment = deploy(proto_env, version, dev)
    for _ in range(2):
        run_services.run_create(deployment=deployment, action="apply", actor=dev)
    return deployment, list(deployment.runs.order_by("created_at", "id"))


def test_the_worker_takes_the_runs_queued_behind_its_own_in_order_without_the_broker(line, sent):
    deployment, (first, second, third) = line
    assert runner.execute_in_line(first.pk, engine_factory=FakeEngine) == [first.pk, second.pk, third.pk]
    runs = list(deployment.runs.order_by("created_at", "id"))
    assert [r.status for r in runs] == [RunStatus.SUCCEEDED] * 3
    # One at a time, in the order they were asked for: each started after the one before it finished.
    for before, after in itertools.pairwise(runs):
        assert after.started_at >= before.finished_at
    assert sent == []


def test_a_message_for_a_run_held_back_ends_at_once_and_sends_nothing(line, sent):
    _, (first, second, _third) = line
    first.transition(RunStatus.RUNNING)  # another worker has it
    assert runner.execute_in_line(second.pk, engine_factory=FakeEngine) == []
    assert runner.execute_in_line(second.pk, engine_factory=FakeEngine) == []
    assert Run.objects.get(pk=second.pk).status == RunStatus.QUEUED
    assert sent == []  # before, each such message sent the run again: it bounced until the first ended


def test_a_message_for_a_later_run_takes_the_oldest_when_the_line_is_free(line, sent):
    _, (first, second, third) = line
    # The first run's message was lost: the third's message finds the line free and takes them in order.
    assert runner.execute_in_line(third.pk, engine_factory=FakeEngine) == [first.pk, second.pk, third.pk]


def test_a_run_cancelled_while_queued_is_passed_over(line, sent, dev):
    _, (first, second, third) = line
    run_services.run_cancel(run=second, actor=dev)
    assert runner.execute_in_line(first.pk, engine_factory=FakeEngine) == [first.pk, third.pk]
    assert Run.objects.get(pk=second.pk).status == RunStatus.CANCELLED


def test_the_redelivered_message_of_a_run_whose_worker_died_takes_the_next_run(line, sent):
    _, (first, second, third) = line
    first.transition(RunStatus.RUNNING)
    first.transition(RunStatus.INTERRUPTED)  # the reaper: its worker was killed
    assert runner.execute_in_line(first.pk, engine_factory=FakeEngine) == [second.pk, third.pk]


def test_a_lock_left_by_a_dead_run_keeps_the_line_waiting(line, sent):
    deployment, (first, second, _third) = line
    first.transition(RunStatus.RUNNING)
    first.transition(RunStatus.INTERRUPTED)
    StateLock.objects.create(deployment=deployment, lock_id="left", run=first)
    assert runner.execute_in_line(first.pk, engine_factory=FakeEngine) == []
    assert Run.objects.get(pk=second.pk).status == RunStatus.QUEUED


@pytest.mark.parametrize("lock_left", [False, True])
def test_the_reaper_sends_the_run_queued_behind_a_dead_one_unless_a_lock_is_left(line, sent, lock_left):
    deployment, (first, second, _third) = line
    first.transition(RunStatus.RUNNING)
    Run.objects.filter(pk=first.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    if lock_left:  # the engine still saves its state: its UNLOCK (or ops' force-unlock) sends the next run
        StateLock.objects.create(deployment=deployment, lock_id="held", run=first)
    assert [r.pk for r in runner.reap_interrupted(stale_after=30)] == [first.pk]
    assert Run.objects.get(pk=first.pk).status == RunStatus.INTERRUPTED
    assert sent == ([] if lock_left else [second.pk])


def test_a_claim_is_three_queries(line):
    _, (first, _second, _third) = line
    with CaptureQueriesContext(connection) as ctx:
        assert runner.claim(first.pk) is not None
    queries = [q["sql"] for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(queries) <= 3, queries  # the run; the deployment locked with what holds it back; the move


def test_a_stopping_worker_finishes_its_run_and_hands_the_next_back_to_the_broker(line, sent, settings, tmp_path):
    settings.SLIPWAY_WORKDIR = tmp_path
    _, (first, second, third) = line
    workdirs.mark_stopping(tmp_path, "celery@elsewhere")  # another worker stopping changes nothing here
    assert runner.execute_in_line(first.pk, engine_factory=FakeEngine, worker="celery@here") == [
        first.pk,
        second.pk,
        third.pk,
    ]
    assert sent == []


def test_a_worker_told_to_stop_takes_no_further_run(line, sent, settings, tmp_path, monkeypatch):
    settings.SLIPWAY_WORKDIR = tmp_path
    _, (first, second, third) = line
    real_execute = runner.execute

    def execute_then_stop(run_id, **kwargs):
        done = real_execute(run_id, **kwargs)
        tasks.worker_stopping(sender="celery@here")  # the warm shutdown arrives while the first run executes
        return done

    monkeypatch.setattr(runner, "execute", execute_then_stop)
    assert runner.execute_in_line(first.pk, engine_factory=FakeEngine, worker="celery@here") == [first.pk]
    assert [Run.objects.get(pk=r.pk).status for r in (second, third)] == [RunStatus.QUEUED] * 2
    assert sent == [second.pk]  # its own message had ended: sent again for another worker

    # Started again, the worker clears its mark and takes the line as before.
    monkeypatch.setattr(tasks, "_worker_alive", lambda name: None)  # no heartbeat thread left behind
    tasks.worker_started(sender=type("Consumer", (), {"hostname": "celery@here"})())
    monkeypatch.setattr(runner, "execute", real_execute)
    assert runner.execute_in_line(second.pk, engine_factory=FakeEngine, worker="celery@here") == [second.pk, third.pk]


def test_a_run_that_cannot_be_claimed_does_not_stop_the_line_behind_it(line, sent, monkeypatch):
    _, (first, second, third) = line
    real_claim = runner.claim

    def claim(run_id, worker=""):
        if run_id == second.pk:  # cancelled between being found next and being claimed
            Run.objects.filter(pk=second.pk).update(status=RunStatus.CANCELLED)
            return None
        return real_claim(run_id, worker)

    monkeypatch.setattr(runner, "claim", claim)
    assert runner.execute_in_line(first.pk, engine_factory=FakeEngine) == [first.pk, third.pk]
