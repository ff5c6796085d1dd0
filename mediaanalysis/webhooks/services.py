"""Emitting events into the outbox, and the worker's side: fan-out, attempts, retries, the
sweep (docs/webhooks.md)."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import delivery as http
from .models import Delivery, DeliveryAttempt, Endpoint, Event, EventType

BATCH = 500
# A delivery whose attempt is this late has lost its task (its worker died): the sweep requeues it.
OVERDUE = timedelta(minutes=5)
# An event this old without a dispatch lost its task (the process died right after the commit).
UNDISPATCHED = timedelta(minutes=1)


def emit(event_type: str, data: dict, endpoint: Endpoint | None = None) -> Event:
    """Write one event in the caller's transaction (one INSERT); the worker sends it after the
    commit, and nothing is sent if the transaction rolls back."""
    event = Event.objects.create(type=event_type, data=data, endpoint=endpoint)
    _dispatch_on_commit([event.pk])
    return event


def emit_many(event_type: str, data: list[dict]) -> None:
    """Many events of one type, in as few INSERTs as the batch size allows."""
    if not data:
        return
    events = Event.objects.bulk_create(
        [Event(type=event_type, data=item) for item in data], batch_size=BATCH
    )
    _dispatch_on_commit([event.pk for event in events])


def _dispatch_on_commit(event_ids: list[int]) -> None:
    from .tasks import dispatch

    def enqueue():
        for start in range(0, len(event_ids), BATCH):
            dispatch.enqueue(event_ids[start : start + BATCH])

    # robust: a queue that cannot be reached right after the commit must not turn the
    # committed change into an error; the sweep dispatches the event a minute later.
    transaction.on_commit(enqueue, robust=True)


def dispatch(event_ids: list[int]) -> int:
    """Open a delivery per subscribed endpoint for each event, then make each first attempt.

    Returns how many deliveries were attempted.
    """
    now = timezone.now()
    endpoints = list(Endpoint.objects.active())
    with transaction.atomic():
        events = list(
            Event.objects.select_related("endpoint")
            .select_for_update(skip_locked=True, of=("self",))
            .filter(pk__in=event_ids, dispatched_at__isnull=True)
        )
        Delivery.objects.bulk_create(
            [
                Delivery(event=event, endpoint=endpoint, next_attempt_at=now)
                for event in events
                for endpoint in _targets(event, endpoints)
            ],
            ignore_conflicts=True,
        )
        Event.objects.filter(pk__in=[event.pk for event in events]).update(dispatched_at=now)
    due = Delivery.objects.due(now).filter(event_id__in=[event.pk for event in events], attempts=0)
    return sum(1 for pk in due.values_list("pk", flat=True) if attempt(pk) != "not due")


def _targets(event: Event, active: list[Endpoint]) -> list[Endpoint]:
    if event.endpoint_id is not None:
        return [event.endpoint]  # a test event goes to its endpoint, active or not
    return [endpoint for endpoint in active if endpoint.wants(event.type)]


def attempt(delivery_id: int, manual: bool = False) -> str:
    """One HTTP attempt of a due delivery; schedules the next attempt if it may be retried.

    The attempt is claimed first (a conditional UPDATE that moves next_attempt_at past the
    request's timeouts), so a duplicate task, or the sweep, never sends it twice at once.
    """
    now = timezone.now()
    lease = now + timedelta(
        seconds=settings.WEBHOOK_CONNECT_TIMEOUT + settings.WEBHOOK_READ_TIMEOUT + 30
    )
    if not Delivery.objects.due(now).filter(pk=delivery_id).update(next_attempt_at=lease):
        return "not due"
    item = Delivery.objects.select_related("event", "endpoint").get(pk=delivery_id)
    event, endpoint = item.event, item.endpoint
    number = item.attempts + 1
    if not endpoint.active and event.type != EventType.TEST:
        answer = http.Answer(error="The endpoint is disabled.")
    else:
        body = http.body_of(event.envelope())
        headers = http.signed_headers(endpoint.secret, event.webhook_id, body, now)
        answer = http.post(endpoint.url, body, headers)
    finished = timezone.now()
    retry_at = None
    if answer.delivered:
        outcome, status = DeliveryAttempt.Outcome.DELIVERED, Delivery.Status.DELIVERED
    elif answer.retryable and number < settings.WEBHOOK_MAX_ATTEMPTS:
        wait = max(http.backoff(number), answer.retry_after or timedelta(0))
        retry_at = finished + wait
        outcome, status = DeliveryAttempt.Outcome.RETRY, Delivery.Status.PENDING
    else:
        outcome, status = DeliveryAttempt.Outcome.FAILED, Delivery.Status.FAILED
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=item,
            attempt=number,
            manual=manual and number == 1,
            at=now,
            outcome=outcome,
            status_code=answer.status_code,
            latency_ms=answer.latency_ms,
            response_excerpt=answer.excerpt,
            error=answer.error,
            next_retry_at=retry_at,
        )
        Delivery.objects.filter(pk=item.pk).update(
            status=status,
            attempts=number,
            next_attempt_at=retry_at,
            last_status_code=answer.status_code,
            last_error=answer.error,
            updated_at=finished,
        )
        if endpoint.active:
            _note_health(endpoint, answer, finished)
        if retry_at is not None:
            from .tasks import deliver

            deliver.using(run_after=retry_at).enqueue(item.pk)
    return outcome


def _note_health(endpoint: Endpoint, answer: http.Answer, now) -> None:
    """Track how long an endpoint has failed; disable it after WEBHOOK_DISABLE_AFTER_HOURS."""
    endpoints = Endpoint.objects.filter(pk=endpoint.pk)
    if answer.delivered:
        endpoints.filter(failing_since__isnull=False).update(failing_since=None)
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
