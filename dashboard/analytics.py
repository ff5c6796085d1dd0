"""Reviewer analytics from the claim data: the audit trail of claims, renewals, releases,
skips and decisions (docs/quality.md).

A reviewer's page renews the claim every 30 seconds while they are active, so their events
follow each other closely while they work. A gap longer than REVIEW_IDLE_SECONDS between two
of a reviewer's events is idle time and counts for nothing:

- time at work: the sum of a reviewer's gaps that are not idle, whatever the review;
- handle time: the same, counted only inside the reviews they decided (from claim to decision,
  over every claim of theirs on it), per decision;
- decisions per hour at work, and releases and skips per claim.

The gaps are one window function (LAG) over the window's events, summed by the database.
"""

from django.conf import settings
from django.db import connections
from django.db.models import Count, F, Q, Window
from django.db.models.functions import Lag, TruncDay
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from reviews.models import Decision, Reason, ReviewEvent, ReviewStatus, Round

from .aggregates import Seconds

# The lane engineer's "skip" is an event kind of its own; counted once it exists.
SKIPPED = getattr(ReviewEvent.Kind, "SKIPPED", "skipped")
CLAIMS = [ReviewEvent.Kind.CLAIMED, ReviewEvent.Kind.TAKEN_OVER]
WORK = [
    *CLAIMS,
    ReviewEvent.Kind.RENEWED,
    ReviewEvent.Kind.RELEASED,
    ReviewEvent.Kind.DECIDED,
    ReviewEvent.Kind.REFUSED,
    SKIPPED,
]

# The outer half of the gaps query: the inner half is compiled from the ORM (see work()).
SUMS = """
SELECT username, day,
       SUM(CASE WHEN gap <= %s THEN gap ELSE 0 END),
       SUM(CASE WHEN gap <= %s AND review_id = prev_review AND decider = actor_id
                 AND kind NOT IN (%s, %s) THEN gap ELSE 0 END),
       COUNT(CASE WHEN kind IN (%s, %s) THEN 1 END),
       COUNT(CASE WHEN kind = %s THEN 1 END),
       COUNT(CASE WHEN kind = %s THEN 1 END),
       COUNT(CASE WHEN kind = %s AND decider = actor_id THEN 1 END)
  FROM ({events}) AS e
 GROUP BY username, day
"""


def _rate(part, whole):
    return part / whole if whole else None


def work(reviews, start) -> dict:
    """Per reviewer and per day: time at work, handle time, decisions per hour at work,
    release and skip rates, and first-pass approval. Two queries."""
    ordered = {"partition_by": [F("actor")], "order_by": [F("at").asc(), F("id").asc()]}
    events = (
        ReviewEvent.objects.filter(at__gte=start, kind__in=WORK, actor__isnull=False)
        .filter(review__in=reviews.values("pk"))
        .annotate(
            username=F("actor__username"),
            day=TruncDay("at"),
            gap=Seconds(F("at"), Window(Lag("at"), **ordered)),
            prev_review=Window(Lag("review_id"), **ordered),
            decider=F("review__reviewed_by"),
        )
        .values("username", "day", "kind", "gap", "review_id", "prev_review", "decider", "actor_id")
        .order_by()
    )
    inner, params = events.query.sql_with_params()
    idle = settings.REVIEW_IDLE_SECONDS
    sums = [
        idle,
        idle,
        *CLAIMS,
        *CLAIMS,
        ReviewEvent.Kind.RELEASED,
        SKIPPED,
        ReviewEvent.Kind.DECIDED,
    ]
    connection = connections[events.db]
    with connection.cursor() as cursor:
        cursor.execute(SUMS.format(events=inner), [*sums, *params])  # in the order they appear
        rows = cursor.fetchall()
    first_pass = (
        reviews.filter(
            round=Round.FIRST,
            gold_item__isnull=True,
            status=ReviewStatus.COMPLETED,
            reviewed_at__gte=start,
            reviewed_by__isnull=False,
        )
        .exclude(reason=Reason.CHANGED)
        .order_by()
        .values(username=F("reviewed_by__username"), day=TruncDay("reviewed_at"))
        .annotate(n=Count("pk"), yes=Count("pk", filter=Q(approved=Decision.YES)))
    )
    cells: dict = {}
    for username, day, at_work, handle, claims, releases, skips, decisions in rows:
        day = _day(day)
        cells[(username, day)] = {
            "at_work": at_work or 0.0,
            "handle": handle or 0.0,
            "claims": claims,
            "releases": releases,
            "skips": skips,
            "decisions": decisions,
            "first_n": 0,
            "first_yes": 0,
        }
    for row in first_pass:
        cell = cells.setdefault(
            (row["username"], row["day"]),
            {
                "at_work": 0.0,
                "handle": 0.0,
                "claims": 0,
                "releases": 0,
                "skips": 0,
                "decisions": 0,
                "first_n": 0,
                "first_yes": 0,
            },
        )
        cell["first_n"], cell["first_yes"] = row["n"], row["yes"]
    people: dict = {}
    for (username, day), cell in sorted(cells.items(), key=lambda item: (item[0][0], item[0][1])):
        person = people.setdefault(username, {"reviewer": username, "days": [], **_zero()})
        for key in _zero():
            person[key] += cell[key]
        person["days"].append({"day": day, **_figures(cell)})
    return {"people": [{**p, **_figures(p)} for p in people.values()]}


def _zero() -> dict:
    return dict.fromkeys(
        ("at_work", "handle", "claims", "releases", "skips", "decisions", "first_n", "first_yes"),
        0,
    )


def _figures(cell) -> dict:
    hours = cell["at_work"] / 3600
    return {
        **{key: cell[key] for key in _zero()},
        "handle_seconds": _rate(cell["handle"], cell["decisions"]),
        "per_hour": _rate(cell["decisions"], hours) if cell["at_work"] >= 60 else None,
        "release_rate": _rate(cell["releases"], cell["claims"]),
        "skip_rate": _rate(cell["skips"], cell["claims"]),
        "first_pass_approval": _rate(cell["first_yes"], cell["first_n"]),
    }


def _day(value):
    """A raw query's truncated day as the ORM gives it: aware, in the current time zone
    (SQLite returns text, PostgreSQL a naive timestamp)."""
    if isinstance(value, str):
        value = parse_datetime(value)
    return timezone.make_aware(value.replace(tzinfo=None)) if value else value
