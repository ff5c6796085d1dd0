"""Full-text search (docs/search.md): `q` on the results list, the review queue, the API and the
export, on SQLite (FTS5) and PostgreSQL (tsvector) alike.

Every test here runs in both passes of `make test`; what differs by engine is the engine's own
business (how a snippet is cut), never what matches.
"""

import csv
import html
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mediaanalysis.pipeline import search
from mediaanalysis.pipeline.models import AnalysisResult, ApiToken
from mediaanalysis.pipeline.search import InvalidSearch, WebSearch, parse
from mediaanalysis.settings import database_config
from reviews.models import HITLReview
from tests.conftest import make_job, make_result

pytestmark = pytest.mark.django_db

SEARCH_QUERIES = 7  # the results list's own (test_pages.py), and one for the page's hits


def found(client, q, **params) -> list[int]:
    """The ids the results list shows for search `q`, in order."""
    response = client.get(reverse("result-list"), {"q": q, **params})
    assert response.status_code == 200
    return [row.pk for row in response.context["rows"]]


def alert(response) -> str:
    text = response.text
    start = text.find('role="alert"')
    return "" if start == -1 else text[start : text.find("</div>", start)]


def hit_of(response, result) -> search.Hit | None:
    return next(r.search_hit for r in response.context["rows"] if r.pk == result.pk)


def csv_ids(response) -> list[int]:
    body = b"".join(response.streaming_content).decode()
    return [int(row["id"]) for row in csv.DictReader(io.StringIO(body))]


@pytest.fixture
def calls():
    """Four results of a call centre's day, one per kind of text that can match."""
    return {
        "refund": make_result(
            summary="A customer wants a refund",
            transcript="Speaker 1: I bought the blender last week. Speaker 2: I can refund the order.",
        ),
        "invoice": make_result(
            analysis_type="document",
            model_used="tesseract-5",
            summary="An invoice from ACME",
            extracted_text="ACME Corp\fInvoice 42 for the blender\fTotal due in 30 days",
        ),
        "both": make_result(
            summary="Refund of an invoice",
            transcript="The invoice was paid twice, so we refund one payment.",
        ),
        "segmented": make_result(
            transcript="Hello there. Sure, the delivery arrives on Monday.",
            segments=[
                {"start": 0, "end": 4.2, "text": "Hello there."},
                {"start": 12.5, "end": 19, "text": "Sure, the delivery arrives on Monday."},
            ],
        ),
    }


# The grammar


def test_words_phrases_exclusions_and_or_are_read_the_web_search_way():
    query = parse('refund OR return "next week" -spam -"do not call"')
    assert query.groups == (("refund", "return"), ("next week",))
    assert query.excluded == ("spam", "do not call")
    assert query.phrases == ["refund", "return", "next week"]


def test_engine_syntax_in_a_query_is_only_ever_text():
    query = parse("NEAR(a b) col:x ^start a* (\"x\" AND y) 'q' \\ OR")
    must, must_not = query.fts5()
    # Every piece is one FTS5 string: quotes doubled, nothing left outside them but operators.
    assert re.fullmatch(r'(\((("([^"]|"")*")( OR )?)+\)( AND )?)+', must)
    assert must_not == ""
    sql, params = query.tsquery()
    assert "%s" in sql and "col:x" not in sql and "col:x" in params


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "at least one word"),
        ('- OR "', "at least one word"),
        ('"', "at least one word"),
        ("!!! ??? ---", "at least one word"),
        ("a\x00b", "NUL"),
        ("\ud800refund", "surrogates"),
        ("x" * 501, "at most 500 characters"),
        (" ".join(f"w{n}" for n in range(17)), "at most 16 words"),
    ],
)
def test_a_query_that_cannot_be_searched_for_says_why(text, message):
    with pytest.raises(InvalidSearch, match=message):
        parse(text)


def test_an_unbalanced_quote_runs_to_the_end_of_the_query():
    assert parse('refund "next week').groups == (("refund",), ("next week",))


# What matches, on either engine


