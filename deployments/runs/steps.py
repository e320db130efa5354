"""The steps every run takes, added to the pipeline's stages (:mod:`.pipeline`) in order.

Other packages add theirs the same way: ``deployments.policy`` a gate step (ops approval),
and later capabilities an input (connections) or an after-apply step (drift, cost).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from bundles.loader import extract_archive
from portal.crypto import decrypt, encrypt

from ..choices import RunAction, RunStatus
from ..models import Deployment, Run, RunLogLine, StateVersion
from . import workdirs
from .execution import Execution, RunStopped
from .gate import review_hold
from .pipeline import AFTER_APPLY, APPLY, GATE, INPUTS, PIPELINE, PLAN
from .plans import redact, summarize

BACKEND_FILE = "zz_slipway_backend.tf"
PLAN_FILE = "plan.bin"
TFVARS_FILE = "terraform.tfvars.json"

log = logging.getLogger(__name__)

# --- inputs: the engine's variables ------------------------------------------------------------


@PIPELINE.step(INPUTS)
def params(ex: Execution) -> None:
    """Each top-level param is the module variable of the same name (sensitive ones in clear, here only)."""
    ex.variables.update(ex.params)


@PIPELINE.step(INPUTS)
def slipway(ex: Execution) -> None:
    """The ``slipway`` object variable, for a module that declares one."""
    if ex.version.takes_slipway_context:
        ex.variables["slipway"] = slipway_context(ex.deployment)


def slipway_context(deployment: Deployment) -> dict:
    env = deployment.environment
    project = env.project
    return {
        "deployment_id": str(deployment.pk),
        "name_prefix": deployment.name_prefix,
        "project": project.slug,
        "environment": env.slug,
        "tier": env.tier,
        "team": project.team.slug,
        "tags": {
            "slipway-deployment": str(deployment.pk),
            "project": project.slug,
            "environment": env.slug,
            "team": project.team.slug,
        },
    }


# --- plan --------------------------------------------------------------------------------------


@PIPELINE.step(PLAN)
def workdir(ex: Execution) -> None:
    """The module from its stored archive, the inputs as ``terraform.tfvars.json`` (so user strings are literal
    values, never HCL), and a backend override that makes Slipway the engine's state backend. The block is the
    same for every deployment: its address comes with the run's credential in the engine's environment
    (``TF_HTTP_ADDRESS``..., :class:`~.execution.EngineProcess`), so an initialised folder fits any deployment."""
    extract_archive(bytes(ex.version.module_archive), ex.workdir)
    (ex.workdir / TFVARS_FILE).write_text(json.dumps(ex.variables, indent=2))
    (ex.workdir / BACKEND_FILE).write_text(BACKEND_BLOCK)


BACKEND_BLOCK = (
    "# Written by Slipway: the portal is the state backend (its address and the run's credential are in\n"
    "# the engine's environment, TF_HTTP_*).\n"
    "terraform {\n"
    '  backend "http" {\n'
    '    lock_method    = "LOCK"\n'
    '    unlock_method  = "UNLOCK"\n'
    "  }\n"
    "}\n"
)
REUSED_INIT = "init: reused the working directory initialised for {version} in this worker (providers, lock file)."


@PIPELINE.step(PLAN)
def init(ex: Execution) -> None:
    """``init`` once per bundle version in this worker process: later runs of the version copy its initialised
    folder (:func:`workdirs.reuse_template`) instead of starting the engine for it."""
    template = _template(ex)
    if (
        template is not None
        and workdirs.template_has_providers(template, _state_providers(ex.deployment))
        and workdirs.reuse_template(template, ex.workdir)
    ):
        ex.log.system(REUSED_INIT.format(version=ex.version))
        return
    shipped_lock = (ex.workdir / ".terraform.lock.hcl").is_file()
    ex.engine.run("init", "-input=false", "-no-color")
    if template is not None and workdirs.template_is_pinned(ex.workdir, shipped_lock):
        workdirs.save_template(ex.workdir, template)


def _state_providers(deployment: Deployment) -> set[str]:
    """The providers the deployment's state names (``init`` installs those too, even when the module no longer
    uses them: an older version's resources still to destroy)."""
    latest = StateVersion.objects.filter(deployment=deployment).order_by("-created_at", "-id").first()
    if latest is None:
        return set()
    state = json.loads(decrypt(bytes(latest.encrypted_state)))
    return {str(r.get("provider", "")) for r in state.get("resources") or []} - {""}


def _template(ex: Execution):
    """This process's template for the run's bundle version and engine (None: an engine that says nothing of
    its binary and CLI config, like the tests' fakes, always runs ``init``)."""
    binary, cli_config = getattr(ex.engine, "binary", None), getattr(ex.engine, "cli_config", None)
    if not binary or not cli_config:
        return None
    mirror = workdirs.mirror_fingerprint(Path(settings.SLIPWAY_PROVIDER_DIR))
    key = workdirs.template_key(ex.version.pk, ex.version.module_sha256, binary, cli_config, mirror)
    return workdirs.init_template(Path(settings.SLIPWAY_WORKDIR), key)


