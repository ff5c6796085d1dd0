"""The periodic work, and the scheduler that every worker runs beside its task loop.

Each worker's scheduler wakes every few seconds and, for each piece of work that is due, tries
one conditional UPDATE of its `periodic_runs` row; only the worker whose UPDATE moved the row on
enqueues the run, so N workers on N hosts enqueue it once. The work itself is an ordinary task
(django.tasks), so any worker runs it, on any backend.
"""

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.tasks import Task
from django.utils import timezone

from dashboard.tasks import recount_watched
from reviews.tasks import release_expired_claims

from .models import PeriodicRun
from .pipeline.tasks import purge_deleted, purge_idempotency_keys
from .tasks import prune_task_results
from .webhooks.tasks import sweep

log = logging.getLogger(__name__)
TICK_SECONDS = 5.0


@dataclass(frozen=True)
class Periodic:
    name: str
    task: Task
    every: timedelta


def schedule() -> list[Periodic]:
    """The periodic work of the whole site."""
    work = [
        Periodic("release_expired_claims", release_expired_claims, timedelta(minutes=1)),
        Periodic(
            "dashboard_recount",
            recount_watched,
            timedelta(seconds=settings.DASHBOARD_CACHE_SECONDS / 2),
        ),
        Periodic("webhooks_sweep", sweep, timedelta(minutes=1)),
        Periodic(
            "purge_idempotency_keys",
            purge_idempotency_keys,
            timedelta(hours=1),
        ),
        Periodic("prune_task_results", prune_task_results, timedelta(hours=1)),
    ]
    if settings.PURGE_DELETED_AFTER_DAYS is not None:
        work.append(Periodic("purge_deleted", purge_deleted, timedelta(days=1)))
    return work


def tick(now=None) -> list[str]:
    """Enqueue the periodic work that is due and that no other scheduler took; return its names."""
    now = now or timezone.now()
    work = schedule()
    PeriodicRun.objects.bulk_create(
        [PeriodicRun(name=item.name, next_run_at=now) for item in work], ignore_conflicts=True
    )
    enqueued = []
    for item in work:
        with transaction.atomic():
            won = PeriodicRun.objects.filter(name=item.name, next_run_at__lte=now).update(
                next_run_at=now + item.every, last_run_at=now
            )
            if won:
                item.task.enqueue()
                enqueued.append(item.name)
    return enqueued


def run(stop: threading.Event, every: float = TICK_SECONDS) -> None:
    """Tick until `stop` is set; a failed tick (the database away) is logged and retried."""
    while not stop.is_set():
        try:
            close_old_connections()
            if enqueued := tick():
                log.info("Scheduled: %s", ", ".join(enqueued))
        except Exception:
            log.exception("The scheduler's tick failed; trying again in %s s", every)
        finally:
            connection.close()
        stop.wait(every)
