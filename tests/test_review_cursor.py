"""A worker's catch-up on decisions: /api/reviews/decisions/ in commit order, by cursor."""

import random
import threading
import time
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from mediaanalysis.pipeline.models import ApiToken
from mediaanalysis.webhooks.models import EventType
from mediaanalysis.webhooks.services import emit
from reviews import services
from reviews.models import HITLReview
from tests.conftest import make_result


def reader() -> Client:
    _, raw = ApiToken.issue("catch-up", "read")
    return Client(headers={"Authorization": f"Bearer {raw}"})


def read_all(client, cursor=None, limit=3) -> tuple[list[int], str | None]:
    """Page through the feed from `cursor` to its end; the review ids and the last cursor."""
    seen = []
    while True:
        params = {"limit": limit} | ({"after": cursor} if cursor else {})
        answer = client.get("/api/reviews/decisions/", params)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        seen += [item["data"]["review_id"] for item in body["items"]]
        if not body["items"]:
            return seen, body["next_cursor"] or cursor
        cursor = body["next_cursor"]


def decide_one(reviewer, **fields) -> int:
    review = HITLReview.objects.create(analysis_result=make_result(**fields))
    services.claim(review.pk, reviewer)
    services.decide(review.pk, reviewer, "yes", "fine", None)
    return review.pk


@pytest.mark.django_db
def test_decisions_come_in_order_and_the_cursor_goes_on_from_where_it_was(reviewer):
    client = reader()
    first = [decide_one(reviewer) for _ in range(5)]
    seen, cursor = read_all(client)
    assert seen == first

    later = [decide_one(reviewer) for _ in range(2)]
    more, _ = read_all(client, cursor)
    assert more == later  # nothing again, nothing missed


@pytest.mark.django_db
def test_each_item_carries_the_webhooks_payload(reviewer):
    review_id = decide_one(reviewer)
    item = reader().get("/api/reviews/decisions/").json()["items"][0]
    assert item["type"] == "review.decided" and item["id"].startswith("msg_")
    assert item["data"]["review_id"] == review_id
    assert item["data"]["decision"] == "yes" and item["data"]["reviewer"] == reviewer.username


@pytest.mark.django_db
def test_an_empty_feed_gives_the_cursor_back_to_ask_again(reviewer):
    decide_one(reviewer)
    client = reader()
    _, cursor = read_all(client)
    again = client.get("/api/reviews/decisions/", {"after": cursor}).json()
    assert again == {"items": [], "next_cursor": cursor}


@pytest.mark.django_db
def test_decided_after_starts_the_feed_at_a_time(reviewer):
    old = decide_one(reviewer)
    start = timezone.now()
    with time_machine.travel(start + timedelta(minutes=5)):
        new = decide_one(reviewer)
    answer = reader().get(
        "/api/reviews/decisions/",
        {"decided_after": (start + timedelta(minutes=1)).isoformat()},
    )
    assert [item["data"]["review_id"] for item in answer.json()["items"]] == [new]
    assert old != new


@pytest.mark.django_db
@pytest.mark.parametrize(
    "cursor", ["nonsense", "-1.-1", "1.2" * 20, "%%%", "9999999999999999999999.1", "1.2.3"]
)
def test_a_cursor_the_api_did_not_give_is_a_clear_422(cursor):
    answer = reader().get("/api/reviews/decisions/", {"after": cursor})
    assert answer.status_code == 422
    assert "after" in str(answer.json()["detail"])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_decision_that_commits_late_is_neither_skipped_nor_repeated():
    """The hazard: a transaction that took its place in the order first commits last."""
    client = reader()
    emitted, proceed = threading.Event(), threading.Event()

    def slow_writer():
        with transaction.atomic():
            emit(EventType.REVIEW_DECIDED, {"review_id": 1})
            emitted.set()
            proceed.wait(10)
        connection.close()

    writer = threading.Thread(target=slow_writer)
    writer.start()
    emitted.wait(10)
    with transaction.atomic():
        emit(EventType.REVIEW_DECIDED, {"review_id": 2})  # later, but committed first
    seen, cursor = read_all(client)
    assert seen == []  # #2 waits until #1, which sorts before it, has committed
    proceed.set()
    writer.join()
    seen, cursor = read_all(client, cursor)
    assert seen == [1, 2]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_events_written_concurrently_with_the_reader_are_neither_skipped_nor_repeated():
    client = reader()
    writers, per_writer = 6, 25

    def write(n):
        try:
            for i in range(per_writer):
                with transaction.atomic():
                    emit(EventType.REVIEW_DECIDED, {"review_id": n * 1000 + i})
                    time.sleep(random.uniform(0, 0.005))  # hold the transaction open a while
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    seen, cursor = [], None
    while any(thread.is_alive() for thread in threads):
        batch, cursor = read_all(client, cursor, limit=7)
        seen += batch
    batch, _ = read_all(client, cursor, limit=7)
    seen += batch

    assert len(seen) == len(set(seen)) == writers * per_writer
