"""Webhook endpoints, the outbox of events, and every delivery attempt (docs/webhooks.md).

An event is written in the same transaction as the change it reports, so it exists exactly when
the change does; the worker sends it after the commit.
"""

import base64
import datetime
import secrets
import uuid

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone


class EventType(models.TextChoices):
    REVIEW_DECIDED = "review.decided"
    REVIEW_ENQUEUED = "review.enqueued"
    RESULT_CREATED = "result.created"
    JOB_COMPLETED = "job.completed"
    JOB_FAILED = "job.failed"
    TEST = "webhook.test", "webhook.test (sent from the admin to one endpoint)"


SUBSCRIBABLE = [value for value in EventType.values if value != EventType.TEST]
SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def validate_secret(value: str) -> None:
    body = value.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(body, validate=True)
    except ValueError:
        key = b""
    if not value.startswith(SECRET_PREFIX) or not 24 <= len(key) <= 64:
        raise ValidationError(
            "A secret is whsec_ followed by 24 to 64 random bytes in base64 "
            "(leave it empty in the admin to have one made)."
        )


def validate_events(value) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError("Choose at least one event.")
    unknown = sorted(set(map(str, value)) - set(SUBSCRIBABLE))
    if unknown:
        raise ValidationError(
            f"Unknown event(s): {', '.join(unknown)}. Known: {', '.join(SUBSCRIBABLE)}."
        )


class EventEncoder(DjangoJSONEncoder):
    """Times to the microsecond, as the API writes them: a version in an event (a row's
    updated_at) then equals the one the API returns."""

    def default(self, o):
        if isinstance(o, datetime.datetime):
            return o.isoformat().replace("+00:00", "Z")
        return super().default(o)


class CurrentTransactionId(models.Func):
    """The id of the writing transaction on PostgreSQL; 0 elsewhere (SQLite runs one writer at
    a time, so there the row id alone is in commit order)."""

    output_field = models.BigIntegerField()

    def as_sql(self, compiler, connection, **extra_context):
        return "0", []

    def as_postgresql(self, compiler, connection, **extra_context):
        return "(pg_current_xact_id()::text::bigint)", []


class OwnTransactionId(models.Func):
    """The reading transaction's own id, if it wrote anything (PostgreSQL): its own events are
    visible to it, and final for it."""

    output_field = models.BigIntegerField()

    def as_sql(self, compiler, connection, **extra_context):
        return "NULL", []

    def as_postgresql(self, compiler, connection, **extra_context):
        return "(pg_current_xact_id_if_assigned()::text::bigint)", []


class OldestRunningTransaction(models.Func):
    """Every transaction with a smaller id has committed or rolled back (PostgreSQL)."""

    output_field = models.BigIntegerField()

    def as_sql(self, compiler, connection, **extra_context):
        return "1", []

    def as_postgresql(self, compiler, connection, **extra_context):
        return "(pg_snapshot_xmin(pg_current_snapshot())::text::bigint)", []


class EndpointQuerySet(models.QuerySet):
    def active(self):
        return self.filter(active=True)


class Endpoint(models.Model):
    """A URL that receives the events it subscribes to, signed with its secret."""

    url = models.URLField(
        "URL", max_length=2000, validators=[URLValidator(schemes=["http", "https"])]
    )
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(
        default=list, validators=[validate_events], help_text="the event types it receives"
    )
    secret = models.CharField(
        max_length=120,
        default=new_secret,
        validators=[validate_secret],
        help_text="Standard Webhooks signing secret (whsec_...); give it to the receiver",
    )
    active = models.BooleanField(default=True)
    failing_since = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="first failure since the last success"
    )
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = EndpointQuerySet.as_manager()

    class Meta:
        db_table = "webhook_endpoints"
        verbose_name = "webhook endpoint"

    def __str__(self):
        return self.url

    def wants(self, event_type: str) -> bool:
        return event_type in self.events


