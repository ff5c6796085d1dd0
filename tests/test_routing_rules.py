"""Review by exception (docs/quality.md): routing rules per analysis type and model decide
which results go to review (below the threshold) and which are spot-checked anyway (a sampled
share above it); every review records why it was opened; managers see what each rule sends."""

import pytest
from django.urls import reverse

from dashboard.stats import Scope, figures
from mediaanalysis import db
from reviews import quality, services
from reviews.models import HITLReview, Reason, RoutingRule
from tests.conftest import make_result, make_user

pytestmark = pytest.mark.django_db


def review_of(result) -> HITLReview | None:
    return HITLReview.objects.filter(analysis_result=result).first()


def test_without_a_rule_the_global_threshold_decides(settings):
    settings.REVIEW_CONFIDENCE_THRESHOLD = 0.7
    low, high = make_result(confidence_score=0.69), make_result(confidence_score=0.7)
    assert review_of(high) is None
    review = review_of(low)
    assert review.reason == Reason.LOW_CONFIDENCE
    assert review.reason_details == {"confidence": 0.69, "threshold": 0.7, "rule": None}


def test_the_most_specific_rule_wins(settings):
    settings.REVIEW_CONFIDENCE_THRESHOLD = 0.7
    RoutingRule.objects.create(confidence_threshold=0.2)  # every type, every model
    RoutingRule.objects.create(analysis_type="audio", confidence_threshold=0.4)
    RoutingRule.objects.create(model_used="whisper-large-v3", confidence_threshold=0.5)
    exact = RoutingRule.objects.create(
        analysis_type="audio", model_used="whisper-large-v3", confidence_threshold=0.9
    )
    assert quality.rule_for("audio", "whisper-large-v3").threshold == 0.9
    assert quality.rule_for("audio", "other").threshold == 0.4
    assert quality.rule_for("video", "whisper-large-v3").threshold == 0.5
    assert quality.rule_for("video", None).threshold == 0.2
    result = make_result(confidence_score=0.85)  # audio, whisper-large-v3
    assert review_of(result).reason_details["rule"] == exact.pk
    assert review_of(make_result(confidence_score=0.45, model_used="x")) is None  # audio: 0.4


def test_a_rule_without_a_threshold_keeps_the_global_one(settings):
    settings.REVIEW_CONFIDENCE_THRESHOLD = 0.6
    RoutingRule.objects.create(analysis_type="audio", spot_check_rate=0.5)
    assert quality.rule_for("audio", "m").threshold == 0.6


def test_spot_checks_send_a_sampled_share_of_confident_results(settings):
    rule = RoutingRule.objects.create(analysis_type="audio", spot_check_rate=0.25)
    results = [make_result(confidence_score=0.95) for _ in range(80)]
    spot = [r for r in results if review_of(r)]
    assert {r.pk for r in spot} == {
        r.pk for r in results if quality.sampled(r.pk, "spot-check", 0.25)
    }
    assert 0 < len(spot) < 80
    review = review_of(spot[0])
    assert review.reason == Reason.SPOT_CHECK
    assert review.reason_details == {
        "confidence": 0.95,
        "threshold": settings.REVIEW_CONFIDENCE_THRESHOLD,
        "rule": rule.pk,
        "rate": 0.25,
    }
    # Saving a result again never draws it twice: the sample is a hash, not a dice roll.
    unsampled = next(r for r in results if not review_of(r))
    for _ in range(5):
        unsampled.save()
    assert review_of(unsampled) is None


def test_a_changed_result_after_needs_changes_goes_round_again_saying_so(reviewer):
    result = make_result(confidence_score=0.1)
    first = services.claim_next(reviewer)
    services.decide(first.pk, reviewer, "needs_changes", "", None)
    result.summary = "fixed"
    result.save()
    again = HITLReview.objects.filter(analysis_result=result).exclude(pk=first.pk).get()
    assert (again.reason, again.reason_details) == (
        Reason.CHANGED,
        {"after_review": first.pk, "round": 2},
    )
    assert "needs-changes round 2" in again.why()
    assert again.why_short() == "Changed after “needs changes”, round 2"
    # Asked again: the third round.
    claimed = services.claim_next(reviewer)
    services.decide(claimed.pk, reviewer, "needs_changes", "", None)
    result.summary = "fixed again"
    result.save()
    third = HITLReview.objects.filter(analysis_result=result, status="pending").get()
    assert third.reason_details["round"] == 3


def test_a_person_sending_results_to_review_is_recorded_by_name(manager, manager_client):
    result = make_result()
    manager_client.post(
        reverse("review-enqueue"), {"scope": "selected", "result": [result.pk], "priority": 2}
    )
    review = review_of(result)
    assert review.reason == Reason.MANUAL
    assert review.reason_details == {"by": "maya", "by_id": manager.pk}
    assert review.why() == "Sent to review by maya."


