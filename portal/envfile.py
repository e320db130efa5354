"""``manage.py init_env``: write the ``.env`` file that holds Slipway's keys, once.

Standard library only, and run by ``manage.py`` before Django loads settings: with ``DEBUG=0`` the
settings refuse to load without these very keys, so creating them cannot depend on them.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import sys
from datetime import datetime, timezone

TEMPLATE = """\
# Slipway configuration, written by `manage.py init_env` on {date}.
#
# BACK THIS FILE UP NOW, somewhere safe. SLIPWAY_ENCRYPTION_KEY encrypts the secrets, engine state and
# plans stored in the database: without it they cannot be read, and a new key cannot read them either.
# Never run init_env again for an existing database (it refuses to overwrite this file). To change the
# key later, see "Keys" in README.md (rotate_encryption_key).
SECRET_KEY={secret_key}
SLIPWAY_ENCRYPTION_KEY={encryption_key}

# Where people open Slipway: links in notifications; also allowed as a host and trusted as a form origin.
SLIPWAY_PUBLIC_URL={public_url}
# Where TLS ends: off (plain HTTP, e.g. on a private network), proxy (a TLS proxy in front sets
# X-Forwarded-Proto), on (this server is reached over https).
SLIPWAY_TLS={tls}

# Email for notifications (exception requests, plans waiting for approval). Unset, mail goes to
# localhost:25 and `manage.py doctor` warns.
#EMAIL_HOST=smtp.example.com
#EMAIL_PORT=587
#EMAIL_USE_TLS=1
#EMAIL_HOST_USER=slipway
#EMAIL_HOST_PASSWORD=
#DEFAULT_FROM_EMAIL=slipway@example.com
"""


def fernet_key() -> str:
    """A Fernet key: 32 random bytes, URL-safe base64 (what cryptography's Fernet.generate_key makes)."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def render(*, public_url: str, tls: str) -> str:
    return TEMPLATE.format(
        # timezone.utc, not datetime.UTC: this runs on the host's own python3, which may be older than 3.11.
        date=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),  # noqa: UP017
        secret_key=secrets.token_urlsafe(50),
        encryption_key=fernet_key(),
        public_url=public_url,
        tls=tls,
    )


def write(path: str, *, public_url: str, tls: str) -> None:
    """Create ``path`` (mode 600) with fresh keys; FileExistsError if it exists, whatever it holds."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(render(public_url=public_url, tls=tls))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="manage.py init_env",
        description="Create the .env file with SECRET_KEY and SLIPWAY_ENCRYPTION_KEY, once. Refuses to overwrite.",
    )
    parser.add_argument("--path", default=".env", help="where to write it (default: .env)")
    parser.add_argument(
        "--public-url", default="http://localhost:8000", help="SLIPWAY_PUBLIC_URL: where people open Slipway"
    )
    parser.add_argument("--tls", choices=["off", "proxy", "on"], default="off", help="SLIPWAY_TLS (default: off)")
    args = parser.parse_args(argv)
    try:
        write(args.path, public_url=args.public_url, tls=args.tls)
    except FileExistsError:
        sys.stderr.write(
            f"{args.path} already exists: not touching it. Its keys encrypt what the database holds; new keys "
            "could not read it. Edit the file by hand to change other settings.\n"
        )
        return 1
    print(
        f"Wrote {args.path} with a new SECRET_KEY and SLIPWAY_ENCRYPTION_KEY.\n"
        f"Back it up now, somewhere safe: without SLIPWAY_ENCRYPTION_KEY the secrets, state and plans in the "
        f"database cannot be read. Edit SLIPWAY_PUBLIC_URL, SLIPWAY_TLS and the email settings in it as needed."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
