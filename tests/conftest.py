import itertools
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.utils import timezone

from mediaanalysis.pipeline.models import AnalysisJob, AnalysisResult, MediaFile, UserSession
from mediaanalysis.roles import ADMINS, MANAGERS, REVIEWERS

_seq = itertools.count(1)


def pytest_collection_modifyitems(config, items):
    """Tests marked `postgres` are deselected (not skipped) on SQLite: they run in the
    PostgreSQL pass of `make test`, where a missing server fails the run."""
    if connection.vendor == "postgresql":
        return
    deselected = [item for item in items if item.get_closest_marker("postgres")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker("postgres")]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Real hashing costs about 0.3 s per user; the tests are not about password strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    from mediaanalysis.pipeline.signed_media import forget
    from reviews.quality import forget_rules

    cache.clear()
    forget()  # the rows the signed media URLs keep for a few seconds
    forget_rules()  # the routing rules each process keeps for a few seconds
    yield
    cache.clear()
    forget()


def count_calls(monkeypatch, owner, name) -> list:
    """Wrap `owner.name` for the test; the list of the first argument of each call to it."""
    calls = []
    real = getattr(owner, name)

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, counting)
    return calls


def make_user(django_user_model, username, group=None, **extra):
    user = django_user_model.objects.create_user(
        username=username, password="pw-for-tests-1", **extra
    )
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def reviewer(django_user_model):
    return make_user(django_user_model, "rita", REVIEWERS)


@pytest.fixture
def other_reviewer(django_user_model):
    return make_user(django_user_model, "omar", REVIEWERS)


@pytest.fixture
def manager(django_user_model):
    return make_user(django_user_model, "maya", MANAGERS)


@pytest.fixture
def admin_user(django_user_model):
    return make_user(django_user_model, "ada", ADMINS, is_staff=True)


@pytest.fixture
def nobody(django_user_model):
    return make_user(django_user_model, "nora")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def reviewer_client(reviewer):
    return client_for(reviewer)


@pytest.fixture
def manager_client(manager):
    return client_for(manager)


@pytest.fixture
def admin_client(admin_user):
    return client_for(admin_user)


# Factories: plain functions with sensible defaults, so tests name only what matters to them.


def make_session(**fields) -> UserSession:
    fields.setdefault("session_id", f"sess-{next(_seq):06d}")
    return UserSession.objects.create(**fields)


def make_file(**fields) -> MediaFile:
    fields.setdefault("session_id", "sess-files")
    fields.setdefault("original_filename", f"clip-{next(_seq)}.mp4")
    fields.setdefault("media_type", "video")
    return MediaFile.objects.create(**fields)


def make_job(**fields) -> AnalysisJob:
    fields.setdefault("session_id", "sess-jobs")
    fields.setdefault("job_type", "transcription")
    return AnalysisJob.objects.create(**fields)


def make_result(**fields) -> AnalysisResult:
    if "job" not in fields:
        fields["job"] = make_job(status="completed", progress=1.0)
    fields.setdefault("analysis_type", "audio")
    fields.setdefault("model_used", "whisper-large-v3")
    fields.setdefault("confidence_score", 0.9)
    return AnalysisResult.objects.create(**fields)


def ago(**kwargs):
    return timezone.now() - timedelta(**kwargs)
