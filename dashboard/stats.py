"""The dashboard's figures, each computed by the database (GROUP BY, conditional aggregates,
percentiles), never by loading rows into Python. `figures(scope)` runs a fixed number of
queries, whatever the data size; the view caches what it returns."""

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connections, router, transaction
from django.db.models import Count, Exists, F, IntegerField, Min, OuterRef, Q
from django.db.models.functions import Cast, Floor, Least, TruncDay, TruncHour
from django.utils import timezone

from mediaanalysis.pipeline.models import AnalysisJob, AnalysisResult, ProcessingStatus
from mediaanalysis.pipeline.queries import distinct_values
from reviews.models import Decision, HITLReview, ReviewEvent, ReviewStatus, Round

from . import agreement, analytics
from .aggregates import Percentile, Percentiles, Seconds

WINDOWS = {
    "24h": ("24 hours", timedelta(hours=24), "hour"),
    "7d": ("7 days", timedelta(days=7), "day"),
    "30d": ("30 days", timedelta(days=30), "day"),
}
BUCKETS = 10  # calibration: 0-0.1 ... 0.9-1.0
# A calibration bucket with fewer reviews than this says nothing yet: its bar is greyed out.
MIN_CALIBRATION_N = 5


@dataclass(frozen=True)
class Scope:
    window: str = "24h"
    job_type: str = ""
    model: str = ""

    @property
    def span(self) -> timedelta:
        return WINDOWS[self.window][1]

    @property
    def step(self) -> str:
        return WINDOWS[self.window][2]

    def cache_key(self) -> str:
        return f"dashboard:v2:{self.window}:{self.job_type}:{self.model}"

    def refresh_lock(self) -> str:
        return self.cache_key() + ":refreshing"


def _rate(part, whole):
    return part / whole if whole else None


# Which way is better for the business, per figure: "up", "down", or None when a rise or a fall
# is neither good nor bad in itself (jobs coming in is demand, not performance).
UP, DOWN = "up", "down"


def trend(now_value, before_value, *, better: str | None, rate: bool = False) -> dict | None:
    """How a figure moved since the window before, and whether that is better or worse.

    Every dashboard change is shown the same way: an arrow for the direction, the amount (a
    relative change, or percentage points for a rate), and a word for the verdict, coloured
    green (better), red (worse) or grey (neither). Colour never carries the meaning alone.
    None when there is nothing to compare with.
    """
    if now_value is None or before_value is None or (not rate and before_value == 0):
        return None
    delta = now_value - before_value
    direction = UP if delta > 0 else DOWN if delta < 0 else None
    amount = f"{delta * 100:+.1f} pp" if rate else f"{delta / before_value * 100:+.0f}%"
    if direction is None:
        verdict = "unchanged"
    elif better is None:
        verdict = "more" if direction == UP else "fewer"
    else:
        verdict = "better" if direction == better else "worse"
    return {
        "direction": direction,
        "arrow": {UP: "▲", DOWN: "▼", None: "="}[direction],
        "amount": amount,
        "verdict": verdict,
        "css": {"better": "good", "worse": "bad"}.get(verdict, "neutral"),
        "before": before_value,
        "rate": rate,
    }


def _buckets(start: datetime, end: datetime, step: str) -> list[datetime]:
    """Every hour or day from start to end, in the current time zone, aligned to the truncation."""
    start = timezone.localtime(start)
    if step == "hour":
        first, delta = start.replace(minute=0, second=0, microsecond=0), timedelta(hours=1)
    else:
        first, delta = start.replace(hour=0, minute=0, second=0, microsecond=0), timedelta(days=1)
    out, moment = [], first
    while moment < end:
        out.append(moment)
        moment += delta
    return out


@contextmanager
def recounting():
    """One transaction for a recount's queries, with room to sort in memory on PostgreSQL."""
    with transaction.atomic(using=router.db_for_read(AnalysisJob)):
        connection = connections[router.db_for_read(AnalysisJob)]
        if connection.vendor == "postgresql":
            # Percentiles sort a month of jobs, and the reviewer analytics a month of review
            # events: let them sort in memory, for these queries only.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL work_mem = '64MB'")
        yield


