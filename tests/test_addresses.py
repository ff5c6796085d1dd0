"""`{% url %}` remembers a fixed address once per process, a row's address around its key, and
`{% static %}` a file's address (docs/performance.md, "The floor, again" and "Addresses of
rows"): each answers what Django's own would."""

import pytest
from django import urls
from django.template import Context, Engine, Template, engines
from django.template.base import Template as BaseTemplate
from django.test import override_settings
from django.urls import path, reverse, set_script_prefix

from mediaanalysis import http
from mediaanalysis.staticfiles import StaticFilesStorage
from mediaanalysis.templatetags import addresses
from tests.conftest import count_calls

urlpatterns = [
    path("elsewhere/", lambda request: None, name="result-list"),
    path("elsewhere/<int:pk>/", lambda request: None, name="result-detail"),
]


def render(source, **context):
    return engines["django"].from_string(source).render(context)


def count_reverses(monkeypatch):
    return count_calls(monkeypatch, urls, "reverse")  # URLNode imports it when it renders


def test_the_url_tag_is_the_projects_in_every_template():
    template = engines["django"].from_string("{% url 'result-list' %}")
    assert isinstance(template.template.nodelist[0], addresses.URLNode)


@pytest.mark.parametrize(
    "source",
    [
        "{% url 'result-list' %}",
        "{% url 'admin:index' %}",
        '{% url "review-queue" %}',
        "{% url name %}",
        "{% url 'result-detail' 7 %}",
        "{% url 'result-detail' pk=7 %}",
        "{% url 'result-detail' pk %}",
        "{% url 'result-detail' zero %}",
        "{% url 'result-detail' text %}",
        "{% url 'session-detail' session %}",
        "{% url 'result-list' as there %}[{{ there }}]",
    ],
)
def test_every_form_of_the_tag_answers_what_djangos_answers(source):
    django = Engine(libraries={}, builtins=["django.template.defaulttags"])
    context = {"name": "job-list", "pk": 9, "zero": 0, "text": "12", "session": "a b/<c>&d"}
    expected = BaseTemplate(source, engine=django).render(Context(context))
    assert render(source, **context) == expected
    assert render(source, **context) == expected  # remembered, the same


def test_a_fixed_address_is_reversed_once(monkeypatch):
    calls = count_reverses(monkeypatch)
    template = engines["django"].from_string("{% url 'result-list' %}")
    for _ in range(3):
        assert template.render({}) == reverse("result-list")
    assert calls == ["result-list"]


def test_a_rows_address_is_reversed_once_and_its_key_put_in(monkeypatch):
    """A list's hundred row links cost one reverse() per name, not one each."""
    calls = count_calls(monkeypatch, http, "reverse")
    monkeypatch.setattr(http, "_around_key", {})
    template = engines["django"].from_string("{% url 'result-detail' pk %}")
    pks = [1, 22, 333, 2**40]
    assert [template.render({"pk": pk}) for pk in pks] == [f"/results/{pk}/" for pk in pks]
    assert calls == ["result-detail"]
    # What is not a key goes to reverse() as before (a negative int through pk_address), and
    # fails as it did.
    assert template.render({"pk": "7"}) == "/results/7/"
    for not_a_key in (-1, True, None):
        with pytest.raises(urls.NoReverseMatch):
            template.render({"pk": not_a_key})
    assert calls == ["result-detail", "result-detail"]


def test_an_address_without_a_place_for_a_number_is_reversed_every_time(monkeypatch):
    calls = count_calls(monkeypatch, http, "reverse")
    monkeypatch.setattr(http, "_around_key", {})
    with pytest.raises(urls.NoReverseMatch):
        http.pk_address("result-list", 3)  # takes no key: reverse() says so, as it would
    assert calls == ["result-list", "result-list"]


def test_a_variable_name_is_reversed_every_time(monkeypatch):
    calls = count_reverses(monkeypatch)
    template = engines["django"].from_string("{% url name %}")
    assert [template.render({"name": name}) for name in ("job-list", "result-list")] == [
        reverse("job-list"),
        reverse("result-list"),
    ]
    assert calls == ["job-list", "result-list"]


@pytest.mark.parametrize(
    ("source", "path"), [("{% url 'result-list' %}", ""), ("{% url 'result-detail' 5 %}", "5/")]
)
def test_a_remembered_address_follows_the_script_prefix_and_the_urlconf(monkeypatch, source, path):
    monkeypatch.setattr(http, "_around_key", {})
    template = engines["django"].from_string(source)
    assert template.render({}) == f"/results/{path}"
    set_script_prefix("/dashboard/")
    try:
        assert template.render({}) == f"/dashboard/results/{path}"
    finally:
        set_script_prefix("/")
    with override_settings(ROOT_URLCONF=__name__):
        assert template.render({}) == f"/elsewhere/{path}"
    assert template.render({}) == f"/results/{path}"


def test_a_missing_name_still_fails_as_djangos_does():
    with pytest.raises(Exception, match="Reverse for 'no-such-page' not found"):
        render("{% url 'no-such-page' %}")


def test_a_static_address_is_worked_out_once_and_is_the_manifests(tmp_path, monkeypatch):
    storage = StaticFilesStorage(location=tmp_path, base_url="/static/")
    storage.hashed_files = {"app.css": "app.0123abcd.css"}
    storage.manifest_strict = True
    monkeypatch.setattr(storage, "load_manifest", lambda: ({}, ""))
    lookups = count_calls(monkeypatch, storage, "stored_name")
    with override_settings(DEBUG=False):
        assert [storage.url("app.css") for _ in range(3)] == ["/static/app.0123abcd.css"] * 3
        assert lookups == ["app.css"]
        assert storage.url("app.css", force=True) == "/static/app.0123abcd.css"
        assert lookups == ["app.css", "app.css"]


def test_templates_compile_with_the_builtin():
    # The builtin is loaded for every template, strings included.
    assert Template("{% url 'result-list' %}").render(Context()) == reverse("result-list")