@PIPELINE.step(PLAN)
def plan(ex: Execution) -> None:
    """Plan (and read the plan back: counts, per-resource changes, redacted); or, for a plan someone confirmed,
    put that saved plan in place: exactly what they saw is applied. Either way the plaintext inputs leave the
    disk here: applying a saved plan does not read them."""
    try:
        _plan(ex)
    finally:
        (ex.workdir / TFVARS_FILE).unlink(missing_ok=True)


def _plan(ex: Execution) -> None:
    run = ex.run
    if ex.reviewed:
        (ex.workdir / PLAN_FILE).write_bytes(decrypt(bytes(run.plan_file)))
        ex.log.system(f"Plan confirmed by {run.apply_confirmed_by}.")
        ex.summary = run.plan_summary or {}
        return
    args = ["plan", "-input=false", f"-out={PLAN_FILE}", "-json"]
    if run.action == RunAction.DESTROY:
        args.append("-destroy")
    ex.engine.run(*args)
    early = _early_summary(ex)
    if early is None:
        _store_review(ex, _read_plan(ex))
        return
    # A plan that only creates and updates, asked to apply by itself: its counts (all the gate reads) are in
    # the plan's own stream; the review (``show -json``: per-attribute diffs, redacted) is read beside the apply
    # and stored before anything else happens to the run (:func:`review_ready`).
    ex.summary = early
    # The counts are the run's evidence until the full review is stored (a worker dying mid-apply leaves them).
    Run.objects.filter(pk=run.pk).update(resources_planned=early["total"], plan_summary=early)
    ex.log.system(summary_sentence(early))
    result: dict[str, Any] = {}

    def read() -> None:
        try:
            result["raw"] = _read_plan(ex)
        except BaseException as exc:  # raised again where the review is awaited
            result["error"] = exc
        finally:
            connection.close()  # this thread's own (cancel polls, heartbeats)

    thread = threading.Thread(target=read, name=f"run-{run.pk}-show", daemon=True)
    thread.start()
    ex.pending_review = (thread, result)


# The plan stream's actions that ``show -json`` counts the same way (``create`` is an add, ``update`` a change,
# ``noop``/``read`` nothing). Any other (replace, delete, forget, move, import) reads the whole plan first.
EARLY_ACTIONS = {"create": "add", "update": "change", "noop": None, "read": None}


def _early_summary(ex: Execution) -> dict | None:
    """The plan's counts from its ``-json`` stream, when the run may apply it without anyone reading the review
    first (an apply asked to apply by itself, with only creates and updates, no drift), and the engine can run
    two commands at once; else None (the review is read first, as always)."""
    actions = [action for _address, _deposed, action in ex.log.plan_actions]
    stream = ex.log.plan_counts
    if (
        not getattr(ex.engine, "concurrent", False)
        or ex.run.action != RunAction.APPLY
        or not ex.run.auto_apply
        or ex.log.drift_seen
        or stream is None
        or any(action not in EARLY_ACTIONS for action in actions)
    ):
        return None
    counts = {"add": 0, "change": 0, "replace": 0, "destroy": 0}
    for action in actions:
        if EARLY_ACTIONS[action]:
            counts[EARLY_ACTIONS[action]] += 1
    counts["total"] = sum(counts.values())
    if not counts["total"]:
        return None  # no resource changes: whether it applies depends on outputs and drift, in the review
    # The engine's own tally must say the same: nothing removed (a deposed copy's delete, an action this
    # reading does not know), as many adds and changes as announced. Else the review is read first.
    if stream.get("remove") or (stream.get("add"), stream.get("change")) != (counts["add"], counts["change"]):
        return None
    return {**counts, "resources": [], "outputs": {}, "drifted": [], "has_changes": True, "risky": False}


def _read_plan(ex: Execution) -> dict:
    return json.loads(ex.engine.capture("show", "-json", PLAN_FILE))


def _store_review(ex: Execution, raw: dict) -> None:
    """The plan in numbers and words, per-resource diffs, all redacted: on the run and the execution."""
    ex.summary = ex.redactor.obj(summarize(raw))
    Run.objects.filter(pk=ex.run.pk).update(
        plan_summary=ex.summary, plan_json=ex.redactor.obj(redact(raw)), resources_planned=ex.summary["total"]
    )
    ex.run.plan_summary = ex.summary
    if ex.pending_review is None:
        ex.log.system(summary_sentence(ex.summary))


