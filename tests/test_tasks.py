"""Background tasks: the periodic work is enqueued once however many workers schedule it, and
each piece does its job; the worker command runs the queue."""

import signal
import threading
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django_tasks_db.models import DBTaskResult

from mediaanalysis import scheduler
from mediaanalysis.models import PeriodicRun
from mediaanalysis.pipeline.models import AnalysisJob, ApiToken, IdempotencyKey
from mediaanalysis.pipeline.tasks import purge_deleted
from reviews.models import HITLReview, ReviewStatus
from reviews.tasks import release_expired_claims
from tests.conftest import make_job, make_result
from tests.worker import queued, run_queued_tasks

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
EVERY_MINUTE = {"release_expired_claims", "webhooks_sweep"}


@pytest.mark.django_db
def test_each_periodic_run_is_enqueued_once_when_due():
    with time_machine.travel(T0, tick=False) as clock:
        first = scheduler.tick()
        assert set(first) == {item.name for item in scheduler.schedule()}
        assert scheduler.tick() == []  # a second worker's scheduler, at the same moment
        clock.move_to(T0 + timedelta(seconds=61))
        assert set(scheduler.tick()) >= EVERY_MINUTE
    assert queued(release_expired_claims) == 2


@pytest.mark.django_db
def test_purge_deleted_is_scheduled_only_with_a_retention(settings):
    settings.PURGE_DELETED_AFTER_DAYS = None
    assert "purge_deleted" not in {item.name for item in scheduler.schedule()}
    settings.PURGE_DELETED_AFTER_DAYS = 30
    assert "purge_deleted" in {item.name for item in scheduler.schedule()}


@pytest.mark.django_db
def test_purge_deleted_destroys_only_rows_deleted_before_the_retention(settings):
    settings.PURGE_DELETED_AFTER_DAYS = 30
    old, recent, alive = make_job(), make_job(), make_job()
    with time_machine.travel(T0):
        AnalysisJob.objects.filter(pk=old.pk).soft_delete()
    with time_machine.travel(T0 + timedelta(days=25)):
        AnalysisJob.objects.filter(pk=recent.pk).soft_delete()
    with time_machine.travel(T0 + timedelta(days=31)):
        purge_deleted.enqueue()
        run_queued_tasks()
    assert set(AnalysisJob.all_objects.values_list("pk", flat=True)) == {recent.pk, alive.pk}


@pytest.mark.django_db
def test_expired_claims_are_released_by_the_periodic_work(reviewer):
    review = HITLReview.objects.create(
        analysis_result=make_result(),
        status=ReviewStatus.CLAIMED,
        claimed_by=reviewer,
        claimed_at=T0,
        claim_expires_at=T0 + timedelta(minutes=15),
    )
    with time_machine.travel(T0 + timedelta(minutes=16), tick=False):
        scheduler.tick()
        run_queued_tasks()
    review.refresh_from_db()
    assert (review.status, review.claimed_by) == (ReviewStatus.PENDING, None)


@pytest.mark.django_db
def test_the_periodic_work_purges_old_idempotency_keys_and_finished_tasks():
    token, _ = ApiToken.issue("w", "write")
    IdempotencyKey.objects.create(token=token, key="k", fingerprint="f", created_at=T0)
    with time_machine.travel(T0 + timedelta(days=2), tick=False):
        scheduler.tick()
        run_queued_tasks()
        assert not IdempotencyKey.objects.exists()
        assert DBTaskResult.objects.successful().count() >= len(scheduler.schedule())
    with time_machine.travel(T0 + timedelta(days=4), tick=False):
        scheduler.tick()
        run_queued_tasks()
    # The first round's finished tasks are gone; only the latest round's remain.
    assert DBTaskResult.objects.filter(finished_at__lt=T0 + timedelta(days=3)).count() == 0


@pytest.mark.django_db(transaction=True)  # the worker closes its connections between tasks
def test_the_worker_command_runs_the_queue_and_exits_in_batch_mode():
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    make_job()
    scheduler.tick()
    try:
        call_command("run_worker", "--batch", "--no-scheduler", stdout=StringIO())
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)  # db_worker installs its own
    assert DBTaskResult.objects.ready().count() == 0
    assert DBTaskResult.objects.successful().count() == len(scheduler.schedule())


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_eight_workers_scheduling_at_once_enqueue_each_run_once():
    start = threading.Barrier(8)
    enqueued = []

    def worker():
        start.wait()
        try:
            enqueued.extend(scheduler.tick(T0))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    names = [item.name for item in scheduler.schedule()]
    assert sorted(enqueued) == sorted(names)
    assert PeriodicRun.objects.count() == len(names)
    assert DBTaskResult.objects.count() == len(names)