def test_a_word_matches_in_any_text_without_regard_to_case(manager_client, calls):
    assert set(found(manager_client, "REFUND")) == {calls["refund"].pk, calls["both"].pk}
    assert found(manager_client, "acme") == [calls["invoice"].pk]  # extracted text
    assert found(manager_client, "monday") == [calls["segmented"].pk]


def test_a_phrase_matches_its_words_together_and_in_order(manager_client, calls):
    assert found(manager_client, '"refund the order"') == [calls["refund"].pk]
    assert found(manager_client, '"the order refund"') == []
    assert found(manager_client, '"invoice was paid"') == [calls["both"].pk]


def test_an_excluded_word_or_phrase_removes_the_results_that_hold_it(manager_client, calls):
    assert found(manager_client, "refund -invoice") == [calls["refund"].pk]
    assert found(manager_client, 'refund -"paid twice"') == [calls["refund"].pk]


def test_exclusions_alone_list_everything_else(manager_client, calls):
    assert set(found(manager_client, "-refund -acme")) == {calls["segmented"].pk}


def test_or_matches_either_and_binds_tighter_than_the_other_words(manager_client, calls):
    assert set(found(manager_client, "acme OR monday")) == {
        calls["invoice"].pk,
        calls["segmented"].pk,
    }
    # (refund OR acme) AND invoice: not "refund OR (acme AND invoice)".
    assert set(found(manager_client, "refund OR acme invoice")) == {
        calls["invoice"].pk,
        calls["both"].pk,
    }


def test_a_result_is_found_by_its_new_words_once_edited_and_not_once_deleted(manager_client):
    result = make_result(transcript="the parcel was lost")
    assert found(manager_client, "parcel") == [result.pk]
    result.transcript = "the package was found"
    result.save()
    assert found(manager_client, "parcel") == []
    assert found(manager_client, "package") == [result.pk]
    AnalysisResult.objects.filter(pk=result.pk).soft_delete()
    assert found(manager_client, "package") == []
    AnalysisResult.all_objects.filter(pk=result.pk).delete()  # a purge: the index forgets it
    assert not AnalysisResult.all_objects.search("package").exists()


def test_a_huge_transcript_of_distinct_words_is_stored_and_found():
    # PostgreSQL refuses a tsvector over 1 MB; the indexed texts are cut well below it.
    words = [f"w{n:x}z" for n in range(200_000)]
    result = make_result(transcript=" ".join(words), summary="big one")
    assert list(AnalysisResult.objects.search("w0z big").values_list("pk", flat=True)) == [
        result.pk
    ]


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    text=st.lists(
        st.one_of(
            st.sampled_from(['"', "-", " ", "OR", "AND", "NOT", "*", ":", "(", ")", "^", "'"]),
            st.sampled_from(["refund", "invoice", "the", "Monday", "ACME"]),
            st.text(max_size=4),
        ),
        max_size=20,
    ).map("".join)
)
def test_any_query_either_searches_or_is_refused_with_a_reason(calls, text):
    try:
        query = parse(text)
    except InvalidSearch as exc:
        assert str(exc)
        return
    rows = list(AnalysisResult.objects.search(query))
    search.find_hits(rows, query, using=connection.alias)
    list(AnalysisResult.objects.search(query).by_relevance(query))


# The results list


def test_a_match_in_a_segment_links_to_its_second_on_the_result_and_review_pages(
    manager_client, calls
):
    segmented = calls["segmented"]
    review = HITLReview.objects.create(analysis_result=segmented)
    response = manager_client.get(reverse("result-list"), {"q": "delivery"})
    hit = hit_of(response, segmented)
    assert (hit.field, hit.seconds) == ("segment", 12.5)
    assert "<mark>delivery</mark>" in hit.html
    assert f'href="/results/{segmented.pk}/?t=12.5"' in response.text
    assert f'href="/reviews/{review.pk}/?t=12.5"' in response.text
    assert "play at 0:12" in response.text