class EventQuerySet(models.QuerySet):
    def feed(self, event_type: str, after: tuple[int, int] | None = None, since=None):
        """Events of one type in commit order, after the position `after` (txid, id).

        Only events that no running transaction can still precede are in it (PostgreSQL: those
        of transactions older than the oldest one running), so a reader that pages on through
        the feed while others write neither skips nor repeats an event.
        """
        events = self.filter(
            Q(txid__lt=OldestRunningTransaction()) | Q(txid=OwnTransactionId()), type=event_type
        )
        if after is not None:
            txid, pk = after
            # txid >= bounds the index range; the OR only sorts out the rows of that one txid.
            events = events.filter(Q(txid__gt=txid) | Q(id__gt=pk), txid__gte=txid)
        if since is not None:
            events = events.filter(created_at__gte=since)
        return events.order_by("txid", "id")


class Event(models.Model):
    """The outbox: one row per change, written in the change's own transaction."""

    id = models.BigAutoField(primary_key=True)
    message_id = models.UUIDField(default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=50, choices=EventType)
    data = models.JSONField(encoder=EventEncoder)
    created_at = models.DateTimeField(default=timezone.now)
    # The feed's order (reviews' decisions API): the transaction id, then the row id. A row
    # becomes readable once every older transaction has ended, so nothing committed later can
    # sort before what a reader has already seen.
    txid = models.BigIntegerField(db_default=CurrentTransactionId(), editable=False)
    endpoint = models.ForeignKey(
        Endpoint,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="only to this endpoint (a test event); empty: to every subscriber",
    )
    dispatched_at = models.DateTimeField(null=True, blank=True)

    objects = EventQuerySet.as_manager()

    class Meta:
        db_table = "webhook_events"
        indexes = [
            models.Index(fields=["type", "txid", "id"], name="idx_webhook_event_feed"),
            models.Index(fields=["created_at"], name="idx_webhook_event_created"),
            # The sweep's search for events whose dispatch task was lost: a handful of rows.
            models.Index(
                fields=["created_at"],
                name="idx_webhook_event_undispatched",
                condition=Q(dispatched_at__isnull=True),
            ),
        ]

    def __str__(self):
        return f"{self.type} #{self.pk}"

    @property
    def webhook_id(self) -> str:
        return f"msg_{self.message_id.hex}"

    def envelope(self) -> dict:
        """The body sent: Standard Webhooks' type, timestamp and data."""
        return {"type": self.type, "timestamp": self.created_at, "data": self.data}


class DeliveryQuerySet(models.QuerySet):
    def due(self, now):
        return self.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now)

    def overdue(self, now, grace):
        """Pending deliveries whose task has gone missing (a worker died mid-task)."""
        return self.filter(status=Delivery.Status.PENDING, next_attempt_at__lt=now - grace)


class Delivery(models.Model):
    """One event to one endpoint: pending until delivered or given up."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed", "Failed (given up)"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=Status, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0, help_text="in this round")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.IntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        db_table = "webhook_deliveries"
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="one_delivery_per_endpoint")
        ]
        indexes = [
            models.Index(fields=["endpoint", "-created_at"], name="idx_webhook_delivery_endpoint"),
            models.Index(
                fields=["next_attempt_at"],
                name="idx_webhook_delivery_pending",
                condition=Q(status="pending"),
            ),
        ]

    def __str__(self):
        return f"{self.event} to {self.endpoint}"


class DeliveryAttempt(models.Model):
    """The log: every HTTP attempt, with what came back."""

    class Outcome(models.TextChoices):
        DELIVERED = "delivered"
        RETRY = "retry", "Failed, will retry"
        FAILED = "failed", "Failed, not retried"

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempt = models.PositiveIntegerField(help_text="number in its round")
    manual = models.BooleanField(default=False, help_text="first of a redelivery from the admin")
    at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=10, choices=Outcome)
    status_code = models.IntegerField(null=True, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True, help_text="the first 1,000 characters")
    error = models.TextField(blank=True)
    next_retry_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "webhook_delivery_attempts"
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["delivery", "at"], name="idx_webhook_attempt_delivery")]

    def __str__(self):
        return (
            f"Attempt {self.attempt} at {self.at:%Y-%m-%d %H:%M:%S}: {self.get_outcome_display()}"
        )