def test_every_reason_reads_as_a_sentence_for_the_reviewer(reviewer_client, settings):
    settings.REVIEW_CONFIDENCE_THRESHOLD = 0.7
    result = make_result(confidence_score=0.42)
    page = reviewer_client.get(review_of(result).get_absolute_url()).text
    assert "Low confidence: the model&#x27;s 0.42 is below the threshold of 0.70" in page


def test_managers_keep_the_rules_in_the_admin_and_reviewers_cannot(django_user_model, reviewer):
    from tests.conftest import client_for

    staff_manager = make_user(django_user_model, "mona", "Managers", is_staff=True)
    client = client_for(staff_manager)
    url = reverse("admin:reviews_routingrule_add")
    response = client.post(
        url,
        {
            "analysis_type": "audio",
            "model_used": "",
            "confidence_threshold": "0.5",
            "spot_check_rate": "0.1",
            "second_review_rate": "0.2",
        },
    )
    assert response.status_code == 302
    assert RoutingRule.objects.get().spot_check_rate == 0.1
    refused = client.post(
        url, {"analysis_type": "video", "spot_check_rate": "2", "second_review_rate": "0"}
    )
    assert refused.status_code == 200 and "less than or equal to 1" in refused.text
    reviewer.is_staff = True
    reviewer.save()
    assert client_for(reviewer).get(url).status_code == 403


def test_the_dashboard_shows_what_each_rule_sends_and_what_spot_checks_found(
    reviewer, manager_client, settings
):
    settings.REVIEW_CONFIDENCE_THRESHOLD = 0.5
    RoutingRule.objects.create(model_used="m1", spot_check_rate=1.0)
    for score in (0.1, 0.2, 0.9, 0.95):
        make_result(model_used="m1", confidence_score=score)
    make_result(model_used="m2", confidence_score=0.9)  # no rule: the settings, no spot checks
    while review := services.claim_next(reviewer):
        approve = (
            review.reason == Reason.SPOT_CHECK and review.analysis_result.confidence_score > 0.92
        )
        services.decide(review.pk, reviewer, "yes" if approve else "no", "", None)
    rows = {row["model"]: row for row in figures(Scope("24h"))["quality"]["routing"]}
    m1 = rows["m1"]
    assert (m1["results"], m1["low"], m1["spot"]) == (4, 2, 2)
    assert (m1["low_share"], m1["spot_share"]) == (0.5, 0.5)
    assert (m1["spot_decided"], m1["spot_approval"], m1["low_approval"]) == (2, 0.5, 0.0)
    assert m1["rule"] == "every type · m1" and m1["spot_check_rate"] == 1.0
    m2 = rows["m2"]
    assert (m2["results"], m2["low"], m2["spot"], m2["rule"]) == (1, 0, 0, "")
    page = manager_client.get("/dashboard/?refresh=1").text
    assert "Review by exception: what each rule sends" in page
    assert "/results/?quality=spot_check&amp;model=m1&amp;analysis_type=audio" in page


# Each process keeps the rule it read for a few seconds (quality.rule_for)


def test_a_rule_is_read_once_for_a_few_seconds(django_assert_num_queries, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(db, "monotonic", lambda: clock[0])
    RoutingRule.objects.create(analysis_type="audio", confidence_threshold=0.4)
    with django_assert_num_queries(1):
        assert quality.rule_for("audio", "m").threshold == 0.4
        assert quality.rule_for("audio", "m").threshold == 0.4
    clock[0] += 4.9
    with django_assert_num_queries(0):
        quality.rule_for("audio", "m")
    clock[0] += 0.2  # REVIEW_RULE_SECONDS later
    with django_assert_num_queries(1):
        quality.rule_for("audio", "m")
    with django_assert_num_queries(1):  # another type and model: its own read
        quality.rule_for("video", "m")


def test_a_rule_saved_or_deleted_here_applies_at_once(settings):
    settings.REVIEW_CONFIDENCE_THRESHOLD = 0.7
    assert quality.rule_for("audio", "m").threshold == 0.7
    rule = RoutingRule.objects.create(analysis_type="audio", confidence_threshold=0.4)
    assert quality.rule_for("audio", "m").threshold == 0.4
    rule.confidence_threshold = 0.9
    rule.save()
    assert review_of(make_result(confidence_score=0.85)).reason == Reason.LOW_CONFIDENCE
    rule.delete()
    assert quality.rule_for("audio", "m").threshold == 0.7
    settings.REVIEW_CONFIDENCE_THRESHOLD = 0.5
    assert quality.rule_for("audio", "m").threshold == 0.5


def test_the_kept_rules_are_bounded(monkeypatch):
    monkeypatch.setattr(quality.RULES, "bound", 3)
    for n in range(10):
        quality.rule_for("audio", f"model-{n}")  # model names come from the API
        assert len(quality.RULES.kept) <= 3
