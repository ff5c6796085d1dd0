"""Sending results to review in bulk: a whole filter only after a confirmation with its count,
never from an empty list, and a send its sender may undo for a few minutes."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from reviews import services
from reviews.models import EnqueueBatch, HITLReview, ReviewEvent
from tests.conftest import make_result

pytestmark = pytest.mark.django_db

ENQUEUE = "/reviews/enqueue/"


@pytest.fixture(autouse=True)
def _no_automatic_reviews(settings):
    settings.REVIEW_CONFIDENCE_THRESHOLD = 0  # only the manager sends results to review here


def send_filter(client, query, priority="3", confirm=False, **extra):
    data = {"scope": "filter", "query": query, "priority": priority, "next": "/results/?" + query}
    if confirm:
        data["confirm"] = "1"
    return client.post(ENQUEUE, data, **extra)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_a_whole_filter_is_not_sent_before_its_count_is_confirmed(manager_client):
    for _ in range(3):
        make_result(model_used="tesseract-5")
    make_result(model_used="whisper-large-v3")
    response = send_filter(manager_client, "model=tesseract-5")
    assert response.status_code == 200
    assert not HITLReview.objects.exists()
    text = response.text
    assert "Send 3 results to review with priority 3?" in text
    assert "Model: <strong>tesseract-5</strong>" in text
    # The confirmation sends exactly what was asked, with confirm set; Cancel goes back.
    assert 'name="confirm" value="1"' in text and 'name="query" value="model=tesseract-5"' in text
    assert 'href="/results/?model=tesseract-5">Cancel</a>' in text

    sent = send_filter(manager_client, "model=tesseract-5", confirm=True, follow=True)
    assert HITLReview.objects.count() == 3
    assert messages_of(sent)[0].startswith("Sent 3 results to review with priority 3.")


def test_with_htmx_the_confirmation_is_a_fragment_of_the_list(manager_client):
    make_result(model_used="tesseract-5")
    response = send_filter(manager_client, "model=tesseract-5", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "<html" not in response.text and 'id="confirm"' in response.text
    assert "Send 1 result to review with priority 3?" in response.text


def test_the_confirmation_says_more_than_the_cap_instead_of_counting_everything(
    manager_client, monkeypatch
):
    monkeypatch.setattr(services, "ENQUEUE_LIMIT", 2)
    for _ in range(3):
        make_result(model_used="tesseract-5")
    text = send_filter(manager_client, "model=tesseract-5").text
    assert "Send more than 2 results to review with priority 3?" in text
    assert "Only the first 2 (newest first) are sent" in text


def test_a_filter_matching_nothing_offers_nothing_to_send(manager_client):
    make_result(model_used="tesseract-5")
    text = send_filter(manager_client, "model=nobody").text
    assert "No result matches this filter" in text
    assert 'type="submit"' not in text.split('id="confirm"')[1]


def test_a_filter_that_was_not_understood_is_never_confirmed_or_sent(manager_client):
    make_result()
    for query in ("confidence_min=lots", "modle=typo"):
        response = send_filter(manager_client, query, confirm=True, follow=True)
        assert not HITLReview.objects.exists()
        assert messages_of(response)[0].startswith("Fix the filter first; nothing was sent")


def test_the_list_offers_the_bulk_bar_and_select_all_only_when_it_has_rows(manager_client):
    make_result(model_used="tesseract-5")
    full = manager_client.get("/results/?model=tesseract-5").text
    assert 'id="enqueue"' in full and 'data-select-all="result"' in full
    empty = manager_client.get("/results/?model=nobody").text
    assert 'id="enqueue"' not in empty and "data-select-all" not in empty


def test_a_reviewer_sees_no_bulk_bar(reviewer_client):
    make_result()
    assert 'id="enqueue"' not in reviewer_client.get("/results/").text


def test_a_send_records_its_batch_on_each_reviews_history(manager, manager_client):
    a, b = make_result(), make_result()
    manager_client.post(ENQUEUE, {"scope": "selected", "result": [a.pk, b.pk], "priority": "2"})
    batch = EnqueueBatch.objects.get()
    assert (batch.actor, batch.opened, batch.priority) == (manager, 2, 2)
    assert set(
        ReviewEvent.objects.filter(kind="enqueued").values_list("batch", "actor__username")
    ) == {(batch.pk, "maya")}


def test_undo_withdraws_the_pending_reviews_and_keeps_the_claimed_and_decided_ones(
    manager, manager_client, reviewer
):
    results = [make_result() for _ in range(4)]
    batch = services.send_to_review([r.pk for r in results], 1, manager)
    claimed = services.claim_next(reviewer)
    services.decide(claimed.pk, reviewer, "yes", "", None)
    services.claim_next(reviewer)  # a second one, held now

    response = manager_client.post(
        reverse("review-enqueue-undo", args=[batch.pk]), {"next": "/results/"}, follow=True
    )
    assert messages_of(response) == [
        "Undone: 2 reviews withdrawn from the queue. 2 were kept: a reviewer has claimed or "
        "decided them since (or they were deleted)."
    ]
    assert HITLReview.objects.count() == 2
    assert set(HITLReview.objects.values_list("status", flat=True)) == {"completed", "claimed"}
    withdrawn = HITLReview.all_objects.filter(deleted_at__isnull=False)
    assert withdrawn.count() == 2
    assert set(
        ReviewEvent.objects.filter(kind="withdrawn").values_list("review", "actor__username")
    ) == {(pk, "maya") for pk in withdrawn.values_list("pk", flat=True)}
    batch.refresh_from_db()
    assert batch.undone_at is not None
    # The withdrawn results can be sent again.
    assert services.enqueue(withdrawn.values_list("analysis_result", flat=True)) == 2


def test_an_undo_is_refused_politely_after_the_window_twice_or_for_another_person(
    manager, manager_client, django_user_model, settings
):
    from tests.conftest import MANAGERS, client_for, make_user

    settings.ENQUEUE_UNDO_SECONDS = 600
    batch = services.send_to_review([make_result().pk], 0, manager)
    undo = reverse("review-enqueue-undo", args=[batch.pk])

    colleague = client_for(make_user(django_user_model, "carl", MANAGERS))
    refused = colleague.post(undo, follow=True)
    assert messages_of(refused) == ["Only the person who sent these results to review can undo it."]

    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        late = manager_client.post(undo, follow=True)
    assert messages_of(late)[0].startswith(
        "Too late to undo: a send to review can be undone for 10 minutes"
    )
    assert HITLReview.objects.count() == 1

    manager_client.post(undo, follow=True)
    twice = manager_client.post(undo, follow=True)
    assert messages_of(twice)[0].startswith("This send to review was already undone")


def test_the_list_keeps_offering_the_undo_of_the_last_send_while_it_may_be_undone(
    manager, manager_client
):
    batch = services.send_to_review([make_result().pk], 0, manager)
    text = manager_client.get("/results/").text
    assert "Last sent to review: 1 result at" in text
    assert reverse("review-enqueue-undo", args=[batch.pk]) in text
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        assert "Last sent to review" not in manager_client.get("/results/").text


def test_a_withdrawn_review_tells_its_reader_so(manager, reviewer_client):
    batch = services.send_to_review([make_result().pk], 0, manager)
    review = HITLReview.objects.get()
    services.undo_enqueue(batch.pk, manager)
    response = reviewer_client.get(review.get_absolute_url())
    assert response.status_code == 404
    assert "This review was withdrawn on" in response.text
    assert "its send to review was undone" in response.text
