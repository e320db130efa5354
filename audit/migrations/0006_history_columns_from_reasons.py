"""Fill the audit columns of every history row written before they existed, and the scope of old events.

Until now a history row kept its channel, actor, request id, basis and note as compact JSON in
``history_change_reason`` (``{"c":"api","a":"dev","r":"5f0c…","b":"approved by …","n":"bigger disk"}``;
older rows plain text, which is the note). This migration moves them into the columns and leaves the
note, as text, in ``history_change_reason``.

The scope (team, project, environment, tier) of each row is where its object stood *then*: read from
the teams', projects' and environments' own history at the row's time, and from today's objects only
where no history is that old. Audit events get the scope of their deployment (or environment) the
same way.

History tables are append-only (a PostgreSQL trigger, ``0003_append_only``): the trigger is switched
off for this migration's updates only, table by table, and on again before the transaction ends.
"""

import bisect
import contextlib
import json

from django.db import migrations

HISTORY_TABLES = [
    ("portal", "HistoricalTeam"),
    ("portal", "HistoricalMembership"),
    ("bundles", "HistoricalBundle"),
    ("bundles", "HistoricalBundleVersion"),
    ("deployments", "HistoricalProject"),
    ("deployments", "HistoricalEnvironment"),
    ("deployments", "HistoricalPolicy"),
    ("deployments", "HistoricalDeployment"),
]
BATCH = 1000
COLUMNS = [
    "history_channel",
    "history_actor",
    "history_request_id",
    "history_basis",
    "history_change_reason",
    "scope_team_id",
    "scope_team",
    "scope_project_id",
    "scope_project",
    "scope_environment_id",
    "scope_environment",
    "scope_tier",
]


def legacy_reason(text):
    """(channel, actor, request id, basis, note) of a reason as it was stored before the columns."""
    if text and text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            return tuple(str(data.get(key, "")) for key in ("c", "a", "r", "b", "n"))
    return "", "", "", "", text or ""


@contextlib.contextmanager
def append_only_off(schema_editor, table):
    """The append-only trigger of ``table`` switched off for the duration (PostgreSQL; elsewhere there is none)."""
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        yield
        return
    name = f"{table}_append_only"
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_trigger WHERE tgname = %s", [name])
        exists = cursor.fetchone() is not None
        if exists:
            # A table with deferred foreign-key checks still pending cannot be altered: run them first.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f'ALTER TABLE "{table}" DISABLE TRIGGER "{name}"')
        try:
            yield
        finally:
            if exists:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute(f'ALTER TABLE "{table}" ENABLE TRIGGER "{name}"')
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")


class Timeline:
    """The values of one kind of object over time: ``at(pk, when)`` is the newest history row's values at
    or before ``when``, else today's object's, else None."""

    def __init__(self, history_model, model, fields):
        self.fields = fields
        self.rows = {}
        for row in history_model.objects.order_by("history_date", "history_id").values("id", "history_date", *fields):
            self.rows.setdefault(row["id"], ([], []))
            dates, values = self.rows[row["id"]]
            dates.append(row["history_date"])
            values.append(tuple(row[f] for f in fields))
        self.now = {row["id"]: tuple(row[f] for f in fields) for row in model.objects.values("id", *fields)}

    def at(self, pk, when):
        dates, values = self.rows.get(pk, ([], []))
        index = bisect.bisect_right(dates, when) - 1
        return values[index] if index >= 0 else self.now.get(pk)


