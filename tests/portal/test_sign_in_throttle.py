"""One sign-in throttle for every door: the site, the admin and API tokens (portal.throttle, django-axes)."""

import shutil
import sys
import time

import pytest
import requests
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from portal.models import APIToken
from tests.conftest import PASSWORD, free_port, service_env, start_process, stop_process

pytestmark = pytest.mark.django_db

OFFICE = "203.0.113.7"  # one shared address: a proxy, an office NAT
ELSEWHERE = "198.51.100.20"


@pytest.fixture(autouse=True)
def small_limits(settings):
    settings.SLIPWAY_LOGIN_ATTEMPTS = 3
    settings.SLIPWAY_LOGIN_ADDRESS_ACCOUNTS = 4
    # Every attempt hashes a password (even for unknown users): a fast hasher keeps dozens of attempts quick.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def sign_in(client, username, password, *, admin=False, address=OFFICE):
    url = "/admin/login/" if admin else reverse("login")
    return client.post(url, {"username": username, "password": password, "next": "/"}, REMOTE_ADDR=address)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_repeated_failed_sign_ins_lock_the_account_out(client, dev):
    for _ in range(2):
        assert sign_in(client, "dev", "wrong").status_code == 200
    # The failure that reaches the limit already says so.
    assert sign_in(client, "dev", "wrong").status_code == 429
    locked = sign_in(client, "dev", PASSWORD)
    assert locked.status_code == 429
    assert "Too many failed sign-ins. Try again in 15 minutes." in locked.content.decode()
    assert locked["Retry-After"] == "900"
    assert not signed_in(client)
    # From another address too: the account is what is under attack.
    assert sign_in(Client(), "dev", PASSWORD, address=ELSEWHERE).status_code == 429


def test_the_admin_sign_in_is_throttled_like_the_site(client, ops):
    for _ in range(2):
        assert sign_in(client, "ops", "wrong", admin=True).status_code == 200
    assert sign_in(client, "ops", "wrong", admin=True).status_code == 429
    locked = sign_in(client, "ops", PASSWORD, admin=True)
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    assert not signed_in(client)


def test_a_user_locked_out_on_the_site_cannot_sign_in_through_the_admin(client, ops):
    for _ in range(3):
        sign_in(client, "ops", "wrong")
    assert sign_in(client, "ops", PASSWORD, admin=True).status_code == 429
    assert not signed_in(client)
    # ...and case games do not open another door.
    assert sign_in(client, "OPS", PASSWORD, admin=True).status_code == 429


def test_made_up_usernames_from_one_address_do_not_lock_out_a_real_user_there(client, dev):
    for n in range(40):
        sign_in(Client(), f"nobody-{n}", "guess")
    response = sign_in(client, "dev", PASSWORD)
    assert response.status_code == 302
    assert signed_in(client)


def test_an_address_failing_against_many_real_accounts_is_locked_but_others_are_not(client, dev):
    users = [get_user_model().objects.create_user(f"user{n}", password=PASSWORD) for n in range(4)]
    for user in users:
        sign_in(Client(), user.username, "spray-password")
    # Password spraying from this address: everything from it now waits, even a right password...
    assert sign_in(client, "dev", PASSWORD).status_code == 429
    # ...while the same people elsewhere are not locked out (each account saw one failure only).
    elsewhere = Client()
    assert sign_in(elsewhere, "dev", PASSWORD, address=ELSEWHERE).status_code == 302


def test_a_successful_sign_in_clears_the_accounts_count(client, dev):
    for _ in range(2):
        sign_in(client, "dev", "wrong")
    assert sign_in(client, "dev", PASSWORD).status_code == 302
    client.logout()
    for _ in range(2):
        sign_in(client, "dev", "wrong")
    assert sign_in(client, "dev", PASSWORD).status_code == 302


def test_a_forwarded_for_header_is_not_believed_without_a_trusted_proxy(client, dev):
    # Rotating X-Forwarded-For must not give an attacker fresh addresses or fresh counts.
    for n in range(3):
        client.post(reverse("login"), {"username": "dev", "password": "x"}, HTTP_X_FORWARDED_FOR=f"10.9.9.{n}")
    users = [get_user_model().objects.create_user(f"user{n}", password=PASSWORD) for n in range(4)]
    for n, user in enumerate(users):
        Client().post(
            reverse("login"), {"username": user.username, "password": "x"}, HTTP_X_FORWARDED_FOR=f"10.8.8.{n}"
        )
    assert Client().post(reverse("login"), {"username": "user0", "password": PASSWORD}).status_code == 429


