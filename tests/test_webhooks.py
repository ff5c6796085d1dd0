"""Webhooks: a real receiver gets each event once, signed; retries, refusals, the admin."""

import ipaddress
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult
from standardwebhooks.webhooks import Webhook

from mediaanalysis.pipeline.models import ApiToken
from mediaanalysis.webhooks import delivery, services
from mediaanalysis.webhooks.models import (
    Delivery,
    DeliveryAttempt,
    Endpoint,
    Event,
    EventType,
    new_secret,
)
from mediaanalysis.webhooks.tasks import deliver
from reviews import services as reviews
from reviews.models import HITLReview
from tests.conftest import make_job, make_result
from tests.webhook_receiver import Receiver
from tests.worker import queued, run_queued_tasks

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _loopback_allowed(settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]


@pytest.fixture
def receiver():
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def endpoint(receiver):
    return Endpoint.objects.create(url=receiver.url, events=["review.decided"])


def claimed_review(reviewer, **result_fields) -> HITLReview:
    review = HITLReview.objects.create(analysis_result=make_result(**result_fields))
    return reviews.claim(review.pk, reviewer)


def decide(review, reviewer, approved="no", notes="Wrong speaker.", corrections=None):
    reviews.decide(review.pk, reviewer, approved, notes, corrections or {"speaker": "B"})


