"""Property-based fuzzing of every API operation with pathological values.

test_api_fuzz.py checks that the API answers as its OpenAPI schema documents (schemathesis, with
values generated from the schema). This suite sends what the schema does not describe: NUL and
its JSON escape, lone surrogates, NaN and Infinity, 20- and 5,000-digit numbers, JSON nested
10,000 deep, a 1 MB string, path signs, in every path parameter, query parameter and body field
of every operation of the schema (so a new operation or field is fuzzed without being listed).
No answer may be a 5xx; every refusal is JSON with a `detail`.
"""

import json

import pytest
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from mediaanalysis.pipeline.api import api
from mediaanalysis.pipeline.models import ApiToken
from reviews.models import HITLReview
from tests.conftest import make_file, make_job, make_result, make_session
from tests.pathological import (
    SPECIAL_TEXT,
    form_body,
    fuzz_settings,
    pathological_json,
    pathological_text,
)

EXAMPLES = 15
TOKEN = "mad_fuzzing-pathological-values-admin"
SCHEMA = api.get_openapi_schema(path_prefix="/api")
OPERATIONS = sorted(
    (method, path)
    for path, methods in SCHEMA["paths"].items()
    for method in methods
    if method in ("get", "post", "patch", "put", "delete")
)


def resolve(schema: dict) -> dict:
    while "$ref" in schema:
        schema = SCHEMA["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def parameters(method, path, where) -> list[str]:
    found = []
    for param in SCHEMA["paths"][path][method].get("parameters", []):
        if param["in"] == where:
            found.append(param["name"])
    return found


def body_fields(method, path) -> list[str]:
    body = SCHEMA["paths"][path][method].get("requestBody")
    if not body:
        return []
    schema = resolve(body["content"]["application/json"]["schema"])
    return sorted(schema.get("properties", {}))


@pytest.fixture
def rows(db):
    ApiToken.objects.create(
        name="fuzzer", scope="admin", prefix=TOKEN[:12], token_hash=ApiToken.hash(TOKEN)
    )
    session = make_session(session_id="sess-api-fuzz")
    media = make_file(session_id="sess-api-fuzz")
    job = make_job(session_id="sess-api-fuzz", media_file=media, status="processing")
    result = make_result(job=job, media_file=media)
    review = HITLReview.objects.create(analysis_result=result)
    return {
        "session_id": session.session_id,
        "file_id": media.pk,
        "job_id": job.pk,
        "result_id": result.pk,
        "review_id": review.pk,
    }


def path_value(name, rows):
    existing = st.just(rows[name]) if name in rows else st.nothing()
    odd = st.one_of(
        pathological_text.filter(lambda v: v not in ("", ".", "..")),
        st.sampled_from(["0", "-1", "2147483648", "99999999999999999999"]),
    )
    return st.one_of(existing, odd)


def quoted(value) -> str:
    from urllib.parse import quote

    return quote(str(value), safe="", errors="surrogatepass")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_no_pathological_value_breaks_an_api_operation(rows, method, path):
    client = Client(headers={"Authorization": f"Bearer {TOKEN}"})
    path_params = parameters(method, path, "path")
    query_params = parameters(method, path, "query")
    fields = body_fields(method, path)
    body = (
        st.one_of(
            st.dictionaries(st.sampled_from(fields), pathological_json, min_size=1, max_size=4).map(
                lambda d: "{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in d.items()) + "}"
            ),
            st.sampled_from(["[" * 10_000 + "]" * 10_000, "NaN", '"\\u0000"', "9" * 5000]),
        )
        if fields
        else st.just("")
    )

    @fuzz_settings(EXAMPLES)
    @given(
        path_values=st.fixed_dictionaries({p: path_value(p, rows) for p in path_params}),
        query=st.dictionaries(
            st.sampled_from(query_params or ["page"]), pathological_text, max_size=3
        ),
        payload=body,
    )
    def fuzz(path_values, query, payload):
        url = path.format(**{k: quoted(v) for k, v in path_values.items()})
        if query:
            url += "?" + form_body(query)
        response = client.generic(
            method.upper(), url, payload.encode("utf-8", "surrogatepass"), "application/json"
        )
        assert response.status_code < 500, (
            f"{method} {url} {payload[:200]!r}: {response.content[:500]}"
        )
        if response.status_code >= 400 and response.status_code != 405:
            assert "detail" in response.json(), response.content[:500]

    fuzz()


def test_every_operation_of_the_schema_is_fuzzed():
    assert len(OPERATIONS) >= 20
    assert ("patch", "/api/jobs/{job_id}") in OPERATIONS
    assert body_fields("post", "/api/results/") and "\x00" in SPECIAL_TEXT
