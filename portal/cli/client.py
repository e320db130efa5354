"""The CLI's connection to a server: configuration (flags, environment, config file), the HTTP client,
and the errors that end a command with an exit code."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any

import requests

EXIT_OK, EXIT_RUN_FAILED, EXIT_BAD_INPUT, EXIT_UNAVAILABLE = 0, 1, 2, 3
RUN_FAILED = {"failed", "cancelled", "interrupted"}
# A run stops here for a person (the requester's review, or ops' approval): following it ends.
RUN_WAITS = {"planned", "awaiting_approval"}
TIMEOUT = 30


class CLIError(Exception):
    """Ends the command with one line on stderr and an exit code."""

    def __init__(self, message: str, code: int = EXIT_BAD_INPUT):
        super().__init__(message)
        self.message, self.code = message, code


# --- configuration ---------------------------------------------------------------------------


def config_path() -> Path:
    if os.environ.get("SLIPWAY_CONFIG"):
        return Path(os.environ["SLIPWAY_CONFIG"])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "slipway" / "config.toml"


def read_config() -> dict[str, str]:
    path = config_path()
    if not path.exists():
        return {}
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CLIError(f"cannot read {path}: {exc}") from exc
    return {k: str(v) for k, v in data.items() if k in ("url", "token")}


def write_config(url: str, token: str) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # json.dumps of a str is a valid TOML basic string.
    text = f"# Written by `slipway login`.\nurl = {json.dumps(url)}\ntoken = {json.dumps(token)}\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    path.chmod(0o600)
    return path


# --- HTTP --------------------------------------------------------------------------------------


def error_line(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "message" in body:
        message = str(body["message"])
        errors = body.get("errors") or {}
        details = "; ".join(f"{pointer or '/'}: {' '.join(map(str, msgs))}" for pointer, msgs in errors.items())
        # The message often repeats the first field error; list each field once.
        return f"{message} [{details}]" if details else message
    text = " ".join(response.text.split())[:200]
    return f"{response.status_code} {response.reason}" + (f": {text}" if text and body is not None else "")


class Client:
    def __init__(self, url: str, token: str):
        self.base = url.rstrip("/")
        self.session = requests.Session()
        self.session.headers.update(
            {"Authorization": f"Token {token}", "Accept": "application/json", "User-Agent": "slipway-cli"}
        )

    def request(self, method: str, path: str, *, ok=(200, 201, 202), **kwargs) -> requests.Response:
        url = path if path.startswith("http") else f"{self.base}/api/v1/{path.lstrip('/')}"
        try:
            response = self.session.request(method, url, timeout=TIMEOUT, **kwargs)
        except requests.RequestException as exc:
            raise CLIError(f"cannot reach {self.base}: {exc.__class__.__name__}", EXIT_UNAVAILABLE) from exc
        if response.status_code in ok:
            return response
        code = EXIT_UNAVAILABLE if response.status_code >= 500 else EXIT_BAD_INPUT
        raise CLIError(f"{method} {url.removeprefix(self.base)}: {error_line(response)}", code)

    def get(self, path: str, **params) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None}).json()

    def post(self, path: str, body: dict, *, key: str | None = None) -> Any:
        headers = {"Idempotency-Key": key} if key else {}
        return self.request("POST", path, json=body, headers=headers).json()

    def all_pages(self, path: str, **params) -> list[dict]:
        """Every result of a paginated list, following ``next``."""
        page = self.get(path, limit=200, **params)
        results = list(page.get("results", []))
        while page.get("next"):
            page = self.request("GET", page["next"]).json()
            results.extend(page.get("results", []))
        return results


def client_from(args) -> Client:
    config = read_config()
    url = args.url or os.environ.get("SLIPWAY_URL") or config.get("url")
    token = args.token or os.environ.get("SLIPWAY_TOKEN") or config.get("token")
    if not url or not token:
        raise CLIError("not logged in: run `slipway login`, or set SLIPWAY_URL and SLIPWAY_TOKEN")
    return Client(url, token)
