"""Emitting events into the outbox, and the worker's side: fan-out, attempts, retries, the
sweep (docs/webhooks.md)."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_tasks_db import DatabaseBackend

from mediaanalysis.db import insert

from . import delivery as http
from .models import Delivery, DeliveryAttempt, Endpoint, Event, EventType

BATCH = 500
# A delivery whose attempt is this late has lost its task (its worker died): the sweep requeues it.
OVERDUE = timedelta(minutes=5)
# An event this old without a dispatch lost its task (the process died right after the commit).
UNDISPATCHED = timedelta(minutes=1)
# A dispatch sends first attempts itself for this long, then leaves the rest to delivery tasks.
LEASE_SHARE = timedelta(seconds=30)
# ...and logs them in batches of this many.
RECORD_EVERY = 50


def emit(event_type: str, data: dict, endpoint: Endpoint | None = None) -> Event:
    """Write one event in the caller's transaction (one INSERT); the worker sends it after the
    commit, and nothing is sent if the transaction rolls back."""
    event = insert(Event(type=event_type, data=data, endpoint=endpoint))
    _dispatch([event.pk])
    return event


def emit_many(event_type: str, data: list[dict]) -> None:
    """Many events of one type, in as few INSERTs as the batch size allows."""
    if not data:
        return
    events = Event.objects.bulk_create(
        [Event(type=event_type, data=item) for item in data], batch_size=BATCH
    )
    _dispatch([event.pk for event in events])


def _dispatch(event_ids: list[int]) -> None:
    from .tasks import dispatch

    def enqueue():
        for start in range(0, len(event_ids), BATCH):
            dispatch.enqueue(event_ids[start : start + BATCH])

    if isinstance(dispatch.get_backend(), DatabaseBackend):
        # The queue is a table of this database: the task is written in the events'
        # transaction and commits with them, in one commit instead of two.
        enqueue()
    else:
        # robust: a queue that cannot be reached right after the commit must not turn the
        # committed change into an error; the sweep dispatches the event a minute later.
        transaction.on_commit(enqueue, robust=True)


def _lease(now):
    """How long an attempt may take before another worker may take it over."""
    return now + timedelta(
        seconds=settings.WEBHOOK_CONNECT_TIMEOUT + settings.WEBHOOK_READ_TIMEOUT + 30
    )


def dispatch(event_ids: list[int]) -> int:
    """Open a delivery per subscribed endpoint for each event, then make each first attempt.

    The dispatcher takes its own events and any others still waiting (up to a batch), so when
    decisions come faster than one task per event can keep up with, one task sends them all
    and the tasks of those events find nothing left to do.

    The events are locked while their deliveries are opened, so one dispatcher owns them and
    makes their first attempts without claiming each. A long batch hands what is left to
    delivery tasks before the first leases run out. Returns how many deliveries were opened.
    """
    from .tasks import deliver

    if not Event.objects.filter(pk__in=event_ids, dispatched_at__isnull=True).exists():
        return 0  # an earlier dispatch took them along: the common case under load
    now = timezone.now()
    with transaction.atomic():
        events = list(
            Event.objects.select_related("endpoint")
            .select_for_update(skip_locked=True, of=("self",))
            .filter(Q(pk__in=event_ids) | Q(created_at__lte=now), dispatched_at__isnull=True)
            .order_by("created_at")[:BATCH]
        )
        if not events:
            return 0
        endpoints = list(Endpoint.objects.active())
        opened = Delivery.objects.bulk_create(
            [
                Delivery(event=event, endpoint=endpoint, next_attempt_at=_lease(now))
                for event in events
                for endpoint in _targets(event, endpoints)
            ]
        )
        Event.objects.filter(pk__in=[event.pk for event in events]).update(dispatched_at=now)
    sent = []
    for item in opened:
        if timezone.now() - now > LEASE_SHARE:
            deliver.enqueue(item.pk)
            continue
        sent.append((item, _post(item)))
        if len(sent) == RECORD_EVERY:
            _record(sent)
            sent = []
    _record(sent)
    return len(opened)


def _targets(event: Event, active: list[Endpoint]) -> list[Endpoint]:
    if event.endpoint_id is not None:
        return [event.endpoint]  # a test event goes to its endpoint, active or not
    return [endpoint for endpoint in active if endpoint.wants(event.type)]


def attempt(delivery_id: int, manual: bool = False) -> str:
    """One HTTP attempt of a due delivery (a retry, a redelivery, a requeue by the sweep).

    The attempt is claimed first (a conditional UPDATE that moves next_attempt_at past the
    request's timeouts), so a duplicate task, or the sweep, never sends it twice at once.
    """
    now = timezone.now()
    if not Delivery.objects.due(now).filter(pk=delivery_id).update(next_attempt_at=_lease(now)):
        return "not due"
    return _send(Delivery.objects.select_related("event", "endpoint").get(pk=delivery_id), manual)


def _send(item: Delivery, manual: bool = False) -> str:
    """Send, log the attempt, and schedule the next one if it may be retried."""
    answer = _post(item)
    return _record([(item, answer)], manual)[0]


def _post(item: Delivery) -> http.Answer:
    event, endpoint = item.event, item.endpoint
    if not endpoint.active and event.type != EventType.TEST:
        return http.Answer(error="The endpoint is disabled.")
    sent_at = timezone.now()
    body = http.body_of(event.envelope())
    headers = http.signed_headers(endpoint.secret, event.webhook_id, body, sent_at)
    answer = http.post(endpoint.url, body, headers)
    answer.at = sent_at
    return answer


def _record(sent: list[tuple[Delivery, http.Answer]], manual: bool = False) -> list[str]:
    """Log the attempts, update their deliveries and endpoints, enqueue the retries: a few
    statements for a whole batch of attempts."""
    from .tasks import deliver

    if not sent:
        return []
    now = timezone.now()
    attempts, retries, health = [], [], {}
    for item, answer in sent:
        number = item.attempts + 1
        retry_at = None
        if answer.delivered:
            outcome, item.status = DeliveryAttempt.Outcome.DELIVERED, Delivery.Status.DELIVERED
        elif answer.retryable and number < settings.WEBHOOK_MAX_ATTEMPTS:
            retry_at = now + max(http.backoff(number), answer.retry_after or timedelta(0))
            outcome, item.status = DeliveryAttempt.Outcome.RETRY, Delivery.Status.PENDING
            retries.append((item.pk, retry_at))
        else:
            outcome, item.status = DeliveryAttempt.Outcome.FAILED, Delivery.Status.FAILED
        item.attempts, item.next_attempt_at, item.updated_at = number, retry_at, now
        item.last_status_code, item.last_error = answer.status_code, answer.error
        attempts.append(
            DeliveryAttempt(
                delivery=item,
                attempt=number,
                manual=manual and number == 1,
                at=answer.at or now,
                outcome=outcome,
                status_code=answer.status_code,
                latency_ms=answer.latency_ms,
                response_excerpt=answer.excerpt,
                error=answer.error,
                next_retry_at=retry_at,
            )
        )
        if item.endpoint.active:
            health[item.endpoint_id] = (item.endpoint, answer)  # the latest answer counts
    with transaction.atomic():
        DeliveryAttempt.objects.bulk_create(attempts)
        Delivery.objects.bulk_update(
            [item for item, _ in sent],
            [
                "status",
                "attempts",
                "next_attempt_at",
                "last_status_code",
                "last_error",
                "updated_at",
            ],
        )
        for endpoint, answer in health.values():
            _note_health(endpoint, answer, now)
        for pk, retry_at in retries:
            deliver.using(run_after=retry_at).enqueue(pk)
    return [attempt.outcome for attempt in attempts]


def _note_health(endpoint: Endpoint, answer: http.Answer, now) -> None:
    """Track how long an endpoint has failed; disable it after WEBHOOK_DISABLE_AFTER_HOURS."""
    endpoints = Endpoint.objects.filter(pk=endpoint.pk)
    if answer.delivered:
        if endpoint.failing_since is not None:  # as read with the delivery: no write when healthy
            endpoints.update(failing_since=None)
        return
    endpoints.filter(failing_since__isnull=True).update(failing_since=now)
    since = now - timedelta(hours=settings.WEBHOOK_DISABLE_AFTER_HOURS)
    endpoints.filter(active=True, failing_since__lte=since).update(
        active=False,
        disabled_at=now,
        disabled_reason=(
            f"Disabled automatically at {now:%Y-%m-%d %H:%M} UTC: failing for more than "
            f"{settings.WEBHOOK_DISABLE_AFTER_HOURS:g} hours; last: {answer.error}"
        ),
    )


def redeliver(deliveries) -> int:
    """Send these deliveries again now, with a fresh round of retries; return how many."""
    from .tasks import deliver

    now = timezone.now()
    pks = list(deliveries.filter(endpoint__active=True).values_list("pk", flat=True))
    Delivery.objects.filter(pk__in=pks).update(
        status=Delivery.Status.PENDING, attempts=0, next_attempt_at=now, updated_at=now
    )

    def enqueue():
        for pk in pks:
            deliver.enqueue(pk, manual=True)

    transaction.on_commit(enqueue)
    return len(pks)


def send_test_event(endpoint: Endpoint, actor: str) -> Event:
    with transaction.atomic():
        return emit(
            EventType.TEST,
            {
                "endpoint_id": endpoint.pk,
                "message": "A test event from the Media Analysis Dashboard.",
                "sent_by": actor,
            },
            endpoint=endpoint,
        )


def enable(endpoints) -> int:
    return endpoints.filter(active=False).update(
        active=True, disabled_at=None, disabled_reason="", failing_since=None
    )


def sweep(now=None) -> dict:
    """The periodic tidy-up: requeue what lost its task, drop events past their retention."""
    from .tasks import deliver, dispatch

    now = now or timezone.now()
    lost = list(
        Event.objects.filter(dispatched_at__isnull=True, created_at__lt=now - UNDISPATCHED)
        .order_by("created_at")
        .values_list("pk", flat=True)[:BATCH]
    )
    if lost:
        dispatch.enqueue(lost)
    overdue = list(Delivery.objects.overdue(now, OVERDUE).values_list("pk", flat=True)[:BATCH])
    for pk in overdue:
        deliver.enqueue(pk)
    cutoff = now - timedelta(days=settings.WEBHOOK_EVENT_RETENTION_DAYS)
    purged = 0
    while pks := list(
        Event.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[:BATCH]
    ):
        purged += Event.objects.filter(pk__in=pks).delete()[1].get("webhooks.Event", 0)
    return {"redispatched": len(lost), "requeued": len(overdue), "purged_events": purged}