def test_a_match_on_a_page_of_a_document_links_to_that_page(manager_client, calls):
    invoice = calls["invoice"]
    response = manager_client.get(reverse("result-list"), {"q": '"invoice 42"'})
    hit = hit_of(response, invoice)
    assert (hit.field, hit.page) == ("extracted_text", 2)
    assert f'href="/results/{invoice.pk}/?page=2"' in response.text
    paged = make_result(
        analysis_type="document",
        segments=[{"page": 1, "text": "cover"}, {"page": 4, "text": "signed by the notary"}],
    )
    hit = hit_of(manager_client.get(reverse("result-list"), {"q": "notary"}), paged)
    assert (hit.field, hit.page, hit.deep_link) == ("segment", 4, "page=4")


def test_the_snippet_shows_where_it_matched(manager_client, calls):
    response = manager_client.get(reverse("result-list"), {"q": "blender"})
    hits = {row.pk: row.search_hit for row in response.context["rows"]}
    assert hits[calls["refund"].pk].field == "transcript"
    assert hits[calls["invoice"].pk].field == "extracted_text"
    assert "<mark>blender</mark>" in hits[calls["refund"].pk].html
    summary = hit_of(manager_client.get(reverse("result-list"), {"q": "acme"}), calls["invoice"])
    assert summary.field == "summary"  # the summary comes before the extracted text


def test_a_snippet_shows_markup_in_the_text_as_text(manager_client):
    make_result(transcript='refund <script>alert("x")</script> & <img src=x onerror=alert(1)>')
    response = manager_client.get(reverse("result-list"), {"q": "refund"})
    assert "<mark>refund</mark>" in response.text
    assert "<script>alert" not in response.text
    assert "<img src=x" not in response.text


def test_highlighting_escapes_everything_but_its_own_markers():
    marked = f"{search.START}a&b{search.STOP} <script>{search.START}x"
    assert str(search.highlight_html(marked)) == "<mark>a&amp;b</mark> &lt;script&gt;x"


def test_search_combines_with_the_other_filters(manager_client, calls):
    assert found(manager_client, "invoice", model="tesseract-5") == [calls["invoice"].pk]
    assert found(manager_client, "invoice", analysis_type="audio") == [calls["both"].pk]


def test_a_search_sorts_by_relevance_unless_told_to_sort_by_date(manager_client):
    in_transcript = make_result(transcript="we talked about the warranty")
    in_summary = make_result(summary="warranty claim", transcript="a long talk")
    assert found(manager_client, "warranty") == [in_summary.pk, in_transcript.pk]
    assert found(manager_client, "warranty", sort="relevance") == [in_summary.pk, in_transcript.pk]
    assert found(manager_client, "warranty", sort="created") == [in_transcript.pk, in_summary.pk]
    assert found(manager_client, "warranty", sort="-created") == [in_summary.pk, in_transcript.pk]
    response = manager_client.get(reverse("result-list"), {"q": "warranty"})
    assert "Best matches first." in response.text


def test_more_matches_than_can_be_ranked_are_listed_newest_first(manager_client, monkeypatch):
    monkeypatch.setattr(search, "RANK_LIMIT", 2)
    older = make_result(summary="warranty")
    newer = [make_result(transcript="warranty") for _ in range(2)]
    response = manager_client.get(reverse("result-list"), {"q": "warranty"})
    assert [r.pk for r in response.context["rows"]] == [newer[1].pk, newer[0].pk, older.pk]
    assert "More than 2 matches, so newest first" in response.text


def test_the_search_stays_in_the_url_of_every_link(manager_client, calls):
    response = manager_client.get(reverse("result-list"), {"q": '"refund" -spam', "per_page": 1})
    assert 'value="&quot;refund&quot; -spam"' in response.text  # the box keeps it
    assert "export/?q=%22refund%22+-spam" in response.text
    assert "?q=%22refund%22+-spam&amp;per_page=1&amp;page=2" in response.text
    assert "?q=%22refund%22+-spam&amp;per_page=1&amp;sort=-created" in response.text


@pytest.mark.parametrize(
    "q",
    [
        "\x00",
        "refund\x00",
        "x" * 10_000,
        '- OR "',
        '"refund',
        "OR",
        "*",
        'NEAR("a" "b")',
        "col:x",
        "\\",
        "'; DROP TABLE analysis_results; --",
    ],
)
@pytest.mark.parametrize("per_page", [10, 100])
def test_a_hostile_search_answers_with_a_message_or_results_never_an_error(
    manager_client, calls, q, per_page
):
    response = manager_client.get(reverse("result-list"), {"q": q, "per_page": per_page})
    assert response.status_code == 200
    if q in ("\x00", "refund\x00", "x" * 10_000, '- OR "', "OR", "*", "\\"):
        assert "Search:" in alert(response)
        assert len(response.context["rows"]) == 4  # the search is dropped, nothing else
    assert AnalysisResult.objects.count() == 4


