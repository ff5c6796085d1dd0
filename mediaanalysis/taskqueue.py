"""The background tasks' queue: django-tasks-db's, with its row written by an INSERT compiled
once (db.insert). A new result's webhook dispatch task is one of the three rows the API's POST
writes (docs/performance.md, "A new result's three INSERTs")."""

from django_tasks_db import DatabaseBackend
from django_tasks_db.compat import normalize_json

from mediaanalysis.db import insert


class Backend(DatabaseBackend):
    def _task_to_db_task(self, task, args, kwargs):
        from django_tasks_db.models import DBTaskResult  # the backend loads before the models

        return insert(
            DBTaskResult(
                id=self._get_id(),
                args_kwargs=normalize_json({"args": args, "kwargs": kwargs}),
                priority=task.priority,
                task_path=task.module_path,
                queue_name=task.queue_name,
                run_after=task.run_after,
                backend_name=self.alias,
            )
        )
