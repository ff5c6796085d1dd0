"""Property-based fuzzing of the whole OpenAPI schema of the API with schemathesis.

Every operation gets valid and invalid input generated from its schema, sent in-process through
the WSGI application with an admin-scope token, so that cases get past authentication (the
tokens and scopes have their own tests in test_api.py). Every answer must be documented: no 5xx,
and a documented status code, content type and body. schemathesis also checks that invalid
input is refused and valid input accepted.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from mediaanalysis.pipeline.api import api
from mediaanalysis.pipeline.models import (
    AnalysisJob,
    AnalysisResult,
    ApiToken,
    MediaFile,
    UserSession,
)
from reviews.models import Decision, HITLReview, ReviewStatus
from tests.conftest import make_file, make_job, make_result, make_session

# A fixed secret: the schema is loaded when this module is imported, before any database exists;
# the `token` fixture stores its hash.
FUZZ_TOKEN = "mad_fuzzing-token-with-admin-scope"
EXAMPLES_PER_OPERATION = 50

config = schemathesis.Config.from_dict(
    {
        "generation": {
            "max-examples": EXAMPLES_PER_OPERATION,
            "deterministic": True,
            # The API refuses NUL characters (PostgreSQL cannot store them): text fields say so
            # with a pattern, but JSON objects cannot, so none are sent. test_api.py pins the 422s.
            "allow-x00": False,
            # The token is always sent (see `auth`); schemathesis still checks, on its own, that
            # a request without it is refused.
            "with-security-parameters": False,
        },
        "auth": {"openapi": {"TokenAuth": {"bearer": FUZZ_TOKEN}}},
        # The coverage phase enumerates boundary cases without a bound of its own; the stateful
        # phase needs links the schema does not declare.
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
    }
)
schema = schemathesis.openapi.from_dict(api.get_openapi_schema(path_prefix="/api"), config=config)
schema.app = get_wsgi_application()


@pytest.fixture
def token(db):
    ApiToken.objects.create(
        name="fuzzer", scope="admin", prefix=FUZZ_TOKEN[:12], token_hash=ApiToken.hash(FUZZ_TOKEN)
    )


# The ids of the rows `some_rows` made, by the name of the path parameter or body field.
EXISTING: dict[str, list] = {}
STATUSES = ["pending", "processing", "failed"]  # jobs that may still change


@pytest.fixture
def some_rows(db):
    """Live rows of every kind, and deleted ones, for generated cases to be aimed at."""
    EXISTING.clear()
    for n in range(3):
        media = make_file(session_id="sess-fuzz")
        job = make_job(media_file=media, session_id="sess-fuzz", status=STATUSES[n])
        result = make_result(job=job, media_file=media, confidence_score=0.2)
        HITLReview.objects.filter(analysis_result=result).update(
            status=ReviewStatus.COMPLETED, approved=Decision.NEEDS_CHANGES, corrections={"a": 1}
        )
        make_session(session_id=f"sess-fuzz-{n}")
    make_file().soft_delete()
    make_job(status="failed").soft_delete()
    make_session(session_id="sess-fuzz-gone").soft_delete()
    EXISTING.update(
        file_id=list(MediaFile.all_objects.values_list("pk", flat=True)),
        media_file_id=list(MediaFile.all_objects.values_list("pk", flat=True)),
        job_id=list(AnalysisJob.all_objects.values_list("pk", flat=True)),
        result_id=list(AnalysisResult.all_objects.values_list("pk", flat=True)),
        review_id=list(HITLReview.all_objects.values_list("pk", flat=True)),
        session_id=list(UserSession.all_objects.values_list("session_id", flat=True)),
    )


def _is_valid_id(value) -> bool:
    if isinstance(value, str):
        return 1 <= len(value) <= 36 and "\x00" not in value
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 2**31 - 1


def _aim_at_rows(values, names) -> st.SearchStrategy:
    """Half the time, point the valid ids among `values` at rows that exist, so that cases get
    past the 404 to the code behind it. Invalid ids stay as generated: they test the 422s."""
    if not isinstance(values, dict):
        return st.just(values)
    aimable = [name for name in names if name in values and _is_valid_id(values[name])]
    if not aimable:
        return st.just(values)
    existing = st.fixed_dictionaries({name: st.sampled_from(EXISTING[name]) for name in aimable})
    return existing.map(lambda ids: {**values, **ids}) | st.just(values)


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    return _aim_at_rows(
        path_parameters, ["file_id", "job_id", "result_id", "review_id", "session_id"]
    )


@schema.hook
def flatmap_body(context, body):
    return _aim_at_rows(body, ["job_id", "media_file_id"])


@pytest.fixture
def wsgi_requests_keep_the_test_transaction():
    """The WSGI handler closes "old" connections around each request, which would end the
    test's transaction; Django's test client detaches the same receivers."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def token_guessing_unthrottled(settings):
    """schemathesis sends wrong tokens on purpose, many times; the throttle has its own tests
    (test_throttling.py) and would answer 429 where this suite checks for 401."""
    settings.API_TOKEN_FAILURE_LIMIT = 10**9


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_operation_answers_as_documented_and_never_with_a_server_error(
    case, token, some_rows, wsgi_requests_keep_the_test_transaction, token_guessing_unthrottled
):
    case.call_and_validate()