class Scopes:
    def __init__(self, apps):
        get = apps.get_model
        self.teams = Timeline(get("portal", "HistoricalTeam"), get("portal", "Team"), ["slug"])
        self.projects = Timeline(
            get("deployments", "HistoricalProject"), get("deployments", "Project"), ["team_id", "slug"]
        )
        self.environments = Timeline(
            get("deployments", "HistoricalEnvironment"),
            get("deployments", "Environment"),
            ["project_id", "slug", "tier"],
        )

    def team(self, team_id, when):
        found = self.teams.at(team_id, when) if team_id else None
        return {"scope_team_id": team_id, "scope_team": found[0] if found else ""}

    def project(self, project_id, when):
        found = self.projects.at(project_id, when) if project_id else None
        if found is None:
            return {}
        return {**self.team(found[0], when), "scope_project_id": project_id, "scope_project": found[1]}

    def environment(self, environment_id, when):
        found = self.environments.at(environment_id, when) if environment_id else None
        if found is None:
            return {}
        return {
            **self.project(found[0], when),
            "scope_environment_id": environment_id,
            "scope_environment": found[1],
            "scope_tier": found[2],
        }

    def of_row(self, model_name, row):
        """The scope of one history row at its own time (its own values first: a project row knows its team)."""
        when = row.history_date
        if model_name == "HistoricalTeam":
            return {"scope_team_id": row.id, "scope_team": row.slug}
        if model_name == "HistoricalMembership":
            return self.team(row.team_id, when)
        if model_name == "HistoricalProject":
            return {**self.team(row.team_id, when), "scope_project_id": row.id, "scope_project": row.slug}
        if model_name == "HistoricalEnvironment":
            return {
                **self.project(row.project_id, when),
                "scope_environment_id": row.id,
                "scope_environment": row.slug,
                "scope_tier": row.tier,
            }
        if model_name in ("HistoricalPolicy", "HistoricalDeployment"):
            return self.environment(row.environment_id, when)
        return {}


def fill_history(apps, schema_editor, scopes=None):
    scopes = scopes or Scopes(apps)
    for app_label, model_name in HISTORY_TABLES:
        model = apps.get_model(app_label, model_name)
        rows = model.objects.filter(history_channel="", history_actor="", history_request_id="", history_basis="")
        with append_only_off(schema_editor, model._meta.db_table):
            batch = []
            for row in rows.order_by("history_id").iterator(chunk_size=BATCH):
                channel, actor, request_id, basis, note = legacy_reason(row.history_change_reason)
                row.history_channel, row.history_actor = channel[:20], actor[:150]
                row.history_request_id, row.history_basis = request_id[:64], basis
                row.history_change_reason = note or None
                for name, value in scopes.of_row(model_name, row).items():
                    setattr(row, name, value if value is not None else (None if name.endswith("_id") else ""))
                batch.append(row)
                if len(batch) >= BATCH:
                    model.objects.bulk_update(batch, COLUMNS)
                    batch = []
            if batch:
                model.objects.bulk_update(batch, COLUMNS)


def fill_events(apps, schema_editor, scopes=None):
    scopes = scopes or Scopes(apps)
    AuditEvent = apps.get_model("audit", "AuditEvent")
    environment_of = dict(apps.get_model("deployments", "Deployment").objects.values_list("id", "environment_id"))
    with append_only_off(schema_editor, AuditEvent._meta.db_table):
        batch = []
        for event in AuditEvent.objects.filter(scope_team="").order_by("id").iterator(chunk_size=BATCH):
            environment_id = environment_of.get(event.deployment_id)
            if environment_id is None and event.target_type == "deployments.environment" and event.target_id.isdigit():
                environment_id = int(event.target_id)
            scope = scopes.environment(environment_id, event.created_at)
            if not scope:
                continue
            for name, value in scope.items():
                setattr(event, name, value if value is not None else "")
            batch.append(event)
            if len(batch) >= BATCH:
                AuditEvent.objects.bulk_update(batch, [c for c in COLUMNS if c.startswith("scope_")])
                batch = []
        if batch:
            AuditEvent.objects.bulk_update(batch, [c for c in COLUMNS if c.startswith("scope_")])


def forwards(apps, schema_editor):
    scopes = Scopes(apps)
    fill_history(apps, schema_editor, scopes)
    fill_events(apps, schema_editor, scopes)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0005_event_scope"),
        ("portal", "0004_history_audit_columns"),
        ("bundles", "0003_history_audit_columns"),
        ("deployments", "0006_history_audit_columns"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
