"""`make worker`: the background worker in the foreground (docs/design.md, The contract)."""

import contextlib
import threading
from argparse import BooleanOptionalAction

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connections

from mediaanalysis import scheduler


class Command(BaseCommand):
    help = (
        "Run a background worker: the queued tasks (webhook deliveries, recounts...) and the "
        "periodic work's scheduler. Run as many as needed, on any host: the queue is the database."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--scheduler",
            action=BooleanOptionalAction,
            default=True,
            help="also schedule the periodic work (every worker may; each run is enqueued once)",
        )
        parser.add_argument(
            "--scheduler-only",
            action="store_true",
            help="only schedule (beside a broker-backed backend's own workers)",
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=0.5,
            help="seconds between looks at an empty queue (default: %(default)s)",
        )
        parser.add_argument("--queue-name", default="*", help="queues to work (default: all)")
        parser.add_argument("--max-tasks", type=int, help="exit after this many tasks")
        parser.add_argument("--batch", action="store_true", help="exit once the queue is empty")

    def handle(self, *args, scheduler_only, interval, queue_name, max_tasks, batch, **options):
        keep_one_connection()
        stop = threading.Event()
        if scheduler_only:
            self.stdout.write("Scheduling the periodic work (Ctrl-C to stop).")
            with contextlib.suppress(KeyboardInterrupt):
                scheduler.run(stop)
            return
        if options["scheduler"]:
            threading.Thread(
                target=scheduler.run, args=(stop,), name="scheduler", daemon=True
            ).start()
        try:
            call_command(
                "db_worker",
                queue_name=queue_name,
                interval=interval,
                reload=False,
                max_tasks=max_tasks,
                batch=batch,
                verbosity=options["verbosity"],
            )
        finally:
            stop.set()


def keep_one_connection() -> None:
    """A worker runs one task at a time: one persistent connection serves it better than the
    pool, which it would hand back and take again (and check) around every task."""
    for alias in connections:
        config = connections[alias].settings_dict
        if config.get("OPTIONS", {}).pop("pool", None) is not None:
            config["CONN_MAX_AGE"] = None
