"""Nothing a reviewer typed is lost, in any refusal (docs/design.md, The review workflow and Bad input and faults): input the
database cannot store, a review deleted or decided meanwhile, a second tab."""

import pytest
from django.urls import reverse
from django.utils.html import escape

from reviews import services
from reviews.models import HITLReview, ReviewDraft
from tests.conftest import client_for, make_result

NOTES = "Speaker 2 is <mislabelled> & the intro is cut"


@pytest.fixture
def claimed(db, reviewer):
    review = HITLReview.objects.create(analysis_result=make_result(result_data={"lang": "en"}))
    services.claim_next(reviewer)
    return review


def decide(client, review, **data):
    return client.post(reverse("review-decide", args=[review.pk]), {"approved": "yes", **data})


@pytest.mark.parametrize(
    ("corrections", "reason"),
    [
        ('{"lang": "de\\u0000"}', "NUL character"),
        ('{"lang": "\\ud800"}', "lone surrogate"),
        ('{"score": NaN}', "finite"),
        ('{"score": Infinity}', "finite"),
        ('{"n": ' + "9" * 5000 + "}", "at most 4,300 digits"),
        ('{"a":' * 10_000 + "1" + "}" * 10_000, "deeper than 64"),
        ('{"a":' * 65 + "1" + "}" * 65, "deeper than 64"),
    ],
)
def test_corrections_the_database_cannot_store_are_a_form_error_and_kept(
    claimed, reviewer, corrections, reason
):
    response = decide(client_for(reviewer), claimed, reviewer_notes=NOTES, corrections=corrections)
    assert response.status_code == 422
    assert reason in response.text
    assert escape(NOTES) in response.text and escape(corrections) in response.text
    draft = ReviewDraft.objects.get(review=claimed, user=reviewer)
    assert (draft.notes, draft.corrections) == (NOTES, corrections)
    assert HITLReview.objects.get(pk=claimed.pk).status != "completed"


def test_notes_holding_a_nul_are_kept_as_a_draft_with_it_replaced_and_the_page_says_so(
    claimed, reviewer
):
    typed = "first line\x00second line"
    response = decide(client_for(reviewer), claimed, reviewer_notes=typed)
    assert response.status_code == 422
    assert typed in response.text  # shown back exactly as typed
    assert "replaced by \ufffd" in response.text
    assert ReviewDraft.objects.get(review=claimed).notes == "first line\ufffdsecond line"


def test_a_heartbeat_with_text_the_database_cannot_store_keeps_what_it_can(claimed, reviewer):
    response = client_for(reviewer).post(
        reverse("review-heartbeat", args=[claimed.pk]),
        {"reviewer_notes": "a\x00b", "corrections": '{"a": NaN}'},
    )
    assert response.status_code == 200 and response.json()["ok"]
    assert ReviewDraft.objects.get(review=claimed).notes == "a\ufffdb"


def test_a_review_deleted_meanwhile_shows_the_typed_text_back(claimed, reviewer):
    HITLReview.objects.filter(pk=claimed.pk).soft_delete()
    response = decide(client_for(reviewer), claimed, reviewer_notes=NOTES, corrections='{"a": 1}')
    assert response.status_code == 404
    assert "was deleted while you worked on it" in response.text
    assert escape(NOTES) in response.text and escape('{"a": 1}') in response.text
    assert ReviewDraft.objects.get(review=claimed).notes == NOTES


def test_a_review_decided_by_the_new_holder_shows_the_losers_typed_text_back(
    claimed, reviewer, other_reviewer
):
    HITLReview.objects.filter(pk=claimed.pk).update(claim_expires_at=claimed.created_at)
    services.claim_next(other_reviewer)
    services.decide(claimed.pk, other_reviewer, "no", "theirs", None)
    response = decide(client_for(reviewer), claimed, reviewer_notes=NOTES)
    assert response.status_code == 409
    assert "already decided by omar" in response.text
    assert 'id="typed-back"' in response.text and escape(NOTES) in response.text


def test_the_losing_tab_of_two_shows_its_notes_back(claimed, reviewer):
    first_tab, second_tab = client_for(reviewer), client_for(reviewer)
    assert decide(first_tab, claimed, reviewer_notes="from the first tab").status_code == 302
    response = decide(second_tab, claimed, reviewer_notes=NOTES)
    assert response.status_code == 409
    assert escape(NOTES) in response.text
    assert HITLReview.objects.get(pk=claimed.pk).reviewer_notes == "from the first tab"


def test_the_review_page_loads_the_browser_draft_script(claimed, reviewer):
    page = client_for(reviewer).get(claimed.get_absolute_url())
    assert "js/drafts.js" in page.text
    assert 'data-decided-by-me="false"' in page.text