def test_bytes_that_are_not_utf8_in_the_url_are_not_an_error(manager_client, calls):
    response = manager_client.get(reverse("result-list") + "?q=%ED%A0%80%FF")
    assert response.status_code == 200
    assert "Search:" in alert(response)


@pytest.mark.parametrize("per_page", [10, 100])
def test_a_search_page_runs_the_same_few_queries_however_many_rows_it_shows(
    manager_client, django_assert_max_num_queries, per_page
):
    job = make_job(status="completed")
    AnalysisResult.objects.bulk_create(
        AnalysisResult(
            job=job,
            analysis_type="audio",
            transcript=f"call {n} about a refund",
            segments=[{"start": n, "end": n + 1, "text": f"refund number {n}"}],
        )
        for n in range(120)
    )
    for sort in ("", "-created"):
        with django_assert_max_num_queries(SEARCH_QUERIES):
            response = manager_client.get(
                reverse("result-list"),
                {"q": "refund", "per_page": per_page, "sort": sort},
                headers={"HX-Request": "true"},
            )
        assert len(response.context["rows"]) == per_page
        assert all(row.search_hit.seconds is not None for row in response.context["rows"])


def test_the_navigation_has_a_search_box_that_searches_the_results(manager_client):
    response = manager_client.get(reverse("job-list"))
    assert 'class="site-search"' in response.text
    assert 'action="/results/"' in response.text
    kept = manager_client.get(reverse("result-list"), {"q": "refund"})
    assert 'name="q" aria-label="Search results' in kept.text
    assert 'placeholder="Search results…" maxlength="500" value="refund"' in kept.text


# The export, the queue and the API


def test_the_export_holds_exactly_the_search_results(manager_client, calls):
    response = manager_client.get(reverse("result-export"), {"q": "refund -invoice"})
    assert csv_ids(response) == [calls["refund"].pk]


def test_the_review_queue_filters_by_search(reviewer_client, calls):
    reviews = {name: HITLReview.objects.create(analysis_result=r) for name, r in calls.items()}
    response = reviewer_client.get(reverse("review-queue"), {"q": "refund"})
    assert response.status_code == 200
    assert {r.pk for r in response.context["upcoming"]} == {
        reviews["refund"].pk,
        reviews["both"].pk,
    }
    assert 'name="q"' in response.text and 'value="refund"' in response.text
    hostile = reviewer_client.get(reverse("review-queue"), {"q": '- OR "'})
    assert hostile.status_code == 200
    assert "Search:" in alert(hostile)
    # A lane that cannot be read lists nothing, never the whole queue (tests/test_lanes.py).
    assert hostile.context["upcoming"] == []


def test_the_review_queue_shows_where_each_review_matched(reviewer_client, calls):
    reviews = {name: HITLReview.objects.create(analysis_result=r) for name, r in calls.items()}
    make_result(transcript='a delivery <script>alert("x")</script>')
    response = reviewer_client.get(reverse("review-queue"), {"q": "delivery"})
    hits = {r.pk: r.analysis_result.search_hit for r in response.context["upcoming"]}
    hit = hits[reviews["segmented"].pk]
    assert (hit.field, hit.seconds) == ("segment", 12.5)
    assert "<mark>delivery</mark>" in response.text
    # The way in is the review, at the second its words are said.
    assert f'href="/reviews/{reviews["segmented"].pk}/?t=12.5"' in response.text
    assert "play at 0:12" in response.text
    plain = reviewer_client.get(reverse("review-queue"), {"q": ""})
    assert "<mark>" not in plain.text
    assert all(not hasattr(r.analysis_result, "search_hit") for r in plain.context["upcoming"])


