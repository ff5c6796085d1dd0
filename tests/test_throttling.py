"""Logins are throttled, and so is the API's token check (docs/design.md, Bad input and faults)."""

from datetime import timedelta

import pytest
import time_machine
from axes.models import AccessAttempt
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from mediaanalysis.pipeline.models import ApiToken

RIGHT = "pw-for-tests-1"


def sign_in(client, username, password):
    return client.post("/accounts/login/", {"username": username, "password": password})


@pytest.mark.django_db
def test_five_wrong_passwords_lock_the_username_from_that_address_with_a_clear_message(reviewer):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = sign_in(client, "rita", "wrong")
        assert response.status_code == 200  # the login form again, with its error
    locked = sign_in(client, "rita", "wrong")
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.text
    assert "ask an admin to unlock you" in locked.text
    # Even the right password waits for the cool-off now.
    assert sign_in(client, "rita", RIGHT).status_code == 429
    # Another username from the same address is not locked.
    assert sign_in(client, "omar-not-here", "wrong").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_a_username_longer_than_any_is_a_failed_login_counted_under_its_first_255(path):
    """Django's login forms check no length before they authenticate: django-axes wrote the
    300 characters into its 255-character column, a 500 on PostgreSQL (found by a fuzz run
    outside the suite)."""
    typed = "é" * 200 + "a" * 100
    for attempt in range(1, 3):
        response = Client().post(path, {"username": typed, "password": "wrong"})
        assert response.status_code == 200
        assert "correct username and password" in response.text
        (counted,) = AccessAttempt.objects.values_list("username", "failures_since_start")
        assert counted == (typed[:255], attempt)


@pytest.mark.django_db
def test_the_lock_ends_after_the_cool_off(reviewer):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "rita", "wrong")
    assert sign_in(client, "rita", RIGHT).status_code == 429
    with time_machine.travel(timezone.now() + settings.AXES_COOLOFF_TIME + timedelta(seconds=1)):
        response = sign_in(client, "rita", RIGHT)
    assert response.status_code == 302


@pytest.mark.django_db
def test_an_admin_unlocks_a_locked_out_user_in_the_admin(reviewer, admin_client):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "rita", "wrong")
    attempt = AccessAttempt.objects.get(username="rita")
    listing = admin_client.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200 and "rita" in listing.text
    admin_client.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert sign_in(client, "rita", RIGHT).status_code == 302


@pytest.mark.django_db
def test_the_axes_command_unlocks_a_username_too(reviewer):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "rita", "wrong")
    call_command("axes_reset_username", "rita")
    assert sign_in(client, "rita", RIGHT).status_code == 302


@pytest.fixture
def token(db):
    _, raw = ApiToken.issue("worker", "read")
    return raw


def api_get(token, address="10.0.0.7"):
    return Client(REMOTE_ADDR=address).get(
        "/api/jobs/", headers={"Authorization": f"Bearer {token}"}
    )


def test_guessing_tokens_gets_429_with_retry_after_and_then_even_a_right_token_waits(token):
    for _ in range(settings.API_TOKEN_FAILURE_LIMIT):
        assert api_get("mad_guess").status_code == 401
    refused = api_get("mad_guess")
    assert refused.status_code == 429
    assert refused["Retry-After"] == str(settings.API_TOKEN_COOLOFF)
    assert "Too many wrong tokens" in refused.json()["detail"]
    assert api_get(token).status_code == 429
    assert api_get(token, address="10.0.0.8").status_code == 200  # another worker is not held up
    # The schema's route checks tokens through the same counter.
    schema = Client(REMOTE_ADDR="10.0.0.7").get(
        "/api/openapi.json", headers={"Authorization": f"Bearer {token}"}
    )
    assert schema.status_code == 429


def test_the_token_throttle_ends_after_its_cool_off(token):
    for _ in range(settings.API_TOKEN_FAILURE_LIMIT):
        api_get("mad_guess")
    assert api_get(token).status_code == 429
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.API_TOKEN_COOLOFF + 1)):
        assert api_get(token).status_code == 200


def test_right_tokens_never_count_towards_the_throttle(token):
    for _ in range(settings.API_TOKEN_FAILURE_LIMIT + 5):
        assert api_get(token).status_code == 200