def review_ready(ex: Execution) -> None:
    """Wait for a review read beside the apply, and store it (its counts are the early ones: checked)."""
    if ex.pending_review is None:
        return
    thread, result = ex.pending_review
    thread.join()
    try:
        if "error" in result:
            raise result["error"]
        early = {k: ex.summary[k] for k in ("add", "change", "replace", "destroy")}
        _store_review(ex, result["raw"])
        if {k: ex.summary[k] for k in early} != early:
            ex.log.system(f"The plan's review counts differ from its stream's: {summary_sentence(ex.summary)}", "warn")
    finally:
        ex.pending_review = None


def settle_review(ex: Execution) -> None:
    """The run ended before its apply awaited the review read beside it (a gate step raised, the run was
    cancelled or failed): wait for that ``show -json`` to end, as it reads the run's folder, and keep the review
    on the run when it was read (the run's page shows what the plan would have done)."""
    if ex.pending_review is None:
        return
    try:
        review_ready(ex)
    except Exception as exc:  # the run's own failure is what it reports; this one only goes to the worker's log
        log.warning("run %s: the review read beside it was not stored: %s", ex.run.pk, exc)


def summary_sentence(summary: dict) -> str:
    if not summary["total"]:
        return "Plan: no changes to resources."
    return (
        f"Plan: {summary['add']} to add, {summary['change']} to change, "
        f"{summary['replace']} to replace, {summary['destroy']} to destroy."
    )


def keep_plan(ex: Execution) -> None:
    """Store the saved plan (encrypted) for the person who must confirm or approve it, with its review."""
    review_ready(ex)
    Run.objects.filter(pk=ex.run.pk).update(plan_file=encrypt((ex.workdir / PLAN_FILE).read_bytes()))


# --- gate --------------------------------------------------------------------------------------


@PIPELINE.step(GATE)
def review(ex: Execution) -> None:
    """The requester's own gate: a plan that replaces or destroys, or one they asked to see first, waits for them."""
    hold = review_hold(action=ex.run.action, summary=ex.summary, auto_apply=ex.run.auto_apply)
    if hold is not None:
        ex.holds.append(hold)


# --- apply -------------------------------------------------------------------------------------


@PIPELINE.step(APPLY)
def apply(ex: Execution) -> None:
    run = ex.run
    try:
        if not run.transition(RunStatus.APPLYING):
            raise RunStopped(RunStatus.CANCELLED, "The run was cancelled before apply.")
        ex.applying = True
        ex.engine.run("apply", "-input=false", "-auto-approve", "-json", PLAN_FILE)
    except BaseException:
        with contextlib.suppress(Exception):  # the apply's own failure is the run's
            review_ready(ex)
        raise
    try:
        review_ready(ex)  # read beside the apply: stored before the run goes on
    except Exception as exc:  # the resources changed: the run goes on to store outputs and publish what it made
        ex.log.system(
            f"The plan's full review could not be read beside the apply ({exc}); the apply succeeded, and the "
            f"run keeps the counts its plan announced: {summary_sentence(ex.summary)}",
            "warn",
        )
    Run.objects.filter(pk=run.pk).update(resources_done=ex.summary.get("total", 0), plan_file=None)


# --- after apply -------------------------------------------------------------------------------


@PIPELINE.step(AFTER_APPLY)
def outputs(ex: Execution) -> None:
    """The module's outputs, read from the state the engine just wrote to us (no extra engine call):
    plain ones on the deployment, sensitive ones encrypted beside them and masked in the log."""
    raw = {} if ex.run.action == RunAction.DESTROY else _state_outputs(ex.deployment)
    public: dict[str, Any] = {}
    secret: dict[str, Any] = {}
    for name, item in raw.items():
        (secret if item.get("sensitive") else public)[name] = item.get("value")
    ex.output_values = {**public, **secret}  # in clear, in memory only: for the steps after this one
    ex.redactor.add(list(secret.values()))
    deployment = Deployment.objects.get(pk=ex.deployment.pk)
    deployment.outputs = ex.redactor.obj(public)
    deployment.sensitive_outputs = encrypt(json.dumps(secret).encode()) if secret else None
    deployment.save(update_fields=["outputs", "sensitive_outputs", "updated_at"])
    if secret:
        _scrub_logs(ex)


def _state_outputs(deployment: Deployment) -> dict:
    latest = StateVersion.objects.filter(deployment=deployment).order_by("-created_at", "-id").first()
    if latest is None:
        return {}
    return json.loads(decrypt(bytes(latest.encrypted_state))).get("outputs") or {}


def _scrub_logs(ex: Execution) -> None:
    """Secrets first known after apply (generated passwords) are masked in lines already stored."""
    for line in RunLogLine.objects.filter(run=ex.run).only("id", "text", "event"):
        text, event = ex.redactor.text(line.text), ex.redactor.obj(line.event) if line.event else line.event
        if text != line.text or event != line.event:
            RunLogLine.objects.filter(pk=line.pk).update(text=text, event=event)