def test_the_review_queue_finds_its_snippets_in_one_query(reviewer_client, calls):
    def queries(q):
        reviewer_client.get(reverse("review-queue"), {"q": q})  # the lane kept in the session
        with CaptureQueriesContext(connection) as captured:
            assert reviewer_client.get(reverse("review-queue"), {"q": q}).status_code == 200
        return len(captured)

    for result in calls.values():
        HITLReview.objects.create(analysis_result=result)
    without, one = queries(""), queries("delivery")
    for _ in range(6):
        HITLReview.objects.create(analysis_result=make_result(transcript="the delivery is late"))
    assert queries("delivery") == one == without + 1


@pytest.fixture
def api_reader():
    _, raw = ApiToken.issue("reader", "read")
    from django.test import Client

    return Client(headers={"authorization": f"Bearer {raw}"})


def test_the_api_results_list_takes_q(api_reader, calls):
    response = api_reader.get("/api/results/", {"q": "refund OR acme -paid"})
    assert response.status_code == 200
    assert {item["id"] for item in response.json()["items"]} == {
        calls["refund"].pk,
        calls["invoice"].pk,
    }


@pytest.mark.parametrize("q", ["\x00", "x" * 501])
def test_the_api_refuses_a_query_outside_its_schema_naming_q(api_reader, q):
    response = api_reader.get("/api/results/", {"q": q})
    assert response.status_code == 422
    assert "'q'" in str(response.json()["detail"])


@pytest.mark.parametrize("q", ['- OR "', "OR", " ".join(f"w{n}" for n in range(17))])
def test_an_api_search_with_nothing_to_look_for_finds_nothing(api_reader, calls, q):
    response = api_reader.get("/api/results/", {"q": q})
    assert response.status_code == 200
    assert response.json()["items"] == []
    assert len(api_reader.get("/api/results/").json()["items"]) == 4


# The index itself


def test_the_search_index_is_in_place_and_repaired_after_a_migrate():
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'idx_result_search'")
            assert "USING gin (search_vector)" in cursor.fetchone()[0]
        return
    # SQLite drops a table's triggers when it rebuilds the table to alter it.
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER analysis_results_fts_insert")
    result = make_result(transcript="unindexed words")
    assert not AnalysisResult.objects.search("unindexed").exists()
    assert search.ensure_sqlite_index(connection)  # what runs after every migrate
    assert list(AnalysisResult.objects.search("unindexed")) == [result]
    assert not search.ensure_sqlite_index(connection)


def test_a_query_is_the_same_on_both_engines():
    query = WebSearch(groups=(("a", "b c"),), excluded=("d",))
    assert query.fts5() == ('("a" OR "b c")', '"d"')
    assert query.tsquery() == (
        "(phraseto_tsquery('simple', %s) || phraseto_tsquery('simple', %s))"
        " && !!(phraseto_tsquery('simple', %s))",
        ["a", "b c", "d"],
    )


# The benchmark's data


@pytest.mark.django_db(transaction=True)
def test_seed_bulk_writes_texts_where_some_words_are_in_most_results_and_others_in_few():
    from io import StringIO

    from django.core.management import call_command

    from mediaanalysis.management import vocabulary

    sizes = {"sessions": 20, "files": 80, "jobs": 600, "results": 600, "reviews": 40}
    args = [f"--{name}={count}" for name, count in sizes.items()]
    call_command("seed_bulk", *args, "--seed=3", stdout=StringIO(), stderr=StringIO())

    results = AnalysisResult.objects.all()
    total = results.count()
    assert results.search("the").count() > total / 2
    rare = [w for w in vocabulary.WORDS[-2000:] if results.search(w).exists()]
    assert rare  # the long tail is there...
    assert all(results.search(w).count() < total / 20 for w in rare[:20])  # ...and rare
    assert results.search(" OR ".join(f'"{p}"' for p in vocabulary.PHRASES[:4])).exists()
    spoken = results.exclude(transcript=None).first()
    assert all(isinstance(s["text"], str) and s["end"] > s["start"] for s in spoken.segments)
    assert spoken.segments[1]["text"] in spoken.transcript
    document = results.exclude(extracted_text=None).first()
    assert document.extracted_text.count("\f") == 2
    said = f'"{spoken.segments[2]["text"]}"'
    rows = list(results.search(said).filter(pk=spoken.pk))
    search.find_hits(rows, said, using=connection.alias)
    assert rows[0].search_hit.field == "segment"
    assert rows[0].search_hit.seconds == spoken.segments[1]["end"]


