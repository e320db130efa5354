"""Headers every page carries: the Content-Security-Policy; X-Forwarded-Proto only from a named proxy."""

import os
import subprocess
import sys

import pytest
from django.urls import reverse

from tests.conftest import ROOT

pytestmark = pytest.mark.django_db


def test_a_page_carries_a_policy_that_allows_no_inline_script(client):
    response = client.get(reverse("login"))
    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


def test_api_docs_need_no_inline_script(client, dev):
    client.force_login(dev)
    page = client.get(reverse("api-docs")).content.decode()
    assert "<script>" not in page.replace(" ", "")  # every script has a src


def settings_in(env: dict, *names: str) -> dict:
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n, None) for n in {list(names)!r}}}))"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLIPWAY_", "SECURE_", "ALLOWED", "CSRF"))}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "portal.settings", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    import json

    return json.loads(result.stdout)


PRODUCTION = {"DEBUG": "0", "SECRET_KEY": "s" * 60, "SLIPWAY_ENCRYPTION_KEY": "0" * 43 + "="}


def test_forwarded_proto_is_trusted_only_when_the_operator_names_a_proxy():
    names = ("SECURE_PROXY_SSL_HEADER", "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "SECURE_HSTS_SECONDS")
    on = settings_in({**PRODUCTION, "SLIPWAY_TLS": "on"}, *names)
    assert on["SECURE_PROXY_SSL_HEADER"] is None and on["SECURE_SSL_REDIRECT"] and on["SESSION_COOKIE_SECURE"]
    proxy = settings_in({**PRODUCTION, "SLIPWAY_TLS": "proxy"}, *names)
    assert proxy["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    off = settings_in({**PRODUCTION, "SLIPWAY_TLS": "off"}, *names)
    assert off == {
        "SECURE_PROXY_SSL_HEADER": None,
        "SECURE_SSL_REDIRECT": False,
        "SESSION_COOKIE_SECURE": False,
        "SECURE_HSTS_SECONDS": 0,
    }


def test_a_client_cannot_claim_https_without_a_named_proxy(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = None
    response = client.get(reverse("login"), HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 301 and response["Location"].startswith("https://")


def test_the_state_backend_and_healthz_are_never_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code in (200, 503)
    response = client.get("/state/00000000-0000-0000-0000-000000000000/")
    assert response.status_code == 401  # the backend's own answer (no credentials), not a redirect


def test_the_workers_and_the_public_host_are_always_allowed():
    hosts = settings_in(
        {
            **PRODUCTION,
            "ALLOWED_HOSTS": "slipway.example.com",
            "SLIPWAY_BASE_URL": "http://web:8000",
            "SLIPWAY_PUBLIC_URL": "https://portal.example.org",
        },
        "ALLOWED_HOSTS",
        "CSRF_TRUSTED_ORIGINS",
    )
    assert hosts["ALLOWED_HOSTS"] == ["slipway.example.com", "web", "portal.example.org"]
    assert hosts["CSRF_TRUSTED_ORIGINS"] == ["https://portal.example.org"]
