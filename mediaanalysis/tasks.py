"""The project's own periodic task: tidying the task queue's table."""

from io import StringIO

from django.core.management import call_command
from django.tasks import task, task_backends
from django_tasks_db import DatabaseBackend


@task()
def prune_task_results() -> str:
    """Finished tasks stay a day (failed ones a week) in django-tasks-db's table; other
    backends keep their own results."""
    if not isinstance(task_backends["default"], DatabaseBackend):
        return "not a database queue"
    out = StringIO()
    call_command(
        "prune_db_task_results",
        "--queue-name=*",
        "--min-age-days=1",
        "--failed-min-age-days=7",
        stdout=out,
    )
    return out.getvalue().strip()