def figures(scope: Scope, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    # Whole minutes, so that each figure's link to a list (created_after=...) is exact.
    start = (now - scope.span).replace(second=0, microsecond=0)
    prev_start = start - scope.span
    with recounting():
        return {
            "computed_at": now,
            "start": start,
            "end": now,
            "pipeline": pipeline(scope, now, start, prev_start),
            "backlog": backlog(scope, now, start, prev_start),
            "reviewers": reviewers(scope, start, now),
            "models": models(scope, start, prev_start),
            **quality_figures(scope, start, now),
        }


def quality_figures(scope: Scope, start, now) -> dict:
    """The quality section and the reviewers' work (dashboard/agreement.py, analytics.py)."""
    return {
        "quality": agreement.quality(_reviews(scope), _results(scope), start, now),
        "work": analytics.work(_reviews(scope), start),
    }


def _jobs(scope: Scope):
    jobs = AnalysisJob.objects.all()
    return jobs.filter(job_type=scope.job_type) if scope.job_type else jobs


def _results(scope: Scope):
    results = AnalysisResult.objects.all()
    if scope.job_type:
        results = results.filter(job__job_type=scope.job_type)
    if scope.model:
        results = results.filter(model_used=scope.model)
    return results


def _reviews(scope: Scope):
    reviews = HITLReview.objects.all()
    if scope.job_type:
        reviews = reviews.filter(analysis_result__job__job_type=scope.job_type)
    if scope.model:
        reviews = reviews.filter(analysis_result__model_used=scope.model)
    return reviews


def pipeline(scope: Scope, now, start, prev_start) -> dict:
    """Jobs created in the window (by created_at), and jobs finished in it (completed or
    failed, by completed_at): a job created yesterday and failing today counts today."""
    jobs = _jobs(scope)
    by_status = dict(jobs.order_by().values_list("status").annotate(n=Count("pk")))
    completed, failed = ProcessingStatus.COMPLETED, ProcessingStatus.FAILED
    totals = jobs.filter(created_at__gte=prev_start, created_at__lt=now).aggregate(
        created=Count("pk", filter=Q(created_at__gte=start)),
        prev_created=Count("pk", filter=Q(created_at__lt=start)),
    )
    # idx_job_live_completed: a range of finish times.
    finished = jobs.filter(completed_at__gte=prev_start, completed_at__lt=now)
    totals |= finished.aggregate(
        completed=Count("pk", filter=Q(completed_at__gte=start, status=completed)),
        failed=Count("pk", filter=Q(completed_at__gte=start, status=failed)),
        prev_completed=Count("pk", filter=Q(completed_at__lt=start, status=completed)),
        prev_failed=Count("pk", filter=Q(completed_at__lt=start, status=failed)),
    )
    trunc = TruncHour if scope.step == "hour" else TruncDay
    created_rows = dict(
        jobs.filter(created_at__gte=start, created_at__lt=now)
        .annotate(bucket=trunc("created_at"))
        .order_by()
        .values_list("bucket")
        .annotate(n=Count("pk"))
    )
    window = jobs.filter(completed_at__gte=start, completed_at__lt=now)
    finished_rows = {
        row["bucket"]: row
        for row in window.annotate(bucket=trunc("completed_at"))
        .order_by()
        .values("bucket")
        .annotate(
            completed=Count("pk", filter=Q(status=completed)),
            failed=Count("pk", filter=Q(status=failed)),
        )
    }
    series = [
        {
            "bucket": bucket,
            "created": created_rows.get(bucket, 0),
            "completed": finished_rows.get(bucket, {}).get("completed", 0),
            "failed": finished_rows.get(bucket, {}).get("failed", 0),
        }
        for bucket in _buckets(start, now, scope.step)
    ]
    durations = list(
        window.filter(status=completed, started_at__isnull=False)
        .order_by("job_type")
        .values("job_type")
        .annotate(n=Count("pk"), p=Percentiles(Seconds("completed_at", "started_at"), [0.5, 0.95]))
    )
    for row in durations:
        row["p50"], row["p95"] = row.pop("p") or (None, None)
    oldest_pending = jobs.filter(status=ProcessingStatus.PENDING).aggregate(at=Min("created_at"))[
        "at"
    ]
    errors = list(
        window.filter(status=failed, error_message__isnull=False)
        .exclude(error_message="")
        .values("error_message")
        .annotate(n=Count("pk"))
        .order_by("-n", "error_message")[:8]
    )
    failure_rate = _rate(totals["failed"], totals["completed"] + totals["failed"])
    prev_failure_rate = _rate(
        totals["prev_failed"], totals["prev_completed"] + totals["prev_failed"]
    )
    return {
        "by_status": [
            (status.value, status.label, by_status.get(status.value, 0))
            for status in ProcessingStatus
        ],
        "totals": totals,
        "trends": {
            "created": trend(totals["created"], totals["prev_created"], better=None),
            "completed": trend(totals["completed"], totals["prev_completed"], better=UP),
            "failed": trend(totals["failed"], totals["prev_failed"], better=DOWN),
            "failure_rate": trend(failure_rate, prev_failure_rate, better=DOWN, rate=True),
        },
        "failure_rate": failure_rate,
        "prev_failure_rate": prev_failure_rate,
        "stalled": jobs.stalled(now).count(),  # the processing jobs, by an index on status
        "stalled_after": timedelta(seconds=settings.JOB_STALLED_AFTER),
        "series": series,
        "durations": durations,
        "oldest_pending": oldest_pending,
        "oldest_pending_age": (now - oldest_pending) if oldest_pending else None,
        "errors": errors,
    }


def backlog(scope: Scope, now, start, prev_start) -> dict:
    reviews = _reviews(scope)
    counts = reviews.open_counts(now)
    oldest_by_priority = list(
        reviews.filter(status=ReviewStatus.PENDING)
        .order_by()
        .values("priority")
        .annotate(n=Count("pk"), oldest=Min("created_at"))
        .order_by("-priority")
    )
    for row in oldest_by_priority:
        row["age"] = now - row["oldest"]
    # Each review enqueued in the window, with its first claim: grouped once, not looked up per review.
    first_claims = (
        ReviewEvent.objects.filter(
            kind__in=_CLAIM_KINDS, at__gte=start, review__in=reviews.filter(created_at__gte=start)
        )
        .values("review")
        .annotate(wait=Seconds(Min("at"), Min("review__created_at")))
    )
    first_claim = first_claims.aggregate(n=Count("review"), p=Percentiles("wait", [0.5, 0.95]))
    first_claim["p50"], first_claim["p95"] = first_claim.pop("p") or (None, None)
    to_decision = reviews.filter(reviewed_at__gte=start).aggregate(
        n=Count("pk"),
        p=Percentiles(Seconds("reviewed_at", "created_at"), [0.5, 0.95]),
        needs_changes=Count("pk", filter=Q(approved=Decision.NEEDS_CHANGES)),
        went_round=Count(
            "pk",
            filter=Q(approved=Decision.NEEDS_CHANGES)
            & Q(
                Exists(
                    HITLReview.objects.filter(
                        analysis_result=OuterRef("analysis_result"),
                        created_at__gt=OuterRef("reviewed_at"),
                        round=Round.FIRST,  # the needs-changes loop, not a second review
                    )
                )
            ),
        ),
    )
    to_decision["p50"], to_decision["p95"] = to_decision.pop("p") or (None, None)
    events = ReviewEvent.objects.filter(at__gte=start, review__in=reviews.values("pk"))
    churn = events.aggregate(
        claims=Count("pk", filter=Q(kind__in=_CLAIM_KINDS)),
        abandoned=Count(
            "pk", filter=Q(kind__in=[ReviewEvent.Kind.TAKEN_OVER, ReviewEvent.Kind.EXPIRED])
        ),
    )
    # Rounds per result: how many first reviews each result reviewed in the window has had in
    # all (second reviews and gold checks are quality's, docs/quality.md).
    firsts = reviews.filter(round=Round.FIRST, gold_item__isnull=True)
    rounds = (
        firsts.filter(
            analysis_result__in=firsts.filter(reviewed_at__gte=start).values("analysis_result")
        )
        .order_by()
        .values("analysis_result")
        .annotate(rounds=Count("pk"))
        .aggregate(
            results=Count("analysis_result"),
            once=Count("analysis_result", filter=Q(rounds=1)),
            twice=Count("analysis_result", filter=Q(rounds=2)),
            more=Count("analysis_result", filter=Q(rounds__gte=3)),
        )
    )
    return {
        **counts,
        "oldest_by_priority": oldest_by_priority,
        "first_claim": first_claim,
        "to_decision": to_decision,
        "abandonment_rate": _rate(churn["abandoned"], churn["claims"]),
        "churn": churn,
        "needs_changes_rate": _rate(to_decision["needs_changes"], to_decision["n"]),
        "went_round_rate": _rate(to_decision["went_round"], to_decision["needs_changes"]),
        "rounds": rounds,
    }


_CLAIM_KINDS = [ReviewEvent.Kind.CLAIMED, ReviewEvent.Kind.TAKEN_OVER, ReviewEvent.Kind.REASSIGNED]


def reviewers(scope: Scope, start, now) -> dict:
    decided = _reviews(scope).filter(reviewed_at__gte=start, reviewed_by__isnull=False)
    people = list(
        decided.order_by()
        .values("reviewed_by__username")
        .annotate(
            n=Count("pk"),
            yes=Count("pk", filter=Q(approved=Decision.YES)),
            no=Count("pk", filter=Q(approved=Decision.NO)),
            needs_changes=Count("pk", filter=Q(approved=Decision.NEEDS_CHANGES)),
            median_seconds=Percentile(
                Seconds("reviewed_at", "claimed_at"), 0.5, filter=Q(claimed_at__isnull=False)
            ),
        )
        .order_by("-n", "reviewed_by__username")
    )
    for person in people:
        for key in ("yes", "no", "needs_changes"):
            person[f"{key}_share"] = _rate(person[key], person["n"])
    # Decisions per hour (24 hours) or per day: a sparkline per reviewer, as wide at 30 days as
    # at 24 hours, rather than a column per day.
    trunc = TruncHour if scope.step == "hour" else TruncDay
    per_step = decided.annotate(bucket=trunc("reviewed_at")).order_by()
    grid = {
        (name, bucket): n
        for name, bucket, n in per_step.values_list("reviewed_by__username", "bucket").annotate(
            n=Count("pk")
        )
    }
    buckets = _buckets(start, now, scope.step)
    for person in people:
        person["per_step"] = [grid.get((person["reviewed_by__username"], b), 0) for b in buckets]
    return {"people": people, "buckets": buckets}


def models(scope: Scope, start, prev_start) -> dict:
    # First reviews only: a second review or a gold check would count a result twice.
    firsts = _reviews(scope).filter(round=Round.FIRST, gold_item__isnull=True)
    decided = firsts.filter(reviewed_at__gte=start, status=ReviewStatus.COMPLETED)
    approval = list(
        decided.order_by()
        .values(
            model=F("analysis_result__model_used"),
            analysis_type=F("analysis_result__analysis_type"),
        )
        .annotate(
            n=Count("pk"),
            yes=Count("pk", filter=Q(approved=Decision.YES)),
            no=Count("pk", filter=Q(approved=Decision.NO)),
            needs_changes=Count("pk", filter=Q(approved=Decision.NEEDS_CHANGES)),
        )
        .order_by("model", "analysis_type")
    )
    for row in approval:
        row["rate"] = _rate(row["yes"], row["n"])
    previous = firsts.filter(reviewed_at__gte=prev_start, reviewed_at__lt=start).aggregate(
        n=Count("pk"), yes=Count("pk", filter=Q(approved=Decision.YES))
    )
    bucket = Least(
        Cast(Floor(F("analysis_result__confidence_score") * BUCKETS), IntegerField()), BUCKETS - 1
    )
    cells = (
        decided.filter(analysis_result__confidence_score__isnull=False)
        .annotate(bucket=bucket)
        .order_by()
        .values("analysis_result__model_used", "bucket")
        .annotate(n=Count("pk"), yes=Count("pk", filter=Q(approved=Decision.YES)))
    )
    calibration = {}
    for cell in cells:
        calibration.setdefault(cell["analysis_result__model_used"] or "(no model)", {})[
            cell["bucket"]
        ] = cell
    known = [scope.model] if scope.model else distinct_values(AnalysisResult, "model_used")
    table = []
    for model in sorted(calibration):
        buckets = calibration[model]
        table.append(
            {
                "model": model,
                "reviewed": sum(c["n"] for c in buckets.values()),
                "buckets": [
                    {
                        "low": i / BUCKETS,
                        "high": (i + 1) / BUCKETS,
                        "n": buckets[i]["n"] if i in buckets else 0,
                        "rate": _rate(buckets[i]["yes"], buckets[i]["n"]) if i in buckets else None,
                        "enough": i in buckets and buckets[i]["n"] >= MIN_CALIBRATION_N,
                    }
                    for i in range(BUCKETS)
                ],
            }
        )
    total_n = sum(r["n"] for r in approval)
    total_yes = sum(r["yes"] for r in approval)
    approval_rate = _rate(total_yes, total_n)
    prev_approval_rate = _rate(previous["yes"], previous["n"])
    return {
        "approval": approval,
        "calibration": table,
        # Models with results but no decision in the window: named, not drawn as empty charts.
        "unreviewed": sorted(set(known) - set(calibration)),
        "min_calibration_n": MIN_CALIBRATION_N,
        "approval_rate": approval_rate,
        "prev_approval_rate": prev_approval_rate,
        "decisions": total_n,
        "prev_decisions": previous["n"],
        "trends": {
            "approval_rate": trend(approval_rate, prev_approval_rate, better=UP, rate=True),
            "decisions": trend(total_n, previous["n"], better=UP),
        },
    }
