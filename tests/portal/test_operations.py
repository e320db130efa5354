"""The operator's tools: init_env, doctor, the key check, and failures that must reach ops."""

import json
import os
import stat
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.core import mail
from django.core.management import call_command
from django.db import models
from django.urls import reverse

from audit.models import AuditEvent
from deployments import notifications
from portal import crypto, doctor
from tests.conftest import ROOT

pytestmark = pytest.mark.django_db


def run_manage(*args, env=None, cwd=ROOT):
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args], cwd=cwd, env=env, capture_output=True, text=True
    )


# --- init_env ----------------------------------------------------------------------------------------


def test_init_env_writes_the_keys_once_and_refuses_to_overwrite_them(tmp_path):
    path = tmp_path / ".env"
    # No settings and no keys are needed: this is how the keys come to exist.
    bare = {"PATH": os.environ["PATH"], "DEBUG": "0"}
    first = run_manage("init_env", "--path", str(path), "--public-url", "http://slipway.internal:8000", env=bare)
    assert first.returncode == 0, first.stderr
    assert "Back it up now" in first.stdout
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    values = dict(line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))
    Fernet(values["SLIPWAY_ENCRYPTION_KEY"].encode())  # a valid key
    assert len(values["SECRET_KEY"]) >= 50
    assert values["SLIPWAY_PUBLIC_URL"] == "http://slipway.internal:8000" and values["SLIPWAY_TLS"] == "off"

    before = path.read_text()
    again = run_manage("init_env", "--path", str(path), env=bare)
    assert again.returncode != 0
    assert "already exists: not touching it" in again.stderr
    assert path.read_text() == before


# --- the key ------------------------------------------------------------------------------------------


def test_every_binary_column_is_either_encrypted_and_declared_or_the_bundle_archive():
    declared = {f"{model._meta.label}.{field}" for model, field in crypto.encrypted_fields()}
    binary = {
        f"{model._meta.label}.{field.name}"
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if isinstance(field, models.BinaryField)
    }
    assert binary - declared == {"bundles.BundleVersion.module_archive"}, "declare new encrypted columns in apps.py"
    assert declared <= binary


def test_a_wrong_key_makes_the_reveal_api_answer_one_sentence_in_json(dev_client, dev, catalog, proto_env, settings):
    from deployments.services import deployment_create

    deployment = deployment_create(
        environment=proto_env,
        bundle_version=catalog["workbench"],
        params={"api_key": "x"},
        name="keyed",
        actor=dev,
    )
    deployment.sensitive_outputs = crypto.encrypt(json.dumps({"api_key_echo": "x"}).encode())
    deployment.save()
    settings.SLIPWAY_ENCRYPTION_KEY = Fernet.generate_key().decode()
    response = dev_client.post(f"/api/v1/deployments/{deployment.pk}/outputs/api_key_echo/reveal/")
    assert response.status_code == 500
    assert response.json() == {"message": crypto.KEY_MISMATCH, "errors": {}}
    page = dev_client.post(reverse("deployments:reveal", args=[deployment.pk, "api_key_echo"]))
    assert page.status_code == 500 and "Traceback" not in page.content.decode()
    assert "cannot decrypt data this database already holds" in page.content.decode()
    assert crypto.key_problems()  # and the start-up check sees it


def test_rotation_with_one_key_says_how_to_move_to_a_new_one(capsys):
    call_command("rotate_encryption_key", "--dry-run")
    out = capsys.readouterr().out
    assert "Only one key is configured" in out and "Nothing changed" in out


# --- doctor --------------------------------------------------------------------------------------------


def test_doctor_names_each_misconfiguration_in_words_and_fails(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLIPWAY_", "EMAIL_", "SECURE_"))},
        "DATABASE_URL": os.environ.get("DATABASE_URL", ""),
        "DEBUG": "0",
        "SECRET_KEY": "d" * 60,
        "SLIPWAY_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "SLIPWAY_BASE_URL": "http://127.0.0.1:9",  # nothing listens there
        "STATIC_ROOT": str(tmp_path / "never-collected"),
        "EMAIL_PORT": "9",
    }
    result = run_manage("doctor", env=env)
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "SLIPWAY_TLS is not set" in out
    assert "redirects people to https, but SLIPWAY_PUBLIC_URL is plain http" in out
    assert "Static files are not collected" in out
    assert "No public URL: SLIPWAY_PUBLIC_URL is unset" in out
    assert "Email goes to localhost:9 (EMAIL_HOST is unset)" in out
    assert "Cannot reach the mail server localhost:9" in out
    assert "Could not reach http://127.0.0.1:9/healthz" in out


def test_doctor_sees_a_redirect_that_would_break_every_run(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_REDIRECT_EXEMPT = []
    settings.SLIPWAY_BASE_URL = "http://web:8000"
    findings = doctor.check_tls()
    assert any(level == "error" and "every run would fail at `init`" in text for level, text in findings)


def test_doctor_sees_allowed_hosts_without_the_workers_host(settings):
    settings.ALLOWED_HOSTS = ["slipway.example.com"]
    settings.SLIPWAY_BASE_URL = "http://web:8000"
    settings.SLIPWAY_PUBLIC_URL = "https://slipway.example.com"
    findings = doctor.check_hosts()
    assert findings == [
        (
            "error",
            "ALLOWED_HOSTS does not allow 'web', the host workers (SLIPWAY_BASE_URL) use: their requests get 400.",
        )
    ]


def test_doctor_sees_a_key_that_cannot_read_the_data(settings, dev, catalog, proto_env):
    from deployments.services import deployment_create

    deployment_create(
        environment=proto_env,
        bundle_version=catalog["workbench"],
        params={"api_key": "x"},
        name="keyed",
        actor=dev,
    )
    settings.SLIPWAY_ENCRYPTION_KEY = Fernet.generate_key().decode()
    [(level, text)] = doctor.check_keys()
    assert level == "error" and text.startswith(crypto.KEY_MISMATCH)


# --- notifications ------------------------------------------------------------------------------------


def test_a_failed_email_is_recorded_and_shown_to_ops_with_the_public_url_in_the_mail(
    client, ops, dev, settings, django_capture_on_commit_callbacks
):
    settings.SLIPWAY_PUBLIC_URL = "https://slipway.example.com"
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    with django_capture_on_commit_callbacks(execute=True):
        notifications.notify(subject="Exception #1", body="b", path="/x/", recipients=["ops@example.com"], event="e")
    event = AuditEvent.objects.get(event_type="notification.failed")
    assert event.data["channel"] == "email" and event.data["subject"] == "Exception #1"
    assert "Connection refused" in event.data["error"] or "Error" in event.data["error"]

    client.force_login(ops)
    page = client.get(reverse("home")).content.decode()
    assert "1 notification could not be delivered in the last 24 hours" in page
    client.force_login(dev)
    assert "could not be delivered" not in client.get(reverse("home")).content.decode()

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with django_capture_on_commit_callbacks(execute=True):
        notifications.notify(subject="s", body="b", path="/runs/1/", recipients=["ops@example.com"], event="e")
    assert "Open: https://slipway.example.com/runs/1/" in mail.outbox[0].body
