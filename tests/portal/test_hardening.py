"""CSRF on every form, tokens, and production settings that pass Django's deploy checks."""

import os
import subprocess
import sys

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import ROOT

pytestmark = pytest.mark.django_db


def test_forms_refuse_a_post_without_a_csrf_token(dev, catalog, proto_env):
    client = Client(enforce_csrf_checks=True)
    client.force_login(dev)
    response = client.post(reverse("deployments:new", args=["echo"]), {"environment": proto_env.pk, "name": "x"})
    assert response.status_code == 403
    response = client.post(reverse("api-tokens"), {"name": "x"})
    assert response.status_code == 403


def test_users_create_and_revoke_their_own_tokens(dev_client, dev, outsider):
    created = dev_client.post(reverse("api-tokens"), {"name": "ci"})
    assert created.status_code == 302  # a reload of the next page cannot mint a second token
    page = dev_client.get(reverse("api-tokens")).content.decode()
    from portal.models import APIToken

    token = APIToken.objects.get(user=dev)
    assert "slw_" in page and "will not be shown again" in page
    assert token.key_hint in page
    assert dev_client.get(reverse("api-tokens")).content.decode().count("slw_") == 1  # the hint only now
    dev_client.post(reverse("api-tokens"), {"revoke": token.pk})
    token.refresh_from_db()
    assert token.revoked_at is not None

    other, _ = APIToken.issue(user=outsider, name="theirs")
    assert dev_client.post(reverse("api-tokens"), {"revoke": other.pk}).status_code == 404


def test_production_settings_pass_djangos_deploy_checks():
    # The browser tests' DJANGO_ALLOW_ASYNC_UNSAFE is a test-only switch the deploy checks rightly refuse.
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DEBUG": "0",
        "SECRET_KEY": "x" * 64 + "-not-a-real-production-key-but-long-and-random-enough",
        "SLIPWAY_ENCRYPTION_KEY": "0" * 43 + "=",
        "ALLOWED_HOSTS": "slipway.example.com",
        "SECURE_HSTS_PRELOAD": "1",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_its_secrets():
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "SLIPWAY_ENCRYPTION_KEY")}
    env["DEBUG"] = "0"
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_every_model_change_has_its_migration():
    result = subprocess.run(
        [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, "models changed without a migration:\n" + result.stdout + result.stderr
