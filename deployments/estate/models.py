"""The estate as a database: the resource index, saved queries and bulk changes."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from portal.querysets import CHANGE, VIEW, OpsOnlyQuerySet, TeamScopedQuerySet


class StateResourceQuerySet(TeamScopedQuerySet):
    team_path = "deployment__environment__project__team"


class SavedQueryQuerySet(models.QuerySet):
    """A saved query is seen by its owner, and by everyone when shared; only its owner changes it.
    (Running it still shows each person only the deployments they may see.)"""

    def visible_to(self, user):
        return self.filter(Q(owner=user) | Q(shared=True)) if user.is_authenticated else self.none()

    def actionable_by(self, user, action: str):
        if action == VIEW:
            return self.visible_to(user)
        return self.filter(owner=user) if user.is_authenticated and action == CHANGE else self.none()


class StateResource(models.Model):
    """One resource instance of a deployment's latest state, with its non-sensitive attributes.

    Rewritten whenever the engine stores a new state, so ``resource.<type>.<attr>`` queries read a
    small indexed table instead of decrypting every state. Attributes the state marks sensitive are
    never stored here.
    """

    deployment = models.ForeignKey("deployments.Deployment", on_delete=models.CASCADE, related_name="state_resources")
    state_version = models.ForeignKey(
        "deployments.StateVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    address = models.CharField(max_length=500)
    type = models.CharField(max_length=200)
    attributes = models.JSONField(default=dict)

    objects = StateResourceQuerySet.as_manager()

    class Meta:
        ordering = ["deployment", "address"]
        indexes = [models.Index(fields=["type", "deployment"], name="stateresource_type_dep")]

    def __str__(self) -> str:
        return f"{self.address} of {self.deployment_id}"


class EstateTerm(models.Model):
    """One distinct value at one path of params, outputs or a resource type's attributes: the estate query's
    inverted index (with :class:`EstatePosting`, the deployments that hold it).

    PostgreSQL only, and written by triggers (migration ``0017_estate_terms``), never by Django: every insert
    or change of a deployment's ``params``/``outputs`` or of a :class:`StateResource` rewrites its postings, so
    no writer can forget them. ``path`` is the dotted path of the node (a list's elements by number; a ``.``
    or a backslash inside a key is escaped with a backslash, so no key poses as a nested path) and ``value``
    its JSON, objects and lists included (``~`` reads their text too). ``~`` and ``<`` ``>`` run over the
    distinct values of a path (trigram and btree indexes) with the operators the JSON columns would use, then
    read the postings of the values that match. A value no deployment holds any more stays, unused.
    """

    source = models.CharField(max_length=1, help_text="p: params, o: outputs, r: a resource's attributes.")
    kind = models.CharField(max_length=200, blank=True, help_text="The resource's type (resources only).")
    path = models.TextField()
    value = models.JSONField()

    def __str__(self) -> str:
        return f"{self.source}:{self.kind}:{self.path}"


class EstatePosting(models.Model):
    """A deployment (and, for resources, the resource) that holds an :class:`EstateTerm`. The foreign keys
    to the deployment and the resource are ``ON DELETE CASCADE`` in the database (the migration adds them)."""

    # (indexed as (term, deployment) and (deployment, source) by the migration)
    term = models.ForeignKey(
        EstateTerm, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    deployment = models.ForeignKey(
        "deployments.Deployment", on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    resource = models.ForeignKey(
        StateResource, null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    source = models.CharField(max_length=1)

    def __str__(self) -> str:
        return f"{self.term_id} of {self.deployment_id}"


class SavedQuery(models.Model):
    """An estate query someone saved under a name; shared ones are listed for everyone."""

    name = models.CharField(max_length=120)
    query = models.TextField()
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_queries")
    shared = models.BooleanField(default=False, help_text="Listed for everyone (each still sees only what they may).")
    created_at = models.DateTimeField(default=timezone.now)

    objects = SavedQueryQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "saved queries"
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="savedquery_unique_name")]

    def __str__(self) -> str:
        return self.name


class BulkChange(models.Model):
    """A change tested against every deployment a query selects, then rolled out in waves.

    The change sets or unsets param paths (``patch``), moves the targets to ``target_version``, or
    both. The database drives it: a Celery task reads the status, does the next step, and schedules
    itself again, so a worker restart only delays it.
    """

    class Status(models.TextChoices):
        DRAFT = "draft"
        DRY_RUNNING = "dry_running", "Dry run in progress"
        TESTED = "tested", "Dry run done"
        ROLLING_OUT = "rolling_out", "Rolling out"
        COMPLETED = "completed"
        STOPPED = "stopped"
        CANCELLED = "cancelled"

    ACTIVE = (Status.DRY_RUNNING, Status.ROLLING_OUT)
    FINISHED = (Status.COMPLETED, Status.STOPPED, Status.CANCELLED)

    title = models.CharField(max_length=200)
    query = models.TextField(help_text="The estate query that selects the targets.")
    patch = models.JSONField(
        default=list,
        blank=True,
        help_text='Param changes: [{"op": "set", "path": "/a/b", "value": 1}, {"op": "unset", "path": "/c"}].',
    )
    target_version = models.ForeignKey(
        "bundles.BundleVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    plan = models.BooleanField(default=False, help_text="Also plan every valid target during the dry run.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    wave_size = models.PositiveIntegerField(default=5)
    pause_seconds = models.PositiveIntegerField(default=0)
    failure_threshold = models.PositiveIntegerField(default=1, help_text="Stop once this many targets have failed.")
    include_risky = models.BooleanField(
        default=False, help_text="Also roll out targets whose plan replaces or destroys."
    )
    waves_started = models.PositiveIntegerField(default=0)
    next_wave_at = models.DateTimeField(null=True, blank=True)
    message = models.TextField(blank=True, help_text="Why it stopped, or what it is doing.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_name = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    driven_at = models.DateTimeField(null=True, blank=True, help_text="Last time the driver task looked at it.")
    driver_token = models.CharField(
        max_length=32, blank=True, editable=False, help_text="Only the driver chain holding this token goes on."
    )

    objects = OpsOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"bulk change #{self.pk}: {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("deployments:bulk", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class BulkTarget(models.Model):
    """One deployment a bulk change selected: its dry-run verdict, then its rollout."""

    class Verdict(models.TextChoices):
        PENDING = "pending"
        PLANNING = "planning"
        CLEAN = "clean"
        INVALID = "invalid"
        RISKY = "risky", "Would replace or destroy"

    class Rollout(models.TextChoices):
        WAITING = "waiting"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        HELD = "held", "Waiting for review"
        FAILED = "failed"
        SKIPPED = "skipped", "Not rolled out"

    bulk_change = models.ForeignKey(BulkChange, on_delete=models.CASCADE, related_name="targets")
    deployment = models.ForeignKey("deployments.Deployment", on_delete=models.PROTECT, related_name="+")
    from_version = models.ForeignKey("bundles.BundleVersion", on_delete=models.PROTECT, related_name="+")
    deployment_version = models.PositiveIntegerField(help_text="The deployment's version the dry run tested.")
    verdict = models.CharField(max_length=20, choices=Verdict.choices, default=Verdict.PENDING)
    errors = models.JSONField(default=dict, blank=True, help_text="Validation errors by JSON pointer.")
    resources = models.JSONField(default=list, blank=True, help_text="Resources the plan replaces or destroys.")
    plan_run = models.ForeignKey("deployments.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    rollout = models.CharField(max_length=20, choices=Rollout.choices, default=Rollout.WAITING)
    wave = models.PositiveIntegerField(null=True, blank=True)
    run = models.ForeignKey("deployments.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["bulk_change", "id"]
        constraints = [
            models.UniqueConstraint(fields=["bulk_change", "deployment"], name="bulktarget_unique_deployment")
        ]

    def __str__(self) -> str:
        return f"{self.deployment_id} in bulk change #{self.bulk_change_id}"
