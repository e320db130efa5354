"""What makes a run quick, pinned: the end of an engine command is noticed at once, and ``init`` runs once
per bundle version in a worker process (later runs copy its initialised folder), without changing what a run
does or shows."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from bundles.loader import module_archive
from bundles.models import Bundle, BundleVersion
from deployments import services
from deployments.choices import RunStatus
from deployments.models import StateVersion
from deployments.runs import engine, execution, runner, workdirs
from deployments.runs.pipeline import GATE, PIPELINE, Pipeline
from deployments.runs.steps import BACKEND_BLOCK, BACKEND_FILE, REUSED_INIT
from portal.crypto import encrypt
from tests.conftest import wait_for_run
from tests.deployments.test_pipeline import FakeEngine, plan_json


def test_the_end_of_a_command_is_noticed_at_once(settings, tmp_path):
    # The loop waits ``poll`` seconds for a line; the engine's exit used to be seen only after that wait.
    started = time.monotonic()
    lines = []
    result = engine.run_command(
        [sys.executable, "-c", "print('done')"],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"]},
        on_line=lambda stream, line: lines.append(line),
        should_stop=lambda: False,
        timeout=60,
        poll=10,
    )
    assert (result.returncode, lines) == (0, ["done"])
    assert time.monotonic() - started < 5


class InitEngine(FakeEngine):
    """A fake engine with a binary and CLI config, whose ``init`` leaves what the real one does."""

    binary = "/usr/bin/fake-tofu"
    cli_config = "provider_installation {}\n"

    def run(self, *args):
        if args[0] == "init":
            data = self.ex.workdir / ".terraform"
            (data / "providers").mkdir(parents=True)
            (data / "terraform.tfstate").write_text('{"backend": {"type": "http"}}')
            (self.ex.workdir / ".terraform.lock.hcl").write_text("# lock\n")
        elif args[0] == "plan":
            self.initialised = (self.ex.workdir / ".terraform" / "terraform.tfstate").is_file() and (
                self.ex.workdir / ".terraform.lock.hcl"
            ).is_file()
        super().run(*args)


@pytest.fixture
def init_engine(settings, tmp_path):
    settings.SLIPWAY_WORKDIR = tmp_path / "work"
    InitEngine.plan = plan_json("create")
    return InitEngine


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


def run_of(environment, version, dev, name, engine_factory=InitEngine):
    deployment = services.deployment_create(
        environment=environment, name=name, bundle_version=version, params={"size": "s"}, actor=dev
    )
    run = deployment.runs.get()
    runner.execute(run.pk, engine_factory=engine_factory)
    run.refresh_from_db()
    return run, engine_factory.last


def test_a_second_run_of_a_version_reuses_its_init_and_a_new_version_inits(
    init_engine, version, dev, proto_env, settings
):
    first, engine_ = run_of(proto_env, version, dev, "first")
    assert first.status == RunStatus.SUCCEEDED
    assert [c[0] for c in engine_.commands] == ["init", "plan", "show", "apply"]

    second, engine_ = run_of(proto_env, version, dev, "other")
    assert second.status == RunStatus.SUCCEEDED, second.error
    assert [c[0] for c in engine_.commands] == ["plan", "show", "apply"]  # no init
    assert engine_.initialised  # the plan found the initialised folder and lock file
    texts = list(second.log_lines.order_by("seq").values_list("text", flat=True))
    assert REUSED_INIT.format(version=version) in texts
    assert not any(t.startswith("$") and " init" in t for t in texts)

    newer = BundleVersion.objects.create(
        bundle=version.bundle,
        version="1.1.0",
        params_schema=version.params_schema,
        module_archive=version.module_archive,
        module_sha256="y",
    )
    third, engine_ = run_of(proto_env, newer, dev, "third")
    assert third.status == RunStatus.SUCCEEDED, third.error
    assert [c[0] for c in engine_.commands] == ["init", "plan", "show", "apply"]
    # Only the templates stay (removed with the process's plugin cache); the runs' folders are gone.
    left = list(Path(settings.SLIPWAY_WORKDIR).iterdir())
    assert left == [workdirs.process_dir(Path(settings.SLIPWAY_WORKDIR))]
    assert len(list((left[0] / "init").iterdir())) == 2


def test_the_backend_block_is_the_same_for_every_deployment_and_the_address_is_in_the_environment(
    init_engine, version, dev, proto_env, settings, monkeypatch
):
    seen = []

    class Recording(InitEngine):
        def run(self, *args):
            seen.append((self.ex.workdir / BACKEND_FILE).read_text())
            super().run(*args)

    run, _ = run_of(proto_env, version, dev, "one", Recording)
    run_of(proto_env, version, dev, "two", Recording)
    assert set(seen) == {BACKEND_BLOCK} and "address" not in BACKEND_BLOCK.split("terraform {")[1]

    monkeypatch.setattr(execution, "engine_env", lambda workdir: {"TF_CLI_CONFIG_FILE": os.devnull})
    monkeypatch.setattr(execution, "engine_binary", lambda: "/usr/bin/fake-tofu")
    ex = type("Ex", (), {"run": run, "deployment": run.deployment, "workdir": Path("/nonexistent")})()
    env = execution.EngineProcess(ex).env
    address = f"{settings.SLIPWAY_BASE_URL.rstrip('/')}/state/{run.deployment_id}/"
    assert env["TF_HTTP_ADDRESS"] == address
    assert env["TF_HTTP_LOCK_ADDRESS"] == env["TF_HTTP_UNLOCK_ADDRESS"] == f"{address}lock/"
    assert env["TF_HTTP_USERNAME"] == f"run-{run.pk}" and env["TF_HTTP_PASSWORD"]


def test_concurrent_saves_leave_one_whole_template_and_copies_are_the_runs_own(tmp_path):
    template = tmp_path / "base" / "init-1" / "v1-abc"
    sources = []
    for index in range(8):
        work = tmp_path / f"run-{index}"
        (work / ".terraform" / "modules").mkdir(parents=True)
        for n in range(50):
            (work / ".terraform" / "modules" / f"f{n}").write_text(f"{index}")
        (work / ".terraform.lock.hcl").write_text(f"{index}")
        sources.append(work)
    threads = [threading.Thread(target=workdirs.save_template, args=(work, template)) for work in sources]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(p.name for p in template.parent.iterdir()) == ["v1-abc"]  # no partial copy left beside it
    writer = (template / ".terraform.lock.hcl").read_text()
    assert {p.read_text() for p in (template / ".terraform" / "modules").iterdir()} == {writer}
    assert len(list((template / ".terraform" / "modules").iterdir())) == 50

    run_dir = tmp_path / "run-x"
    run_dir.mkdir()
    assert workdirs.reuse_template(template, run_dir)
    (run_dir / ".terraform" / "modules" / "f0").write_text("changed by the run")
    assert (template / ".terraform" / "modules" / "f0").read_text() == writer
    assert not workdirs.reuse_template(tmp_path / "none", run_dir)


def test_a_template_key_changes_with_the_version_the_module_the_engine_and_its_config():
    key = workdirs.template_key(1, "sha", "/bin/sh", "cfg")
    assert key == workdirs.template_key(1, "sha", "/bin/sh", "cfg")
    others = {
        workdirs.template_key(2, "sha", "/bin/sh", "cfg"),
        workdirs.template_key(1, "sha2", "/bin/sh", "cfg"),
        workdirs.template_key(1, "sha", "/bin/ls", "cfg"),
        workdirs.template_key(1, "sha", "/bin/sh", "cfg2"),
    }
    assert key not in others and len(others) == 4


def test_a_provider_added_or_rebuilt_in_the_mirror_makes_a_new_template_key(tmp_path):
    mirror = tmp_path / "providers"
    plugin = mirror / "slipway.local" / "slipway" / "sandbox" / "1.0.0" / "linux_amd64" / "terraform-provider-sandbox"
    plugin.parent.mkdir(parents=True)
    plugin.write_text("v1")
    first = workdirs.template_key(1, "sha", "/bin/sh", "cfg", workdirs.mirror_fingerprint(mirror))
    assert first == workdirs.template_key(1, "sha", "/bin/sh", "cfg", workdirs.mirror_fingerprint(mirror))
    newer = mirror / "slipway.local" / "slipway" / "sandbox" / "1.1.0" / "linux_amd64" / "terraform-provider-sandbox"
    newer.parent.mkdir(parents=True)
    newer.write_text("v1.1")
    second = workdirs.template_key(1, "sha", "/bin/sh", "cfg", workdirs.mirror_fingerprint(mirror))
    plugin.write_text("v1, rebuilt")
    third = workdirs.template_key(1, "sha", "/bin/sh", "cfg", workdirs.mirror_fingerprint(mirror))
    assert len({first, second, third}) == 3


def test_only_a_pinned_init_is_kept_for_later_runs(tmp_path):
    lock = tmp_path / ".terraform.lock.hcl"
    assert workdirs.template_is_pinned(tmp_path, shipped_lock=False)  # built-in resources only: no lock file
    lock.write_text('provider "slipway.local/slipway/sandbox" {\n  version = "1.0.0"\n}\n')
    assert workdirs.template_is_pinned(tmp_path, shipped_lock=False)  # from the mirror, whose content is keyed
    lock.write_text(lock.read_text() + 'provider "registry.opentofu.org/hashicorp/random" {\n  version = "3.6.0"\n}\n')
    assert not workdirs.template_is_pinned(tmp_path, shipped_lock=False)  # a registry's newest: not kept
    assert workdirs.template_is_pinned(tmp_path, shipped_lock=True)  # the bundle pins it


def test_the_templates_of_a_gone_process_are_removed(tmp_path):
    mine = workdirs.init_template(tmp_path, "v1-abc")
    (mine / ".terraform").mkdir(parents=True)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # another worker process: it makes a template, then ends
        gone = workdirs.init_template(tmp_path, "v1-abc")
        (gone / ".terraform").mkdir(parents=True)
        os.write(write, str(gone).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    gone = Path(os.read(read, 4096).decode())
    assert gone.exists() and gone != mine
    # As workers before the per-process folders named them: by process id alone.
    legacy_gone, legacy_mine = tmp_path / "init-999999999", tmp_path / f"init-{os.getpid()}"
    for legacy in (legacy_gone, legacy_mine):
        (legacy / "v1-abc" / ".terraform").mkdir(parents=True)
    workdirs.clean_plugin_caches(tmp_path)
    assert not gone.exists() and not legacy_gone.exists()
    assert mine.exists() and legacy_mine.exists()


def test_the_plan_review_is_unchanged_when_init_is_reused(init_engine, version, dev, proto_env):
    InitEngine.plan = plan_json("create", "delete+create")
    first, _ = run_of(proto_env, version, dev, "first")
    second, engine_ = run_of(proto_env, version, dev, "second")
    assert "init" not in [c[0] for c in engine_.commands]
    assert first.plan_summary == second.plan_summary and second.plan_summary["replace"] == 1
    assert second.status == RunStatus.PLANNED  # a replace still waits for its review


def test_a_template_is_used_only_when_its_lock_file_has_every_provider_of_the_state(tmp_path):
    (tmp_path / ".terraform.lock.hcl").write_text(
        'provider "slipway.local/slipway/sandbox" {\n  version = "1.0.0"\n}\n'
    )
    sandbox = 'provider["slipway.local/slipway/sandbox"]'
    assert workdirs.template_has_providers(tmp_path, set())
    assert workdirs.template_has_providers(
        tmp_path, {sandbox, f"{sandbox}.eu", 'provider["terraform.io/builtin/terraform"]'}
    )
    assert not workdirs.template_has_providers(
        tmp_path, {sandbox, 'provider["registry.terraform.io/hashicorp/random"]'}
    )
    assert not workdirs.template_has_providers(tmp_path / "none", {sandbox})


def test_a_deployment_whose_state_names_another_provider_runs_init(init_engine, version, dev, proto_env):
    run_of(proto_env, version, dev, "first")
    deployment = services.deployment_create(
        environment=proto_env, name="older", bundle_version=version, params={"size": "s"}, actor=dev
    )
    state = {
        "serial": 3,
        "lineage": "l",
        "resources": [{"provider": 'provider["registry.terraform.io/hashicorp/random"]'}],
    }
    body = json.dumps(state).encode()
    StateVersion.objects.create(
        deployment=deployment,
        serial=3,
        lineage="l",
        sha256=hashlib.sha256(body).hexdigest(),
        encrypted_state=encrypt(body),
    )
    runner.execute(deployment.runs.get().pk, engine_factory=InitEngine)
    assert [c[0] for c in InitEngine.last.commands] == ["init", "plan", "show", "apply"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_the_real_engine_reuses_init_within_a_worker_process_and_keeps_no_credential(
    celery_worker, dev, catalog, proto_env, settings
):
    # Three runs of one version on a worker with two processes: one process runs two of them.
    runs = []
    for index in range(3):
        deployment = services.deployment_create(
            environment=proto_env,
            name=f"reuse-{index}",
            bundle_version=catalog["echo"],
            params={"message": "hi"},
            actor=dev,
        )
        runs.append(wait_for_run(deployment.runs.get()))
    assert [r.status for r in runs] == ["succeeded"] * 3, [r.error for r in runs]
    texts = [list(r.log_lines.order_by("seq").values_list("text", flat=True)) for r in runs]
    reused = [any(t.startswith("init: reused") for t in lines) for lines in texts]
    inits = [any(t.startswith("$ ") and " init " in t for t in lines) for lines in texts]
    assert any(reused) and all(a != b for a, b in zip(reused, inits, strict=True))
    assert all(any("Apply complete!" in t for t in lines) for lines in texts)
    for run in runs:
        run.deployment.refresh_from_db()
        assert run.deployment.outputs, run.pk  # each wrote its own state (the address came from its environment)
    templates = list(Path(settings.SLIPWAY_WORKDIR).glob("worker-*/init/v*/.terraform"))
    assert templates
    for template in templates:
        for path in template.rglob("*"):
            if path.is_file() and not path.is_symlink():
                text = path.read_text(errors="replace")
                assert "run-" not in text and "/state/" not in text, path  # no credential, no address


# --- the plan's review read beside an auto-approved apply ---------------------------------------


def plan_with_diff(*actions: str, secret: str = "") -> dict:
    plan = plan_json(*actions)
    for change in plan["resource_changes"]:
        change["change"].update(
            before=None,
            after={"size": "s", "password": secret or "x"},
            after_sensitive={"password": True},
            after_unknown={},
        )
    return plan


class ConcurrentEngine(InitEngine):
    """Says it can run two commands at once; its plan streams ``planned_change`` events as the engine's does,
    and ``show`` waits (a while at most) for the apply to start, to prove the two overlap."""

    concurrent = True
    apply_started: threading.Event
    overlapped: bool
    fail_show = False
    extra_events: list = []  # more planned_change events, announced after the plan's own (a deposed copy's)

    def run(self, *args):
        if args[0] == "plan":
            tally = {"add": 0, "change": 0, "remove": 0}
            events = []
            for change in self.plan["resource_changes"]:
                action = "+".join(change["change"]["actions"]).replace("delete+create", "replace")
                action = {"no-op": "noop"}.get(action, action)
                events.append(
                    {"type": "planned_change", "change": {"resource": {"addr": change["address"]}, "action": action}}
                )
            for event in [*events, *self.extra_events]:
                change = event["change"]
                for key, counted in {
                    "add": ("create", "replace"),
                    "change": ("update",),
                    "remove": ("delete", "replace"),
                }.items():
                    tally[key] += change["action"] in counted
                self.ex.log.engine("stdout", json.dumps({"@message": "planned", **event}))
            summary = {"type": "change_summary", "changes": {**tally, "operation": "plan"}}
            self.ex.log.engine("stdout", json.dumps({"@message": "Plan: ...", **summary}))
        if args[0] == "apply":
            type(self).apply_started.set()
            time.sleep(0.2)
        super().run(*args)

    def capture(self, *args):
        type(self).overlapped = type(self).apply_started.wait(timeout=3)
        if self.fail_show:
            raise execution.RunFailed("`tofu show -json plan.bin` failed (exit 1).")
        return super().capture(*args)


@pytest.fixture
def concurrent(init_engine):
    ConcurrentEngine.apply_started = threading.Event()
    ConcurrentEngine.overlapped = False
    ConcurrentEngine.fail_show = False
    ConcurrentEngine.extra_events = []
    return ConcurrentEngine


def test_an_auto_approved_create_reads_its_review_beside_the_apply_and_stores_the_same_review(
    concurrent, version, dev, proto_env
):
    ConcurrentEngine.plan = InitEngine.plan = plan_with_diff("create", "update", secret="hunter2-secret")
    sequential, _ = run_of(proto_env, version, dev, "sequential")  # InitEngine: show, then the gate
    run, _ = run_of(proto_env, version, dev, "beside", ConcurrentEngine)
    assert ConcurrentEngine.overlapped  # show ran while the apply did
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.plan_summary == sequential.plan_summary  # the same review, with its diffs
    assert run.plan_summary["resources"][0]["diff"] and run.resources_planned == 2
    assert "hunter2-secret" not in json.dumps([run.plan_summary, run.plan_json])  # redacted as before
    texts = list(run.log_lines.order_by("seq").values_list("text", flat=True))
    assert [t for t in texts if t.startswith("Plan:")] == ["Plan: 1 to add, 1 to change, 0 to replace, 0 to destroy."]


@pytest.mark.parametrize(
    ("actions", "auto_apply", "status"),
    [
        (("create", "delete+create"), True, RunStatus.PLANNED),  # a replace: reviewed first
        (("create", "delete"), True, RunStatus.PLANNED),  # a destroy: reviewed first
        (("create",), False, RunStatus.PLANNED),  # a review asked for
    ],
)
def test_a_plan_someone_must_review_is_read_first(concurrent, version, dev, proto_env, actions, auto_apply, status):
    ConcurrentEngine.plan = plan_with_diff(*actions)
    deployment = services.deployment_create(
        environment=proto_env,
        name="held",
        bundle_version=version,
        params={"size": "s"},
        actor=dev,
        auto_apply=auto_apply,
    )
    run = deployment.runs.get()
    runner.execute(run.pk, engine_factory=ConcurrentEngine)
    run.refresh_from_db()
    assert run.status == status
    assert not ConcurrentEngine.overlapped and "apply" not in [c[0] for c in ConcurrentEngine.last.commands]
    assert run.plan_summary["resources"] and run.plan_file


def test_a_resource_with_a_deposed_copy_is_reviewed_first_whatever_order_the_stream_announces_it(
    concurrent, version, dev, proto_env
):
    # A failed create-before-destroy replace leaves a deposed copy: the plan deletes it and updates the
    # resource, one address announced twice, in either order. The delete must not be lost.
    ConcurrentEngine.plan = plan_with_diff("update")
    address = ConcurrentEngine.plan["resource_changes"][0]["address"]
    deposed = {
        "type": "planned_change",
        "change": {"resource": {"addr": address}, "action": "delete", "deposed": "0a1b2c3d"},
    }
    update = {"type": "planned_change", "change": {"resource": {"addr": address}, "action": "update"}}
    ConcurrentEngine.extra_events = [deposed, update]  # the update announced last
    deployment = services.deployment_create(
        environment=proto_env, name="deposed", bundle_version=version, params={"size": "s"}, actor=dev
    )
    run = deployment.runs.get()
    runner.execute(run.pk, engine_factory=ConcurrentEngine)
    run.refresh_from_db()
    assert not ConcurrentEngine.overlapped  # read first, not beside the apply
    assert run.plan_summary["resources"]  # the full review is what the gate read


def test_a_stream_without_the_engines_own_tally_is_reviewed_first(concurrent, version, dev, proto_env):
    class Untallied(ConcurrentEngine):
        def run(self, *args):
            if args[0] == "plan":
                self.ex.log.plan_counts = None
                for change in self.plan["resource_changes"]:
                    event = {
                        "type": "planned_change",
                        "change": {"resource": {"addr": change["address"]}, "action": "create"},
                    }
                    self.ex.log.engine("stdout", json.dumps({"@message": "planned", **event}))
                return InitEngine.run(self, *args)
            return super().run(*args)

    Untallied.plan = plan_with_diff("create")
    run, _ = run_of(proto_env, version, dev, "untallied", Untallied)
    assert run.status == RunStatus.SUCCEEDED and not Untallied.overlapped


def test_a_failed_review_beside_a_successful_apply_is_said_and_the_run_goes_on(concurrent, version, dev, proto_env):
    ConcurrentEngine.plan = plan_with_diff("create")
    ConcurrentEngine.fail_show = True
    run, _ = run_of(proto_env, version, dev, "noshow", ConcurrentEngine)
    assert run.status == RunStatus.SUCCEEDED, run.error  # the resources changed: outputs stored, as always
    assert run.plan_summary["add"] == 1 and run.plan_summary["total"] == 1  # the stream's counts stay its evidence
    warning = run.log_lines.filter(level="warn", text__contains="full review could not be read").get()
    assert "Plan: 1 to add" in warning.text


def test_two_commands_at_once_in_one_folder_keep_their_own_output(tmp_path):
    results = {}

    def command(word):
        lines = []
        engine.run_command(
            [
                sys.executable,
                "-c",
                f"import time\nfor i in range(20):\n    print('{word}', i, flush=True)\n    time.sleep(0.01)",
            ],
            cwd=tmp_path,
            env={"PATH": os.environ["PATH"]},
            on_line=lambda stream, line: lines.append(line),
            should_stop=lambda: False,
            timeout=60,
        )
        results[word] = lines

    threads = [threading.Thread(target=command, args=(word,)) for word in ("apply", "show")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {word: [f"{word} {i}" for i in range(20)] for word in ("apply", "show")}


def test_a_run_that_fails_before_its_apply_waits_for_the_review_read_beside_it_and_keeps_it(
    concurrent, version, dev, proto_env
):
    """A gate step that raises after the plan's early counts: the ``show -json`` started beside the apply that
    never comes must end before the run's folder is removed (it reads the saved plan there), and its review
    is kept on the failed run."""
    seen = []

    class Watched(ConcurrentEngine):
        def capture(self, *args):
            output = super().capture(*args)  # waits (3 s at most) for an apply that does not come
            seen.append((self.ex.workdir / "plan.bin").parent.is_dir())
            return output

    def broken(ex):
        raise RuntimeError("a gate step's bug")

    pipeline = Pipeline(steps={stage: list(steps) for stage, steps in PIPELINE.steps.items()})
    pipeline.add(GATE, broken, name="broken")
    Watched.plan = plan_with_diff("create")
    deployment = services.deployment_create(
        environment=proto_env, name="gate-fails", bundle_version=version, params={"size": "s"}, actor=dev
    )
    run = deployment.runs.get()
    runner.execute(run.pk, engine_factory=Watched, pipeline=pipeline)
    assert seen == [True]  # the review was read, in the run's folder, before execute returned
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "RuntimeError" in run.error
    assert "apply" not in [c[0] for c in Watched.last.commands]
    assert run.plan_summary["resources"] and run.plan_json  # the full review, not only the early counts
