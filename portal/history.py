"""The change reason of every history row: who, through which door, on what basis, in which request.

simple-history keeps one ``history_change_reason`` column per historical table (a text column:
``SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD``). The reason is stored there as compact
JSON with short keys, always written by :func:`change_reason` and read back by
:func:`parse_change_reason`::

    {"c":"api","a":"dev","r":"5f0c9a2e41d7b3c8","b":"policy:prod","n":"bigger disk"}

``c`` channel, ``a`` actor name (kept as text, so it survives the user), ``r`` request id,
``b`` approval basis, ``n`` free-text note. The channel always comes first, so a query can
select rows by channel with a prefix match (see :func:`channel_prefix`). A reason is bounded
(``MAX_LENGTH``) far above what the forms and the API accept (500 characters); past it, the note
is shortened first, then the basis; channel, actor and request id are kept.

A ``pre_create_historical_record`` receiver fills what the saving code did not say (the channel
of the current request, its id, the user), so admin edits record ``admin`` and a row written by a
Celery task records ``system``. Older free-text reasons still parse: they become the note.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .context import current_channel, current_request_id
from .models import Channel

MAX_LENGTH = 2000
_KEYS = (("c", "channel"), ("a", "actor"), ("r", "request_id"), ("b", "basis"), ("n", "note"))


@dataclass(frozen=True)
class ChangeReason:
    channel: str = ""
    actor: str = ""
    request_id: str = ""
    basis: str = ""
    note: str = ""

    @property
    def channel_label(self) -> str:
        return dict(Channel.choices).get(self.channel, self.channel or "unknown")

    def as_dict(self) -> dict[str, str]:
        return {long: getattr(self, long) for _, long in _KEYS}


def _encode(values: dict[str, str]) -> str:
    return json.dumps({k: v for k, v in values.items() if v}, separators=(",", ":"), ensure_ascii=False)


def _actor_name(actor) -> str:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return ""
    return actor.get_username()


def encode_reason(reason: ChangeReason) -> str:
    """The compact JSON for ``reason``, shortened to fit the column."""
    values = {short: str(getattr(reason, long) or "") for short, long in _KEYS}
    values["c"] = values["c"] or Channel.SYSTEM
    values["a"] = values["a"][:40]
    values["r"] = values["r"][:32]
    text = _encode(values)
    # Shorten the note, then the basis, then (only with absurdly long names and ids) actor and request.
    for key in ("n", "b", "a", "r"):
        while len(text) > MAX_LENGTH and values[key]:
            overflow = len(text) - MAX_LENGTH
            keep = max(len(values[key]) - overflow - 1, 0)
            values[key] = values[key][:keep] + "…" if keep else ""
            text = _encode(values)
    return text


def change_reason(
    *, channel: str = "", actor=None, basis: str = "", request_id: str | None = None, note: str = ""
) -> str:
    """The value for ``instance._change_reason`` before ``save()``.

    ``request_id`` defaults to the current request's; ``actor`` (a user) is stored by name.
    """
    return encode_reason(
        ChangeReason(
            channel=channel or current_channel() or Channel.SYSTEM,
            actor=_actor_name(actor),
            request_id=current_request_id() if request_id is None else request_id,
            basis=basis,
            note=note,
        )
    )


def parse_change_reason(text: str | None) -> ChangeReason:
    """Read a stored reason back. Free text (older rows, or code that set a plain string) is the note."""
    if not text:
        return ChangeReason()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            return ChangeReason(**{long: str(data.get(short, "")) for short, long in _KEYS})
    return ChangeReason(note=text)


def channel_prefix(channel: str) -> str:
    """What every reason recorded through ``channel`` starts with."""
    return '{"c":' + json.dumps(channel)


def complete_change_reason(sender, history_instance, **kwargs) -> None:
    """Fill in what the code that saved did not say: channel, request id, actor."""
    reason = parse_change_reason(history_instance.history_change_reason)
    user = getattr(history_instance, "history_user", None)
    history_instance.history_change_reason = encode_reason(
        ChangeReason(
            channel=reason.channel or current_channel() or Channel.SYSTEM,
            actor=reason.actor or _actor_name(user),
            request_id=reason.request_id or current_request_id(),
            basis=reason.basis,
            note=reason.note,
        )
    )


def refuse_admin_revert() -> None:
    """Make the admin's "view a past version" page read-only, for every SimpleHistoryAdmin.

    ``SIMPLE_HISTORY_REVERT_DISABLED`` only hides the revert button: simple-history's
    ``history_form_view`` still saves a POSTed form, which would write an old version back over
    the row, outside the services, with no run and no validation. Restoring is
    ``audit.services.deployment_restore``; this page only shows.
    """
    from django.conf import settings
    from django.core.exceptions import PermissionDenied
    from simple_history.admin import SimpleHistoryAdmin

    original = SimpleHistoryAdmin.history_form_view
    if getattr(original, "read_only", False):
        return

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method not in ("GET", "HEAD") and getattr(settings, "SIMPLE_HISTORY_REVERT_DISABLED", False):
            raise PermissionDenied("History is read-only; restore a configuration from its history page instead.")
        return original(self, request, object_id, version_id, extra_context)

    history_form_view.read_only = True
    SimpleHistoryAdmin.history_form_view = history_form_view
