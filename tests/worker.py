"""Run the task queue in the test's own process: what `manage.py run_worker` does, once."""

from unittest import mock

from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult


def run_queued_tasks() -> None:
    """Run every task that is due now (the clock may be moved), then return.

    The worker would close "old" connections between tasks; the test's connection, inside the
    test's transaction, must stay open.
    """
    with mock.patch(
        "django_tasks_db.management.commands.db_worker.close_old_connections", lambda: None
    ):
        _worker().run()


def _worker() -> Worker:
    return Worker(
        queue_names=["*"],
        excluded_queue_names=[],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
    )


def queued(task) -> int:
    """How many runs of `task` wait in the queue."""
    return DBTaskResult.objects.ready().filter(task_path=task.module_path).count()
