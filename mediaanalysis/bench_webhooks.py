"""The benchmark's webhook rows (docs/design.md, Performance targets): one worker process delivering to a local
receiver, the delay from a decision's commit to its delivery, and what a decision pays for its
event. Used by `manage.py bench`."""

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult

from reviews import services
from reviews.models import HITLReview

from .roles import REVIEWERS
from .webhooks.models import Endpoint, EventType
from .webhooks.services import emit

# The receiver runs in a process of its own, so that the deciding threads of the bench, which
# hold the GIL, neither slow its answers nor skew its clock readings.
RECEIVER = """
import http.server, sys, time

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()
        sys.stdout.write(f"{time.time()} {body.decode()}\\n")
        sys.stdout.flush()

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
sys.stdout.write(f"{server.server_port}\\n")
sys.stdout.flush()
server.serve_forever()
"""


class Receiver:
    """A local endpoint that notes when each event arrived."""

    def __init__(self):
        self.arrived = {}
        self.process = subprocess.Popen(
            [sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True
        )
        self.url = f"http://127.0.0.1:{int(self.process.stdout.readline())}/bench"
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            at, body = line.split(" ", 1)
            self.arrived[body] = float(at)

    def times(self, key: str) -> dict:
        data = ((json.loads(body)["data"], at) for body, at in list(self.arrived.items()))
        return {item[key]: at for item, at in data if key in item}

    def stop(self):
        self.process.terminate()
        self.process.wait(10)


@contextmanager
def worker_process():
    env = os.environ | {"WEBHOOK_ALLOWED_HOSTS": "127.0.0.1"}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_worker", "--no-scheduler", "--interval", "0.1", "-v0"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)


def wait_for(condition, seconds: float, process) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        if process.poll() is not None:
            raise RuntimeError("the worker died: " + process.stderr.read().decode()[-2000:])
        time.sleep(0.05)
    return False


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def reviewers(count):
    group = Group.objects.get(name=REVIEWERS)
    users = []
    for n in range(count):
        user, _ = get_user_model().objects.get_or_create(username=f"bench-webhook-{n:02d}")
        user.groups.add(group)
        users.append(user)
    return users


def decision_cost(user) -> dict:
    """The statements of one decision: before its transaction, and inside it."""
    review = services.claim_next(user)
    with CaptureQueriesContext(connection) as queries:
        services.decide(review.pk, user, "yes", "bench", None)
    sql = [q["sql"] for q in queries.captured_queries]
    inside = [s for s in sql if not s.startswith(("SELECT", "BEGIN", "COMMIT", "SAVEPOINT"))]
    return {
        "statements_in_transaction": len(inside),
        "webhook_inserts_in_transaction": sum("webhook_events" in s for s in inside),
        "reads_before_transaction": sum(s.startswith("SELECT") for s in sql),
    }


def delay_run(users, decisions, receiver, worker, timeout) -> dict:
    """`len(users)` reviewers decide `decisions` reviews as fast as they can; each decision's
    delay is from just after its commit to its arrival at the receiver."""
    wait_for(lambda: not DBTaskResult.objects.ready().exists(), timeout, worker)
    receiver.arrived.clear()
    committed = {}
    per_reviewer = -(-decisions // len(users))
    barrier = threading.Barrier(len(users))

    def decide_many(user):
        barrier.wait()
        try:
            for _ in range(per_reviewer):
                review = services.claim_next(user)
                if review is None:
                    return
                services.decide(review.pk, user, "yes", "bench", None)
                committed[review.pk] = time.time()
        finally:
            connection.close()

    threads = [threading.Thread(target=decide_many, args=(user,)) for user in users]
    began = time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    decided_in = time.time() - began
    wait_for(lambda: receiver.times("review_id").keys() >= committed.keys(), timeout, worker)
    arrived = receiver.times("review_id")
    delays = [arrived[pk] - at for pk, at in committed.items() if pk in arrived]
    return {
        "reviewers": len(users),
        "decisions": len(committed),
        "decisions_per_second": round(len(committed) / decided_in, 1),
        "delivered": len(delays),
        "p50_ms": round(statistics.median(delays) * 1000, 1),
        "p95_ms": round(percentile(delays, 0.95) * 1000, 1),
        "max_ms": round(max(delays) * 1000, 1),
    }


def run(
    enqueue_fresh, deliveries=1000, decisions=400, levels=(1, 16), timeout=120, extra_workers=True
) -> dict:
    """Start a receiver and one worker process, then measure; returns the rows."""
    # What earlier parts of the bench left in the queue is worked off before the endpoint exists.
    subprocess.run(
        [sys.executable, "manage.py", "run_worker", "--batch", "--no-scheduler", "-v0"],
        cwd=settings.BASE_DIR,
        check=True,
    )
    receiver = Receiver()
    Endpoint.objects.filter(description="bench").update(active=False)
    endpoint = Endpoint.objects.create(
        url=receiver.url, events=[EventType.REVIEW_DECIDED], description="bench"
    )
    users = reviewers(max(levels))
    rows = {"decision_cost": None, "throughput": None, "delay": []}
    try:
        # A backlog of separately committed events, each with its own task, for one worker.
        for seq in range(deliveries):
            with transaction.atomic():
                emit(EventType.REVIEW_DECIDED, {"seq": seq})
        with worker_process() as worker:
            wait_for(lambda: len(receiver.times("seq")) >= deliveries, timeout, worker)
            arrived = sorted(receiver.times("seq").values())
            elapsed = arrived[-1] - arrived[0]
            rows["throughput"] = {
                "deliveries": len(arrived),
                "seconds": round(elapsed, 2),
                "per_second": round((len(arrived) - 1) / elapsed, 1),
            }

            for level in levels:
                enqueue_fresh(decisions + level)
                row = delay_run(users[:level], decisions, receiver, worker, timeout)
                rows["delay"].append(row | {"workers": 1})
            if extra_workers:
                with worker_process() as second:
                    for level in levels:
                        enqueue_fresh(decisions + level)
                        row = delay_run(users[:level], decisions, receiver, second, timeout)
                        rows["delay"].append(row | {"workers": 2})
            enqueue_fresh(1)
            rows["decision_cost"] = decision_cost(users[0])
    finally:
        Endpoint.objects.filter(pk=endpoint.pk).update(active=False)
        receiver.stop()
        HITLReview.objects.filter(
            claimed_by__username__startswith="bench-webhook-", status__in=["claimed", "reviewing"]
        ).update(status="pending", claimed_by=None, claimed_at=None, claim_expires_at=None)
    return rows
