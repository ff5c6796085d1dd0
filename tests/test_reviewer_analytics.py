"""Reviewer analytics from the claim history (dashboard/analytics.py, docs/quality.md): time
at work and handle time without idle gaps, decisions per hour at work, release and skip rates,
first-pass approval; per reviewer and per day."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from dashboard.stats import Scope, figures
from reviews.models import HITLReview, Reason, ReviewEvent
from tests.conftest import make_result

NOW = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)
T0 = NOW - timedelta(hours=2)
Kind = ReviewEvent.Kind

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen_clock(settings):
    settings.REVIEW_CONFIDENCE_THRESHOLD = 0
    settings.REVIEW_IDLE_SECONDS = 120
    with time_machine.travel(NOW, tick=False):
        yield


def t(seconds):
    return T0 + timedelta(seconds=seconds)


def review(who=None, approved=None, at=None, reason=Reason.LOW_CONFIDENCE, **fields):
    done = {}
    if approved:
        done = {"status": "completed", "approved": approved, "reviewed_by": who, "reviewed_at": at}
    return HITLReview.objects.create(
        analysis_result=make_result(), reason=reason, created_at=t(-600), **done, **fields
    )


def events(item, who, *kinds_and_seconds):
    for kind, seconds in kinds_and_seconds:
        ReviewEvent.objects.create(review=item, kind=kind, actor=who, at=t(seconds))


@pytest.fixture
def rita_at_work(reviewer, other_reviewer):
    """rita decides two reviews, walks away in the middle of the second, releases a third and
    skips a fourth; omar decides one review the day before."""
    a = review(reviewer, "yes", t(80))
    events(
        a, reviewer, (Kind.CLAIMED, 0), (Kind.RENEWED, 30), (Kind.RENEWED, 60), (Kind.DECIDED, 80)
    )
    b = review(reviewer, "no", t(520), reason=Reason.SPOT_CHECK)
    # 390 s without a renewal between 110 and 500: idle, counted for nothing
    events(
        b,
        reviewer,
        (Kind.CLAIMED, 80),
        (Kind.RENEWED, 110),
        (Kind.RENEWED, 500),
        (Kind.DECIDED, 520),
    )
    c = review()
    events(c, reviewer, (Kind.CLAIMED, 530), (Kind.RELEASED, 560))
    d = review()
    events(d, reviewer, (Kind.CLAIMED, 570), ("skipped", 575))  # the lanes' skip, once it exists
    yesterday = -86_400
    e = review(other_reviewer, "yes", t(yesterday + 40))
    events(e, other_reviewer, (Kind.CLAIMED, yesterday), (Kind.DECIDED, yesterday + 40))
    # A manager's send is no reviewer's work.
    ReviewEvent.objects.create(review=c, kind=Kind.ENQUEUED, at=t(-600))


def test_time_at_work_and_handle_time_leave_idle_gaps_out(rita_at_work):
    people = {p["reviewer"]: p for p in figures(Scope("7d"))["work"]["people"]}
    rita = people["rita"]
    # at work: a 30+30+20, a->b 0, b 30 (+390 idle) +20, b->c 10, c 30, c->d 10, d 5
    assert rita["at_work"] == pytest.approx(185)
    # handle time: a 80 s, b 30 + 20 s = 50 s; per decision 65 s
    assert rita["decisions"] == 2
    assert rita["handle_seconds"] == pytest.approx(65)
    assert rita["per_hour"] == pytest.approx(2 / (185 / 3600))


def test_release_and_skip_rates_are_per_claim(rita_at_work):
    rita = next(p for p in figures(Scope("7d"))["work"]["people"] if p["reviewer"] == "rita")
    assert (rita["claims"], rita["releases"], rita["skips"]) == (4, 1, 1)
    assert rita["release_rate"] == 0.25 and rita["skip_rate"] == 0.25


def test_first_pass_approval_is_the_share_of_first_reviews_approved(rita_at_work, reviewer):
    # a needs-changes round again is not a first pass, nor a second review
    review(reviewer, "no", t(600), reason=Reason.CHANGED)
    review(reviewer, "no", t(610), round=2)
    rita = next(p for p in figures(Scope("7d"))["work"]["people"] if p["reviewer"] == "rita")
    assert (rita["first_n"], rita["first_yes"], rita["first_pass_approval"]) == (2, 1, 0.5)


def test_the_figures_are_split_per_day(rita_at_work):
    people = {p["reviewer"]: p for p in figures(Scope("7d"))["work"]["people"]}
    omar = people["omar"]
    assert [d["day"].date() for d in omar["days"]] == [(T0 - timedelta(days=1)).date()]
    assert omar["days"][0]["decisions"] == 1
    assert omar["days"][0]["handle_seconds"] == pytest.approx(40)
    assert [d["day"].date() for d in people["rita"]["days"]] == [T0.date()]
    assert figures(Scope("24h"))["work"]["people"][0]["reviewer"] == "rita"  # omar's day is out


def test_the_reviewers_section_shows_the_work_table(rita_at_work, manager_client):
    page = manager_client.get("/dashboard/?window=7d").text
    assert "Reviewer work, from the claim history" in page
    assert "1 min 05 s" in page  # rita's handle time
    assert "/results/?quality_since=" in page and "reviewer=rita" in page