@pytest.mark.parametrize(
    "start, seconds",
    [(12.5, 12.5), (0, 0.0), ("12.5", 12.5), ("1:02:03.5", 3723.5), ("02:30", 150.0)],
)
def test_a_segment_start_is_read_as_seconds(start, seconds):
    assert search.seconds_of(start) == seconds


@pytest.mark.parametrize(
    "start", [None, True, -1, "soon", "1:x", "1:2:3:4", float("nan"), 10**400, "1e400", [], {}]
)
def test_a_segment_start_that_is_no_time_gives_no_link(start):
    assert search.seconds_of(start) is None
    assert search.page_of(start) is None


def test_odd_segments_and_pages_are_searched_without_error(manager_client):
    odd = make_result(
        transcript="nothing here",
        segments=[
            "a string",
            7,
            None,
            {"text": 5},
            {"text": ["list"]},
            {"start": 10**400, "text": "huge start with the keyword"},
            {"start": "later", "page": 3.0, "text": "page three keyword"},
        ],
    )
    response = manager_client.get(reverse("result-list"), {"q": "keyword"})
    hit = hit_of(response, odd)
    assert (hit.field, hit.seconds, hit.page) == ("segment", None, None)
    assert "huge start" in hit.html
    hit = hit_of(manager_client.get(reverse("result-list"), {"q": '"page three"'}), odd)
    assert (hit.seconds, hit.page, hit.deep_link) == (None, 3, "page=3")
    not_a_list = make_result(summary="keyword", segments={"text": "keyword"})
    assert hit_of(manager_client.get(reverse("result-list"), {"q": "keyword"}), not_a_list)


@pytest.mark.postgres
def test_a_shallow_page_of_many_matches_is_found_among_the_newest_rows(
    manager_client, monkeypatch, django_assert_max_num_queries
):
    monkeypatch.setattr(search, "RANK_LIMIT", 3)
    monkeypatch.setattr(search, "WALK_ROWS", 6)
    older = [make_result(transcript="the refund request") for _ in range(4)]
    newer = [make_result(transcript=f"call {n}") for n in range(3)] + [
        make_result(transcript="another refund request")
    ]
    everything = [r.pk for r in reversed(older + newer) if "refund" in r.transcript]
    unsearched = AnalysisResult.objects.order_by("-created_at", "-id")
    # The newest six rows hold three matches: enough for a page of three, not of four.
    assert search.newest_matches(unsearched, "refund", 0, 3) == everything[:3]
    assert search.newest_matches(unsearched, "refund", 1, 2) == everything[1:3]
    assert search.newest_matches(unsearched, "refund", 0, 4) is None
    for per_page in (1, 2, 3, 4):
        with django_assert_max_num_queries(SEARCH_QUERIES + 1):
            shown = found(manager_client, '"refund request"', per_page=per_page)
        assert shown == everything[:per_page]
    assert found(manager_client, "refund", per_page=2, page=2) == everything[2:4]


