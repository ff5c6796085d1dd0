"""Property-based fuzzing of the admin: every registered model's changelist (its filters, search,
ordering and paging parameters) and its add and change forms, with the pathological values of
tests/pathological.py. The models come from the admin's registry, their filter parameters from
the changelist's own links and the model's fields, and the form fields from the rendered forms:
a new model, filter or field is fuzzed without being listed here. No answer may be a 5xx.
"""

from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.contrib import admin
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from mediaanalysis.pipeline.models import ApiToken
from reviews import services
from reviews.models import HITLReview
from tests.conftest import client_for, make_file, make_job, make_result, make_session
from tests.pathological import Forms, form_body, fuzz_settings, pathological_text

EXAMPLES = 10
CHANGELIST_PARAMS = ["q", "o", "p", "all", "e", "_facets", "id__gt", "id__exact", "pk__in"]


def registered() -> list[str]:
    return sorted(f"{m._meta.app_label}.{m._meta.model_name}" for m in admin.site._registry)


def model_of(label: str):
    return next(m for m in admin.site._registry if m._meta.label_lower == label)


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.params = set()

    def handle_starttag(self, tag, attrs):
        href = dict(attrs).get("href") or ""
        if tag == "a" and href.startswith("?"):
            self.params |= {key for key, _ in parse_qsl(urlsplit(href).query)}


def changelist_params(client, model) -> list[str]:
    """The changelist's own filter links' parameters, and lookups on each of the model's fields."""
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    links = Links()
    links.feed(client.get(url).content.decode())
    fields = [f.name for f in model._meta.concrete_fields]
    lookups = [f"{name}{suffix}" for name in fields for suffix in ("", "__exact", "__gt", "__in")]
    return sorted({*CHANGELIST_PARAMS, *links.params, *lookups})


@pytest.fixture
def rows(db, admin_user):
    """A row of every kind (so that each change form has something to change)."""
    session = make_session(session_id="sess-admin")
    media = make_file(session_id="sess-admin")
    job = make_job(session_id="sess-admin", media_file=media, parameters={"lang": "en"})
    result = make_result(job=job, media_file=media, result_data={"a": 1})
    HITLReview.objects.create(analysis_result=result)
    review = services.claim_next(admin_user)
    services.heartbeat(review.pk, admin_user, "notes", "{}")
    ApiToken.issue("fuzz-worker", "write")
    return {"session": session}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("label", registered())
def test_no_changelist_parameter_breaks_an_admin_list(rows, admin_user, label):
    client, model = client_for(admin_user), model_of(label)
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    params = changelist_params(client, model)

    @fuzz_settings(EXAMPLES)
    @given(data=st.dictionaries(st.sampled_from(params), pathological_text, min_size=1, max_size=3))
    def fuzz(data):
        response = client.get(f"{url}?{form_body(data)}", follow=True)
        assert response.status_code < 500, f"{url} {data!r}: {response.status_code}"

    fuzz()


@pytest.mark.parametrize("label", registered())
@pytest.mark.parametrize("lookup", ["id__exact", "id__gte", "id__lt", "pk__in"])
def test_a_key_past_its_columns_range_is_an_empty_admin_list(rows, admin_user, label, lookup):
    """Django proves such a filter matches nothing before it writes any SQL (EmptyResultSet);
    the paginator's estimate asked for that SQL and answered 500, on PostgreSQL (found by a
    fuzz run outside the suite)."""
    client, model = client_for(admin_user), model_of(label)
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    response = client.get(url, {lookup: "9" * 23}, follow=True)
    assert response.status_code == 200


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("label", registered())
@pytest.mark.parametrize("view", ["add", "change"])
def test_no_form_input_breaks_an_admin_add_or_change_form(rows, admin_user, label, view):
    client, model = client_for(admin_user), model_of(label)
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}"
    if view == "change":
        obj = (
            model._default_manager.order_by("pk").first()
            or getattr(model, "all_objects", model._default_manager).order_by("pk").first()
        )
        if obj is None:
            return  # none of these yet (failed logins, webhook deliveries): the add form is fuzzed
        url = reverse(name, args=[obj.pk])
    else:
        url = reverse(name)
    page = client.get(url)
    assert page.status_code < 500
    forms = [f for f in Forms.of(page.content.decode()) if f["method"] == "post"]
    fields = sorted({field for form in forms for field in form["fields"]} - {"csrfmiddlewaretoken"})
    if not fields:
        return  # read-only here (events are the workflow's): the page itself answered above

    @fuzz_settings(EXAMPLES)
    @given(data=st.dictionaries(st.sampled_from(fields), pathological_text, min_size=1, max_size=4))
    def fuzz(data):
        response = client.post(
            url, form_body(data), content_type="application/x-www-form-urlencoded"
        )
        assert response.status_code < 500, f"{url} {data!r}: {response.status_code}"

    fuzz()


def test_the_admin_registry_is_what_is_fuzzed():
    assert {"mediaanalysis.analysisjob", "reviews.hitlreview", "auth.user"} <= set(registered())