def test_behind_a_named_proxy_the_clients_own_address_is_what_counts(client, dev, settings):
    settings.SLIPWAY_PROXY_COUNT = 1
    users = [get_user_model().objects.create_user(f"user{n}", password=PASSWORD) for n in range(4)]
    for user in users:
        Client().post(
            reverse("login"),
            {"username": user.username, "password": "x"},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=f"1.2.3.4, {OFFICE}",
        )
    # The proxy's own address (REMOTE_ADDR) is shared by everyone and stays open...
    ok = Client().post(
        reverse("login"),
        {"username": "dev", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR=ELSEWHERE,
    )
    assert ok.status_code == 302
    # ...the spraying client, as the proxy saw it, is locked.
    locked = Client().post(
        reverse("login"),
        {"username": "dev", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR=OFFICE,
    )
    assert locked.status_code == 429


def test_a_username_with_nul_bytes_or_a_huge_one_is_a_plain_failure(client, dev):
    # A NUL is refused by the one text check (portal.inputs) before sign-in is tried; a huge name just fails.
    refused = sign_in(client, "dev\x00", "x")
    assert refused.status_code == 400 and "username" in refused.content.decode()
    assert sign_in(client, "d" * 5000, "x").status_code == 200


# --- API tokens --------------------------------------------------------------------------------------


def api(key, address=OFFICE):
    return Client().get("/api/v1/deployments/", HTTP_AUTHORIZATION=f"Token {key}", REMOTE_ADDR=address)


def test_guessing_one_tokens_key_locks_that_token_and_answers_json(dev):
    token, key = APIToken.issue(user=dev, name="ci")
    for n in range(2):
        assert api(f"{token.key_hint}wrong{n}").status_code == 401
    assert api(f"{token.key_hint}wrong").status_code in (401, 429)
    locked = api(key, address=ELSEWHERE)
    assert locked.status_code == 429
    assert locked.json() == {"message": "Too many failed sign-ins. Try again in 15 minutes.", "errors": {}}
    assert int(locked["Retry-After"]) > 0


def test_made_up_tokens_from_one_address_do_not_lock_out_a_real_token_there(dev):
    _, key = APIToken.issue(user=dev, name="ci")
    for n in range(40):
        assert api(f"slw_{n:06d}-made-up-xxxxxxxxxxxxxxxxxxxx").status_code == 401
    assert api(key).status_code == 200


def test_a_locked_out_account_is_locked_for_its_password_not_for_other_accounts_tokens(client, dev, teammate):
    _, key = APIToken.issue(user=teammate, name="ci")
    for _ in range(3):
        sign_in(client, "dev", "wrong")
    assert sign_in(client, "dev", PASSWORD).status_code == 429
    assert api(key).status_code == 200


# --- Redis down ------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server")
def test_with_the_brokers_redis_down_signing_in_works_and_healthz_says_what_is_wrong(dev, tmp_path, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]  # what the server checks with
    dev.set_password(PASSWORD)
    dev.save()
    web_port = free_port()
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    base = f"http://127.0.0.1:{web_port}"
    env = service_env(CELERY_BROKER_URL=dead_redis, SLIPWAY_BASE_URL=base, SLIPWAY_VAR_DIR=str(tmp_path / "var"))
    web = start_process(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{web_port}", "--noreload"], env, tmp_path / "web.log"
    )
    try:
        deadline = time.monotonic() + 30
        health = None
        while time.monotonic() < deadline:
            try:
                health = requests.get(f"{base}/healthz", timeout=10)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        assert health is not None, (tmp_path / "web.log").read_text()
        assert health.status_code == 503
        assert health.json()["database"] == "ok"
        assert health.json()["broker"] != "ok" and "Connection" in health.json()["broker"]

        browser = requests.Session()
        browser.get(f"{base}/accounts/login/", timeout=10)
        wrong = browser.post(
            f"{base}/accounts/login/",
            data={"username": "dev", "password": "wrong", "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
            headers={"Referer": f"{base}/accounts/login/"},
            timeout=10,
        )
        assert wrong.status_code == 200 and "correct username and password" in wrong.text
        right = browser.post(
            f"{base}/accounts/login/",
            data={"username": "dev", "password": PASSWORD, "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
            headers={"Referer": f"{base}/accounts/login/"},
            timeout=10,
            allow_redirects=False,
        )
        assert right.status_code == 302, (tmp_path / "web.log").read_text()[-3000:]
        assert browser.get(f"{base}/", timeout=10).status_code == 200
    finally:
        stop_process(web)
