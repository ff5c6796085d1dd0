"""Agreement between first and second reviews (docs/quality.md): Cohen's kappa checked by hand,
and the dashboard's agreement figures on known data, with links to their reviews and a bounded
number of queries."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from dashboard.stats import Scope, figures
from reviews.models import HITLReview, Round
from reviews.quality import agreement, shown
from tests.conftest import make_result, make_user

NOW = datetime(2026, 11, 20, 12, 0, 30, tzinfo=UTC)


# Cohen's kappa, by hand


def test_perfect_agreement_has_a_kappa_of_one():
    # p_o = 1; p_e = 0.5^2 + 0.3^2 + 0.2^2 = 0.38; kappa = (1 - 0.38) / (1 - 0.38) = 1
    figures_ = agreement([[5, 0, 0], [0, 3, 0], [0, 0, 2]])
    assert figures_ == {"n": 10, "disagreed": 0, "agreement": 1.0, "kappa": pytest.approx(1.0)}


def test_agreement_no_better_than_chance_has_a_kappa_of_zero():
    # Each rater says yes half the time, independently: p_o = 0.5 = p_e.
    figures_ = agreement([[25, 25, 0], [25, 25, 0], [0, 0, 0]])
    assert figures_["agreement"] == 0.5
    assert figures_["kappa"] == pytest.approx(0.0)


def test_the_textbook_example_has_a_kappa_of_point_four():
    """Wikipedia's "Cohen's kappa" worked example: 50 grant proposals read by two readers; both
    said yes to 20 and no to 15; A yes and B no 5, A no and B yes 10. p_o = 35/50 = 0.7,
    p_e = 0.5 * 0.6 + 0.5 * 0.4 = 0.5, kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4."""
    figures_ = agreement([[20, 5, 0], [10, 15, 0], [0, 0, 0]])
    assert figures_["agreement"] == pytest.approx(0.7)
    assert figures_["kappa"] == pytest.approx(0.4)


def test_a_three_way_table_computed_by_hand():
    # n = 50; diagonal 10 + 12 + 14 = 36, p_o = 0.72. Rows 15, 17, 18; columns 16, 16, 18.
    # p_e = (15*16 + 17*16 + 18*18) / 2500 = 836 / 2500 = 0.3344.
    # kappa = (0.72 - 0.3344) / (1 - 0.3344) = 0.3856 / 0.6656 = 0.579326...
    figures_ = agreement([[10, 2, 3], [4, 12, 1], [2, 2, 14]])
    assert figures_["agreement"] == pytest.approx(0.72)
    assert figures_["kappa"] == pytest.approx(0.3856 / 0.6656)


def test_kappa_is_undefined_when_both_always_say_the_same_thing():
    assert agreement([[7, 0, 0], [0, 0, 0], [0, 0, 0]])["kappa"] is None
    assert agreement([[0] * 3] * 3) == {"n": 0, "disagreed": 0, "agreement": None, "kappa": None}


def test_below_the_minimum_number_of_pairs_no_rate_is_shown(settings):
    settings.QUALITY_MIN_PAIRS = 10
    few = shown(agreement([[5, 0, 0], [0, 4, 0], [0, 0, 0]]))
    assert (few["n"], few["agreement"], few["kappa"], few["enough"]) == (9, None, None, False)
    assert shown(agreement([[5, 0, 0], [0, 5, 0], [0, 0, 0]]))["enough"] is True


# The dashboard's figures, on known data


def at(**kwargs):
    return NOW - timedelta(**kwargs)


@pytest.fixture(autouse=True)
def _frozen_clock(settings):
    settings.REVIEW_CONFIDENCE_THRESHOLD = 0  # the tests place every review themselves
    settings.QUALITY_MIN_PAIRS = 3
    with time_machine.travel(NOW, tick=False):
        yield


def decided(result, who, approved, round_=Round.FIRST, previous=None, hours=1):
    return HITLReview.objects.create(
        analysis_result=result,
        round=round_,
        previous_review=previous,
        status="completed",
        approved=approved,
        reviewed_by=who,
        reviewed_at=at(hours=hours),
        created_at=at(hours=hours + 1),
    )


def pair(first_by, first, second_by, second, model="m1", hours=1):
    result = make_result(model_used=model, analysis_type="audio")
    one = decided(result, first_by, first, hours=hours + 1)
    two = decided(result, second_by, second, Round.SECOND, one, hours=hours)
    return one, two


@pytest.fixture
def people(reviewer, other_reviewer, django_user_model):
    return reviewer, other_reviewer, make_user(django_user_model, "tara", "Reviewers")


@pytest.fixture
def pairs(people):
    """m1: rita first, omar second, 4 pairs, 3 agree. m2: two pairs only. One old pair."""
    rita, omar, tara = people
    pair(rita, "yes", omar, "yes")
    pair(rita, "yes", omar, "yes")
    pair(rita, "no", omar, "no")
    _, disagreement = pair(rita, "no", omar, "yes")
    # The disagreement was adjudicated by tara: "no", so omar was overturned and rita not.
    decided(disagreement.analysis_result, tara, "no", Round.ADJUDICATION, disagreement, hours=0.5)
    pair(omar, "needs_changes", rita, "needs_changes", model="m2")
    pair(tara, "yes", rita, "no", model="m2")
    pair(rita, "yes", omar, "no", hours=30)  # before the window: never counted


@pytest.mark.django_db
def test_agreement_per_model_and_type_with_kappa_and_n(pairs):
    quality = figures(Scope("24h"))["quality"]
    rows = {row["model"]: row for row in quality["by_model"]}
    m1 = rows["m1"]
    assert (m1["analysis_type"], m1["n"], m1["disagreed"], m1["agreement"]) == ("audio", 4, 1, 0.75)
    # [[yes,yes]=2, [yes,no]=0; [no,yes]=1, [no,no]=1]: p_o = 0.75, p_e = 0.5*0.75 + 0.5*0.25
    assert m1["kappa"] == pytest.approx((0.75 - 0.5) / (1 - 0.5))
    assert rows["m2"]["n"] == 2 and rows["m2"]["agreement"] is None  # below the minimum
    assert quality["agreement"]["n"] == 6
    assert quality["agreement"]["agreement"] == pytest.approx(4 / 6)


@pytest.mark.django_db
def test_the_confusion_table_counts_first_against_second_decisions(pairs):
    table = {
        row["first"]: dict(row["cells"]) for row in figures(Scope("24h"))["quality"]["confusion"]
    }
    assert table == {
        "yes": {"yes": 2, "no": 1, "needs_changes": 0},
        "no": {"yes": 1, "no": 1, "needs_changes": 0},
        "needs_changes": {"yes": 0, "no": 0, "needs_changes": 1},
    }


@pytest.mark.django_db
def test_agreement_per_reviewer_counts_them_as_first_or_second_reviewer(pairs):
    by_reviewer = {row["reviewer"]: row for row in figures(Scope("24h"))["quality"]["by_reviewer"]}
    assert (by_reviewer["rita"]["n"], by_reviewer["rita"]["agreement"]) == (6, pytest.approx(4 / 6))
    assert (by_reviewer["omar"]["n"], by_reviewer["omar"]["agreement"]) == (5, 0.8)
    assert by_reviewer["tara"]["n"] == 1 and by_reviewer["tara"]["agreement"] is None


@pytest.mark.django_db
def test_the_overturn_rate_at_adjudication_per_reviewer(pairs):
    overturns = {row["reviewer"]: row for row in figures(Scope("24h"))["quality"]["overturns"]}
    assert (overturns["omar"]["n"], overturns["omar"]["overturned"]) == (1, 1)
    assert (overturns["rita"]["n"], overturns["rita"]["overturned"], overturns["rita"]["rate"]) == (
        1,
        0,
        0.0,
    )


@pytest.mark.django_db
def test_the_model_filter_narrows_the_pairs(pairs):
    quality = figures(Scope("24h", model="m2"))["quality"]
    assert [row["model"] for row in quality["by_model"]] == ["m2"]
    assert quality["agreement"]["n"] == 2


@pytest.mark.django_db
def test_each_agreement_figure_links_to_its_reviews(pairs, manager_client):
    html = manager_client.get("/dashboard/?window=24h").text
    since = "quality_since=2026-11-19T12%3A00"
    assert f"/results/?{since}&amp;quality=agreed&amp;model=m1&amp;analysis_type=audio" in html
    # m1's one disagreement, counted and linked
    assert (
        f'/results/?{since}&amp;quality=disagreed&amp;model=m1&amp;analysis_type=audio">1</a>'
        in html
    )
    assert f"/results/?{since}&amp;quality=second_reviewed&amp;reviewer=omar" in html
    assert f"/results/?{since}&amp;pair=no%3Ayes" in html  # the confusion table's cell
    assert f"/results/?{since}&amp;quality=overturned&amp;reviewer=omar" in html
    # ...and the links lead to exactly those results.
    listed = manager_client.get(f"/results/?{since}&pair=no%3Ayes").context["rows"]
    expected = HITLReview.objects.filter(
        round=Round.SECOND,
        previous_review__approved="no",
        approved="yes",
        reviewed_at__gte=at(hours=24),
    ).values_list("analysis_result_id", flat=True)
    assert {r.pk for r in listed} == set(expected) and len(listed) == 1
    disagreed = manager_client.get(f"/results/?{since}&quality=disagreed&reviewer=omar")
    assert len(disagreed.context["rows"]) == 1


@pytest.mark.django_db
def test_open_adjudications_are_listed_for_managers(people, manager_client):
    rita, omar, _ = people
    _, second = pair(rita, "yes", omar, "no")
    waiting = HITLReview.objects.create(
        analysis_result=second.analysis_result, round=Round.ADJUDICATION, previous_review=second
    )
    adjudications = figures(Scope("24h"))["quality"]["adjudications"]
    assert adjudications["n"] == 1 and adjudications["oldest"][0]["id"] == waiting.pk
    assert f'href="/reviews/{waiting.pk}/"' in manager_client.get("/dashboard/").text


@pytest.mark.django_db
def test_the_quality_figures_run_a_fixed_number_of_queries(
    people, manager_client, django_assert_max_num_queries
):
    rita, omar, tara = people
    pair(rita, "yes", omar, "no")
    with django_assert_max_num_queries(38) as few:
        manager_client.get("/dashboard/?window=30d&refresh=1")
    for n in range(15):
        one, two = pair([rita, omar, tara][n % 3], "yes", [omar, tara, rita][n % 3], "no")
        decided(one.analysis_result, [tara, rita, omar][n % 3], "yes", Round.ADJUDICATION, two)
    with django_assert_max_num_queries(len(few.captured_queries)):
        manager_client.get("/dashboard/?window=30d&refresh=1")