def test_a_decision_reaches_the_receiver_once_signed_with_standard_webhooks(
    receiver, endpoint, reviewer, django_capture_on_commit_callbacks
):
    review = claimed_review(reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        decide(review, reviewer)
    run_queued_tasks()
    run_queued_tasks()

    assert len(receiver.received) == 1
    request = receiver.received[0]
    payload = Webhook(endpoint.secret).verify(request.body, request.headers)
    result = review.analysis_result
    result.refresh_from_db()
    assert payload["type"] == "review.decided"
    assert payload["data"] == {
        "review_id": review.pk,
        "result_id": result.pk,
        "job_id": result.job_id,
        "result_version": payload["data"]["result_version"],
        "decision": "no",
        "notes": "Wrong speaker.",
        "corrections": {"speaker": "B"},
        "reviewer": reviewer.username,
        "decided_at": payload["data"]["decided_at"],
        "round": 1,
    }
    assert datetime.fromisoformat(payload["data"]["result_version"]) == result.updated_at
    assert request.headers["webhook-id"].startswith("msg_")
    with pytest.raises(Exception, match="signature"):
        Webhook(new_secret()).verify(request.body, request.headers)
    assert Delivery.objects.get().status == Delivery.Status.DELIVERED


def test_a_rolled_back_decision_sends_nothing(
    receiver, endpoint, reviewer, django_capture_on_commit_callbacks
):
    review = claimed_review(reviewer)
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        decide(review, reviewer)
        raise RuntimeError("the request failed after the decision")
    run_queued_tasks()

    assert callbacks == [] and receiver.received == []
    assert not Event.objects.exists()


def test_the_decision_pays_an_insert_for_its_event_and_one_for_its_dispatch_in_its_transaction(
    endpoint, reviewer, other_reviewer
):
    def statements(review, user):
        with CaptureQueriesContext(connection) as queries:
            decide(review, user)
        sql = [query["sql"] for query in queries.captured_queries]
        begin = next(i for i, s in enumerate(sql) if s.startswith("SAVEPOINT"))
        end = next(i for i, s in enumerate(sql) if s.startswith("RELEASE SAVEPOINT"))
        return sql[:begin], sql[begin + 1 : end]

    before, inside = statements(claimed_review(reviewer), reviewer)

    # The dispatch task is a row of this database's queue: it commits with the event, in the
    # same commit (no second transaction after it, no task lost between the two).
    assert [s.split()[0] for s in inside] == ["UPDATE", "DELETE", "INSERT", "INSERT", "INSERT"]
    assert [s for s in inside if "webhook_events" in s] == [inside[-2]]
    assert inside[-2].startswith('INSERT INTO "webhook_events"')
    assert inside[-1].startswith('INSERT INTO "django_tasks_database_dbtaskresult"')
    assert len(before) == 1 and before[0].startswith("SELECT")  # the result's id and version


def test_a_receiver_failing_twice_gets_three_attempts_with_growing_delays(
    receiver, endpoint, django_capture_on_commit_callbacks
):
    receiver.script = [(500, 0, {}), (503, 0, {})]
    with time_machine.travel(T0, tick=False) as clock:
        with django_capture_on_commit_callbacks(execute=True):
            services.emit(EventType.REVIEW_DECIDED, {"review_id": 1})
        run_queued_tasks()
        first = DeliveryAttempt.objects.get()
        assert first.outcome == "retry" and first.status_code == 500
        clock.move_to(first.next_retry_at - timedelta(seconds=1))
        run_queued_tasks()
        assert len(receiver.received) == 1  # not a second early
        clock.move_to(first.next_retry_at)
        run_queued_tasks()
        second = DeliveryAttempt.objects.order_by("id").last()
        clock.move_to(second.next_retry_at)
        run_queued_tasks()

    attempts = list(DeliveryAttempt.objects.order_by("id"))
    assert [a.outcome for a in attempts] == ["retry", "retry", "delivered"]
    assert [a.attempt for a in attempts] == [1, 2, 3]
    waits = [a.next_retry_at - a.at for a in attempts[:2]]
    assert timedelta(0) < waits[0] < waits[1]
    assert len(receiver.received) == 3
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1  # one message
    assert Delivery.objects.get().status == Delivery.Status.DELIVERED


def test_a_400_is_not_retried(receiver, endpoint, django_capture_on_commit_callbacks):
    receiver.script = [(400, 0, {})]
    with django_capture_on_commit_callbacks(execute=True):
        services.emit(EventType.REVIEW_DECIDED, {"review_id": 1})
    run_queued_tasks()

    attempt = DeliveryAttempt.objects.get()
    assert (attempt.outcome, attempt.status_code, attempt.next_retry_at) == ("failed", 400, None)
    assert queued(deliver) == 0 and len(receiver.received) == 1
    assert Delivery.objects.get().status == Delivery.Status.FAILED


def test_a_redirect_is_not_followed(receiver, endpoint, django_capture_on_commit_callbacks):
    receiver.script = [(302, 0, {"Location": receiver.url + "/elsewhere"})]
    with django_capture_on_commit_callbacks(execute=True):
        services.emit(EventType.REVIEW_DECIDED, {"review_id": 1})
    run_queued_tasks()

    assert [r.path for r in receiver.received] == ["/hooks/media"]
    attempt = DeliveryAttempt.objects.get()
    assert attempt.outcome == "failed" and "Redirects are not followed" in attempt.error


def test_a_timeout_is_retried(receiver, endpoint, settings, django_capture_on_commit_callbacks):
    # Margins wide enough for a busy machine: the retry must not time out by accident.
    settings.WEBHOOK_READ_TIMEOUT = 1.0
    receiver.script = [(200, 3.0, {})]  # answers too late the first time
    with django_capture_on_commit_callbacks(execute=True):
        services.emit(EventType.REVIEW_DECIDED, {"review_id": 1})
    run_queued_tasks()
    first = DeliveryAttempt.objects.get()
    assert first.outcome == "retry" and "timed out" in first.error
    with time_machine.travel(first.next_retry_at, tick=False):
        run_queued_tasks()

    assert DeliveryAttempt.objects.order_by("id").last().outcome == "delivered"
    assert len(receiver.received) == 2


def test_429_waits_at_least_as_long_as_retry_after_says(
    receiver, endpoint, django_capture_on_commit_callbacks
):
    receiver.script = [(429, 0, {"Retry-After": "3600"})]
    with django_capture_on_commit_callbacks(execute=True):
        services.emit(EventType.REVIEW_DECIDED, {"review_id": 1})
    run_queued_tasks()

    attempt = DeliveryAttempt.objects.get()
    assert attempt.outcome == "retry"
    assert attempt.next_retry_at - attempt.at >= timedelta(seconds=3600)


def test_redeliver_from_the_admin_sends_the_same_message_again(
    receiver, endpoint, admin_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.emit(EventType.REVIEW_DECIDED, {"review_id": 7})
    run_queued_tasks()
    item = Delivery.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/webhooks/delivery/", {"action": "redeliver", "_selected_action": [item.pk]}
        )
    assert response.status_code == 302
    run_queued_tasks()

    assert len(receiver.received) == 2
    assert receiver.received[0].body == receiver.received[1].body
    assert receiver.received[0].headers["webhook-id"] == receiver.received[1].headers["webhook-id"]
    assert [a.manual for a in DeliveryAttempt.objects.order_by("id")] == [False, True]
    page = admin_client.get(f"/admin/webhooks/delivery/{item.pk}/change/")
    assert page.status_code == 200 and "ok" in page.text  # the receiver's answer, logged


def test_a_disabled_endpoint_gets_nothing(
    receiver, endpoint, reviewer, django_capture_on_commit_callbacks
):
    Endpoint.objects.update(active=False)
    review = claimed_review(reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        decide(review, reviewer)
    run_queued_tasks()

    assert receiver.received == [] and not Delivery.objects.exists()
    assert Event.objects.get().dispatched_at is not None


def test_an_endpoint_only_gets_the_events_it_subscribed_to(
    receiver, endpoint, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.emit(EventType.JOB_FAILED, {"job_id": 1})
    run_queued_tasks()

    assert receiver.received == []


def test_private_addresses_are_refused_without_the_allow_list(
    receiver, endpoint, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_ALLOWED_HOSTS = []
    with django_capture_on_commit_callbacks(execute=True):
        services.emit(EventType.REVIEW_DECIDED, {"review_id": 1})
    run_queued_tasks()

    assert receiver.received == []
    attempt = DeliveryAttempt.objects.get()
    assert attempt.outcome == "failed" and "WEBHOOK_ALLOWED_HOSTS" in attempt.error


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "192.168.0.9",
        "169.254.169.254",
        "::1",
        "::ffff:10.0.0.1",
        "0.0.0.0",
        "100.64.0.1",
    ],
)
def test_every_kind_of_non_public_address_is_refused(address, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = []
    with pytest.raises(delivery.Refused):
        delivery.checked_address(address, 443)


def test_a_public_address_is_allowed(settings):
    settings.WEBHOOK_ALLOWED_HOSTS = []
    assert ipaddress.ip_address(delivery.checked_address("93.184.215.14", 443)).is_global


def test_an_endpoint_failing_for_days_is_disabled_and_flagged(
    receiver, endpoint, admin_client, django_capture_on_commit_callbacks
):
    receiver.script = [(500, 0, {})] * 20
    with time_machine.travel(T0, tick=False) as clock:
        with django_capture_on_commit_callbacks(execute=True):
            services.emit(EventType.REVIEW_DECIDED, {"review_id": 1})
        run_queued_tasks()
        endpoint.refresh_from_db()
        assert endpoint.active and endpoint.failing_since == T0
        clock.move_to(T0 + timedelta(days=6))
        with django_capture_on_commit_callbacks(execute=True):
            services.emit(EventType.REVIEW_DECIDED, {"review_id": 2})
        run_queued_tasks()

    endpoint.refresh_from_db()
    assert not endpoint.active and endpoint.disabled_at is not None
    assert "failing for more than 120 hours" in endpoint.disabled_reason
    assert "Disabled" in admin_client.get("/admin/webhooks/endpoint/").text


def test_an_admin_sends_a_test_event_to_an_endpoint(
    receiver, endpoint, admin_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/webhooks/endpoint/",
            {"action": "send_test_event", "_selected_action": [endpoint.pk]},
            follow=True,
        )
    assert "Queued a test event" in response.text
    run_queued_tasks()

    payload = Webhook(endpoint.secret).verify(
        receiver.received[0].body, receiver.received[0].headers
    )
    assert payload["type"] == "webhook.test" and payload["data"]["sent_by"] == "ada"


def test_an_admin_adds_an_endpoint_with_a_secret_made_for_it(admin_client, receiver):
    response = admin_client.post(
        "/admin/webhooks/endpoint/add/",
        {"url": receiver.url, "events": ["review.decided", "job.failed"], "active": "on"},
    )
    assert response.status_code == 302
    endpoint = Endpoint.objects.get()
    assert endpoint.events == ["review.decided", "job.failed"]
    assert endpoint.secret.startswith("whsec_")
    Webhook(endpoint.secret)  # a valid Standard Webhooks secret


def test_add_webhook_registers_an_endpoint_and_refuses_bad_input():
    secret = new_secret()
    out = StringIO()
    call_command(
        "add_webhook",
        "https://pipeline.example.com/hooks",
        "--events",
        "review.decided,job.failed",
        "--secret",
        secret,
        stdout=out,
    )
    endpoint = Endpoint.objects.get()
    assert (endpoint.url, endpoint.events, endpoint.secret) == (
        "https://pipeline.example.com/hooks",
        ["review.decided", "job.failed"],
        secret,
    )
    with pytest.raises(CommandError, match="Unknown event"):
        call_command(
            "add_webhook", "https://x.example.com/", "--events", "review.maybe", "--secret", secret
        )
    with pytest.raises(CommandError, match="whsec_"):
        call_command(
            "add_webhook", "https://x.example.com/", "--events", "job.failed", "--secret", "hunter2"
        )
    with pytest.raises(CommandError, match="url"):
        call_command(
            "add_webhook", "ftp://x.example.com/", "--events", "job.failed", "--secret", secret
        )


def test_the_pipelines_changes_arrive_as_their_events(
    receiver, settings, django_capture_on_commit_callbacks
):
    settings.REVIEW_CONFIDENCE_THRESHOLD = 0.5
    Endpoint.objects.create(
        url=receiver.url,
        events=["job.completed", "job.failed", "result.created", "review.enqueued"],
    )
    _, raw = ApiToken.issue("worker", "write")
    api = Client(headers={"Authorization": f"Bearer {raw}"})
    done, broken = make_job(status="processing"), make_job(status="processing")
    with django_capture_on_commit_callbacks(execute=True):
        api.patch(f"/api/jobs/{done.pk}", {"status": "completed"}, content_type="application/json")
        api.patch(
            f"/api/jobs/{broken.pk}",
            {"status": "failed", "error_message": "decoder crashed"},
            content_type="application/json",
        )
        api.patch(f"/api/jobs/{broken.pk}", {"progress": 0.5}, content_type="application/json")
        created = api.post(
            "/api/results/",
            {"job_id": done.pk, "analysis_type": "audio", "confidence_score": 0.2},
            content_type="application/json",
        ).json()
    run_queued_tasks()

    events = {r.json["type"]: r.json["data"] for r in receiver.received}
    assert set(events) == {"job.completed", "job.failed", "result.created", "review.enqueued"}
    assert len(receiver.received) == 4  # the progress update sent nothing
    assert events["job.completed"]["job_id"] == done.pk
    assert events["job.failed"]["error_message"] == "decoder crashed"
    assert events["result.created"]["result_id"] == created["id"]
    review = HITLReview.objects.get(analysis_result_id=created["id"])
    assert events["review.enqueued"] == {
        "review_id": review.pk,
        "result_id": created["id"],
        "priority": 0,
        "round": 1,
        "reason": "low_confidence",
        "enqueued_by": None,
        "enqueued_at": events["review.enqueued"]["enqueued_at"],
    }


def test_the_sweep_sends_what_lost_its_task_and_drops_old_events(receiver, endpoint):
    with time_machine.travel(T0, tick=False) as clock:
        services.emit(EventType.REVIEW_DECIDED, {"review_id": 1})
        DBTaskResult.objects.all().delete()  # its task was lost (a queue of another backend)
        run_queued_tasks()
        assert receiver.received == []
        clock.move_to(T0 + timedelta(minutes=2))
        assert services.sweep()["redispatched"] == 1
        run_queued_tasks()
        assert len(receiver.received) == 1
        clock.move_to(T0 + timedelta(days=31))
        assert services.sweep()["purged_events"] == 1

    assert not Event.objects.exists() and not Delivery.objects.exists()


def test_a_delivery_whose_worker_died_is_requeued_by_the_sweep(receiver, endpoint):
    with time_machine.travel(T0, tick=False) as clock:
        event = Event.objects.create(type=EventType.REVIEW_DECIDED, data={}, dispatched_at=T0)
        # A worker claimed the attempt (its lease) and died before sending it.
        Delivery.objects.create(
            event=event, endpoint=endpoint, next_attempt_at=T0 + timedelta(seconds=43)
        )
        clock.move_to(T0 + timedelta(minutes=10))
        assert services.sweep()["requeued"] == 1
        run_queued_tasks()

    assert len(receiver.received) == 1
    assert Delivery.objects.get().status == Delivery.Status.DELIVERED


def test_the_delivery_log_pages_answer_with_bounded_queries(
    receiver,
    endpoint,
    admin_client,
    django_capture_on_commit_callbacks,
    django_assert_max_num_queries,
):
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(5):
            services.emit(EventType.REVIEW_DECIDED, {"review_id": n})
    run_queued_tasks()
    for url in [
        "/admin/webhooks/endpoint/",
        "/admin/webhooks/event/",
        "/admin/webhooks/delivery/",
        "/admin/webhooks/deliveryattempt/",
    ]:
        with django_assert_max_num_queries(12):
            assert admin_client.get(url).status_code == 200


def test_an_admin_who_finishes_a_job_by_hand_tells_the_pipeline(admin_client):
    """Not only the API: a job failed (or completed) in the admin's change form emits its event,
    and an edit that leaves the status alone emits none."""
    job = make_job(status="processing", progress=0.5, max_retries=3)
    url = f"/admin/mediaanalysis/analysisjob/{job.pk}/change/"
    form = {
        "session_id": job.session_id,
        "job_type": job.job_type,
        "progress": "0.5",
        "retry_count": "0",
        "max_retries": "3",
        "results-TOTAL_FORMS": "0",
        "results-INITIAL_FORMS": "0",
    }
    response = admin_client.post(url, form | {"status": "processing", "error_message": "slow"})
    assert response.status_code == 302, response.text[:3000]
    assert not Event.objects.exists()
    admin_client.post(url, form | {"status": "failed", "error_message": "stopped by hand"})
    [event] = Event.objects.all()
    assert event.type == EventType.JOB_FAILED
    assert (event.data["job_id"], event.data["error_message"]) == (job.pk, "stopped by hand")
