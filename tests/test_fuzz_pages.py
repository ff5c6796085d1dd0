"""Property-based fuzzing of every page: its query string, and every form that posts to it.

The surfaces come from the URLconf (every named page outside the admin and the API) and from the
pages themselves (the fields of every form they render), together with every FilterSet's fields,
so a new page, filter or form field is fuzzed without being listed here. Values are the
pathological ones of tests/pathological.py. No answer may be a 5xx, and text typed into a text
box or text area is shown back on the page that answers.

Run on PostgreSQL too (`make test`), which refuses far more than SQLite; committed rows
(`transaction=True`), so that each request runs in autocommit as in production.
"""

from urllib.parse import quote, urlencode

import django_filters
import pytest
from django.urls import NoReverseMatch, Resolver404, get_resolver, resolve, reverse
from hypothesis import given
from hypothesis import strategies as st

from reviews import services
from reviews.models import HITLReview
from tests.conftest import client_for, make_file, make_job, make_result, make_session
from tests.pathological import (
    Forms,
    form_body,
    fuzz_settings,
    pathological_text,
    received,
    shown_back,
)

EXAMPLES = 12
TEXT_KINDS = {"text", "search", "textarea"}
# Parameters every list reads besides its filters.
COMMON = ["page", "per_page", "sort", "q", "next", "window", "refresh", "decided"]


def page_names() -> list[str]:
    """Every named URL of the project's pages (the admin and the API have suites of their own)."""
    return sorted(
        name
        for name in get_resolver().reverse_dict
        if isinstance(name, str) and not name.startswith("admin")
    )


def filter_fields() -> set[str]:
    """Every field of every FilterSet of the project."""
    seen, todo = set(), [django_filters.FilterSet]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub.__module__.split(".")[0] in ("mediaanalysis", "reviews", "pages", "dashboard"):
                seen |= set(sub.base_filters)
    return seen


@pytest.fixture
def site(db, admin_user):
    """A little of everything, and the admin (who may do everything) signed in, holding a claim."""
    session = make_session(session_id="sess-fuzz")
    media = make_file(session_id="sess-fuzz", duration_seconds=12.0)
    job = make_job(session_id="sess-fuzz", media_file=media, status="completed", progress=1.0)
    result = make_result(job=job, media_file=media, result_data={"language": "en"})
    review = HITLReview.objects.create(analysis_result=result)
    services.claim_next(admin_user)
    ids = {
        "job": job.pk,
        "result": result.pk,
        "file": media.pk,
        "review": review.pk,
        "session": session.session_id,
    }
    return {"client": client_for(admin_user), "ids": ids}


def path_of(name: str, ids: dict, value=None) -> str:
    """The page's path with its parameters: the rows of `site`, or `value` for each."""
    possibilities = get_resolver().reverse_dict.getlist(name)[0][0]
    template, params = possibilities[0]
    kind = name.split("-")[0]
    values = {p: ids.get(kind, ids["review"]) if value is None else value for p in params}
    try:
        return reverse(name, kwargs=values)
    except NoReverseMatch:  # not a number where one goes: the resolver refuses it (404)
        quoted = {p: quote(str(v), safe="", errors="surrogatepass") for p, v in values.items()}
        return "/" + template % quoted


def read(response):
    if hasattr(response, "streaming_content"):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def answered(client, method, url, data, htmx):
    headers = {"HX-Request": "true"} if htmx else {}
    if method == "get":
        query = form_body(data)
        return client.get(f"{url}?{query}" if query else url, headers=headers)
    return client.post(
        url, form_body(data), content_type="application/x-www-form-urlencoded", headers=headers
    )


FORMS: dict[str, list[dict]] = {}  # by page name: the same for every test's rows


def forms_on(client, name, ids) -> list[dict]:
    if name not in FORMS:
        response = client.get(path_of(name, ids))
        html = response.status_code == 200 and "html" in response.get("Content-Type", "")
        FORMS[name] = Forms.of(read(response)) if html else []
    return FORMS[name]


def target_of(action: str | None, page: str) -> str | None:
    if not action:
        return page
    try:
        return resolve(action.split("?")[0]).url_name
    except Resolver404:
        return None


def fields_for(client, name, ids, method) -> dict[str, str]:
    """The fields a page's forms send to it (by kind), every filter, and the common ones."""
    fields = dict.fromkeys([*filter_fields(), *COMMON], "param")
    for page in page_names():
        for form in forms_on(client, page, ids):
            if form["method"] == method and target_of(form["action"], page) == name:
                fields.update(form["fields"])
    fields.pop("csrfmiddlewaretoken", None)
    return fields


def check(response, sent: dict, kinds: dict, url: str, htmx: bool):
    body = read(response)
    assert response.status_code < 500, f"{url} answered {response.status_code}: {body[:2000]}"
    # A whole page shows the form back (an htmx fragment leaves the form in the browser as is).
    whole_page = not htmx and "html" in response.get("Content-Type", "")
    if response.status_code in (200, 404, 409, 422) and whole_page:
        for field, value in sent.items():
            if kinds.get(field) in TEXT_KINDS and received(value).strip() and len(value) < 200_000:
                assert shown_back(value, body), f"{url}: {field}={value[:80]!r} was not shown back"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", page_names())
@pytest.mark.parametrize("method", ["get", "post"])
def test_no_query_string_or_form_breaks_a_page_and_typed_text_is_shown_back(site, name, method):
    client, ids = site["client"], site["ids"]
    url = path_of(name, ids)
    if client.generic(method.upper(), url).status_code == 405:
        assert client.generic("GET" if method == "post" else "POST", url).status_code != 405
        return  # the page answers the other method only (its own parametrization fuzzes it)
    kinds = fields_for(client, name, ids, method)

    @fuzz_settings(EXAMPLES)
    @given(
        data=st.dictionaries(st.sampled_from(sorted(kinds)), pathological_text, max_size=4),
        htmx=st.booleans(),
    )
    def fuzz(data, htmx):
        check(answered(client, method, url, data, htmx), data, kinds, url, htmx)

    fuzz()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "name", [n for n in page_names() if get_resolver().reverse_dict.getlist(n)[0][0][0][1]]
)
def test_no_path_parameter_breaks_a_page(site, name):
    client = site["client"]

    @fuzz_settings(EXAMPLES)
    @given(value=st.one_of(pathological_text, st.sampled_from(["0", "99999999999999999999"])))
    def fuzz(value):
        url = path_of(name, site["ids"], value)
        for method in ("get", "post"):
            response = answered(client, method, url, {}, htmx=False)
            assert response.status_code < 500, f"{method} {url}: {response.status_code}"
            read(response)

    fuzz()


def test_the_surfaces_are_found_from_the_urlconf_and_the_filtersets():
    """A guard on the enumeration: if it finds nothing, the fuzzing above tests nothing."""
    names = page_names()
    assert {"job-list", "review-decide", "session-detail", "dashboard"} <= set(names)
    assert {"status", "confidence_min", "review_state", "min_priority"} <= filter_fields()
    assert urlencode({"a": "\ud800"}, errors="surrogatepass") == "a=%ED%A0%80"