@pytest.mark.postgres
@pytest.mark.parametrize("per_page", [2, 3])
def test_next_walks_on_from_the_page_before_and_shows_what_the_offset_shows(
    manager_client, monkeypatch, per_page
):
    """A deep page of many matches, reached by "Next", is the walk from the last row of the
    page before (its bookmark in `after`), not a read of every match before it."""
    monkeypatch.setattr(search, "RANK_LIMIT", 3)
    monkeypatch.setattr(search, "WALK_DEPTH", 4)
    for n in range(14):
        make_result(transcript="a refund request" if n % 3 else f"call {n}")
    everything = found(manager_client, '"refund request"', per_page=100)
    assert len(everything) == 9
    url, pages, walks = (
        f"{reverse('result-list')}?q=%22refund+request%22&per_page={per_page}",
        [],
        [],
    )
    while url:
        with CaptureQueriesContext(connection) as statements:
            pages.append(manager_client.get(url))
        walks.append(any("search_hit" in query["sql"] for query in statements))
        shown = [row.pk for row in pages[-1].context["rows"]]
        number = pages[-1].context["page"].number
        assert shown == everything[(number - 1) * per_page :][:per_page]
        nxt = re.search(r'href="([^"]+)" rel="next"', pages[-1].text)
        url = reverse("result-list") + html.unescape(nxt[1]) if nxt else None
        if url and number > 1:
            assert f"after={number}%3A{shown[-1]}" in url
    assert len(pages) == -(-9 // per_page)
    assert all(walks[1:-1])  # every page between the first and the last walked on
    previous = re.search(r'href="([^"]+)" rel="prev"', pages[-1].text)
    assert "after=" not in previous[1]


@pytest.mark.postgres
def test_a_page_past_the_count_is_read_without_counting(manager_client, monkeypatch):
    """Rows on a page whose offset is past RANK_LIMIT prove there are more matches than that:
    the page's ids stand for the count, which is not run. Past the end, the count is run and
    says so."""
    monkeypatch.setattr(search, "RANK_LIMIT", 3)
    monkeypatch.setattr(search, "WALK_DEPTH", 2)
    for n in range(9):
        make_result(transcript="a refund request" if n % 4 else f"call {n}")
    everything = found(manager_client, '"refund request"', per_page=100)
    assert len(everything) == 6

    def page(number):
        with CaptureQueriesContext(connection) as statements:
            response = manager_client.get(
                reverse("result-list"), {"q": '"refund request"', "per_page": 2, "page": number}
            )
        counts = [q["sql"] for q in statements if q["sql"].startswith("SELECT COUNT(*)")]
        return response, counts

    response, counts = page(3)
    assert [r.pk for r in response.context["rows"]] == everything[4:6]
    assert counts == []
    assert "more than <strong>3</strong> results" in response.text
    assert "after=" not in response.text  # the last page: no Next
    response, counts = page(2)  # offset 2, under RANK_LIMIT: counted as before
    assert [r.pk for r in response.context["rows"]] == everything[2:4]
    assert len(counts) == 1
    response, counts = page(9)  # past the end: counted, and an empty page that says so
    assert response.context["rows"] == [] and len(counts) == 1
    assert "on page 9" in response.text
    # Its Next walks on from its last row when the list is newest first, and only then.
    for sort, bookmark in (({}, True), ({"sort": "confidence"}, False)):
        response = manager_client.get(
            reverse("result-list"), {"q": '"refund request"', "per_page": 1, "page": 4, **sort}
        )
        nxt = re.search(r'href="([^"]+)" rel="next"', response.text)
        assert ("after=4%3A" in nxt[1]) is bookmark


@pytest.mark.parametrize(
    "after",
    [
        "1:{newest}",
        "3:{newest}",
        "x",
        "2:99999999999",
        "2:\x00",
        "-1:5",
        "2:" + "9" * 5000,
        "2:\uff15",
    ],
)
def test_a_bookmark_for_another_page_or_not_one_at_all_is_ignored(
    manager_client, monkeypatch, after
):
    """Page 3 is page 3 whatever `after` says, unless it is page 2's bookmark: page 1's, if it
    were trusted, would show page 2's rows (on PostgreSQL, where the walk reads it)."""
    monkeypatch.setattr(search, "RANK_LIMIT", 3)  # many matches: newest first, walked
    newest = [make_result(transcript="refund") for _ in range(8)][-1]

    shown = found(
        manager_client, "refund", per_page=2, page=3, after=after.format(newest=newest.pk)
    )

    assert shown == found(manager_client, "refund", per_page=2, page=3)
    assert len(shown) == 2


def test_prepared_statements_are_planned_for_their_search_every_time():
    """A prepared statement's generic plan cannot know how many rows a search matches: one made
    a filtered search's deep page 17 times slower (docs/performance.md, "Search")."""
    options = database_config("postgres://user@db.example/app")["OPTIONS"]["options"]
    assert "-c plan_cache_mode=force_custom_plan" in options
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW plan_cache_mode")
            assert cursor.fetchone() == ("force_custom_plan",)
