"""Full-text search over results: one query language, two engines (docs/search.md).

Users type web-search syntax: words, "exact phrases", -excluded, OR. `parse()` turns it into a
`WebSearch`, which each engine gets in its own safe form:

- PostgreSQL: a tsquery built from `phraseto_tsquery('simple', %s)` pieces joined with `&&`,
  `||` and `!!` (every piece a bound parameter), matched against `analysis_results.
  search_vector`, a stored generated tsvector with a GIN index.
- SQLite: an FTS5 query of double-quoted strings joined with AND, OR and NOT, matched against
  `analysis_results_fts`, an external-content FTS5 table kept in step by triggers.

Both read the same grammar, so a query means the same on both: OR binds tighter than the
implied AND (`refund OR return invoice` is `(refund OR return) AND invoice`), and `-term`
always excludes. Every piece is quoted, so no input is an engine syntax error.
"""

import json
import math
import re
from dataclasses import dataclass

from django.db import connections, models
from django.db.models import F, Func
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

MAX_QUERY_LENGTH = 500
MAX_TERMS = 16
# A search counts its matches up to this many, and ranks them by relevance only if there are
# no more: more would be read in full to show 25 (docs/search.md).
RANK_LIMIT = 1_000
# A shallow page (its rows within the first WALK_DEPTH matches) of a search with more than
# RANK_LIMIT matches, newest first, is looked for among the newest WALK_ROWS results: a phrase
# of common words is far more frequent than PostgreSQL's planner, which takes its words to be
# independent, expects, and it would read every match from the GIN index to sort them by date
# (docs/performance.md, "Search").
WALK_ROWS = 5_000
WALK_DEPTH = 250
# PostgreSQL's text search configuration. The results are in many languages (the jobs ask for
# en, es, de...); a language's configuration would stem and drop stop words of all of them by
# its own rules ('english' drops "not" and "no"). 'simple' only lowercases: every language is
# matched word for word, and phrases hold exactly (docs/search.md).
CONFIG = "simple"
# The leading characters of each text that are indexed on PostgreSQL, 200,000 in all: a
# tsvector may not exceed 1 MB, and text made of distinct multi-byte words costs up to about
# five bytes per character. Within them, a transcript of about two hours of speech.
INDEXED = {"summary": 10_000, "transcript": 120_000, "extracted_text": 50_000, "segments": 20_000}
# Highlight markers: private-use characters, which text never means as markup. The snippet is
# escaped as a whole and only then are the markers turned into <mark> tags.
START, STOP = "\ue000", "\ue001"
FTS_TABLE = "analysis_results_fts"

_TOKEN = re.compile(r'(?P<neg>-?)"(?P<phrase>[^"]*)"?|(?P<word>[^\s"]+)')
_WORD = re.compile(r"[^\W_]")  # a letter or digit: what both engines index


class InvalidSearch(ValueError):
    """A query that cannot be searched for; the message says why, for the user."""


@dataclass(frozen=True)
class WebSearch:
    """A parsed query: every group must match (one of its phrases), no excluded phrase may."""

    groups: tuple[tuple[str, ...], ...]
    excluded: tuple[str, ...]

    @property
    def phrases(self) -> list[str]:
        """The phrases that are looked for (not the excluded ones): what a snippet marks."""
        return [phrase for group in self.groups for phrase in group]

    # PostgreSQL

    def tsquery(self, positive_only=False) -> tuple[str, list[str]]:
        """The query as tsquery SQL with its parameters."""
        phrase = f"phraseto_tsquery('{CONFIG}', %s)"
        groups = [" || ".join([phrase] * len(g)) for g in self.groups]
        sql = " && ".join(f"({g})" for g in groups)
        params = self.phrases
        if positive_only:
            return " || ".join([phrase] * len(params)), params
        if self.excluded:
            excluded = "!!(" + " || ".join([phrase] * len(self.excluded)) + ")"
            sql = f"{sql} && {excluded}" if sql else excluded
            params = [*params, *self.excluded]
        return sql, params

    # SQLite

    def fts5(self, positive_only=False) -> tuple[str, str]:
        """(what must match, what must not), as FTS5 queries; either may be empty."""
        quoted = [" OR ".join(_fts5_string(p) for p in g) for g in self.groups]
        if positive_only:
            return " OR ".join(_fts5_string(p) for p in self.phrases), ""
        return (
            " AND ".join(f"({g})" for g in quoted),
            " OR ".join(_fts5_string(p) for p in self.excluded),
        )


def _fts5_string(text: str) -> str:
    # An FTS5 string: everything inside is text for the tokenizer, never an operator.
    return '"' + text.replace('"', '""') + '"'


def parse(text: str) -> WebSearch:
    """Read web-search syntax. Raises InvalidSearch with a message meant for the user."""
    if "\x00" in text:
        raise InvalidSearch("The search must not contain NUL characters.")
    try:
        text.encode()
    except UnicodeEncodeError:
        raise InvalidSearch("The search must be valid Unicode (no lone surrogates).") from None
    if len(text) > MAX_QUERY_LENGTH:
        raise InvalidSearch(f"Search for at most {MAX_QUERY_LENGTH} characters.")
    groups: list[list[str]] = []
    excluded: list[str] = []
    after_or = False
    for match in _TOKEN.finditer(text):
        word = match["word"]
        if word == "OR":
            after_or = True
            continue
        if word is not None:
            negated, body = word.startswith("-"), word.lstrip("-")
        else:
            negated, body = bool(match["neg"]), match["phrase"]
        body = " ".join(body.replace(START, " ").replace(STOP, " ").split())
        if not _WORD.search(body):
            continue  # punctuation alone: nothing either engine would index
        if negated:
            excluded.append(body)
        elif after_or and groups:
            groups[-1].append(body)
        else:
            groups.append([body])
        after_or = False
    if not groups and not excluded:
        raise InvalidSearch("Type at least one word (letters or digits) to search for.")
    if sum(map(len, groups)) + len(excluded) > MAX_TERMS:
        raise InvalidSearch(f"Search for at most {MAX_TERMS} words or phrases.")
    return WebSearch(tuple(tuple(g) for g in groups), tuple(excluded))


def as_search(query) -> WebSearch:
    return query if isinstance(query, WebSearch) else parse(query)


# The column


class TsVectorField(models.Field):
    """A tsvector on PostgreSQL. SQLite has the column too, always NULL (FTS5 does its work)."""

    description = "Text search document"

    def db_type(self, connection):
        return "tsvector" if connection.vendor == "postgresql" else "text"


class SearchDocument(Func):
    """What a result is found by: its texts, weighted summary (A) above transcript and the
    segments' text (B) above extracted text (C). Each text is cut to its INDEXED length.

    Every function is IMMUTABLE, as a generated column needs: to_tsvector with an explicit
    configuration, and the segments' texts by jsonb_path_query_array. Their JSON text goes
    to to_tsvector with its escapes (\\n, \\t) blanked, so that it can be cut to length too.
    Elsewhere it compiles to NULL.
    """

    output_field = TsVectorField()

    def __init__(self):
        super().__init__(F("summary"), F("transcript"), F("extracted_text"), F("segments"))

    def as_sql(self, compiler, connection, **extra):
        return "NULL", []

    def as_postgresql(self, compiler, connection, **extra):
        columns = []
        for expression in self.get_source_expressions():
            sql, params = compiler.compile(expression)
            if params:
                raise ValueError("A search document column compiled with parameters.")
            columns.append(sql)
        summary, transcript, extracted, segments = columns
        segments_text = (
            f"regexp_replace(jsonb_path_query_array({segments}, '$[*].text')::text,"
            f" '\\\\[nrtbf]', ' ', 'g')"
        )

        def vector(text, limit, weight):
            return (
                f"setweight(to_tsvector('{CONFIG}'::regconfig, left(coalesce({text}, ''),"
                f" {limit})), '{weight}')"
            )

        return (
            "("
            + " || ".join(
                [
                    vector(summary, INDEXED["summary"], "A"),
                    vector(transcript, INDEXED["transcript"], "B"),
                    vector(segments_text, INDEXED["segments"], "B"),
                    vector(extracted, INDEXED["extracted_text"], "C"),
                ]
            )
            + ")",
            [],
        )


class SearchVectorColumn(models.GeneratedField):
    """The generated search document, never sent back to Django after a write: Django would
    otherwise read the whole tsvector back on every save (RETURNING)."""

    db_returning = False


# Matching and ranking (PostgreSQL)


class TsQuery(models.Expression):
    """A WebSearch as a tsquery."""

    output_field = models.TextField()

    def __init__(self, search: WebSearch, positive_only=False):
        super().__init__()
        self.search, self.positive_only = search, positive_only

    def as_sql(self, compiler, connection):
        sql, params = self.search.tsquery(self.positive_only)
        return f"({sql})", params


class Matches(Func):
    arg_joiner = " @@ "
    template = "(%(expressions)s)"
    output_field = models.BooleanField()


class Rank(Func):
    function = "ts_rank"
    output_field = models.FloatField()


# Matching and ranking (SQLite)


def _fts5_ids(query: str) -> models.expressions.RawSQL:
    return models.expressions.RawSQL(
        f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s", [query]
    )


class Fts5Rank(Func):
    """bm25 of the row (higher is better), weighting the columns as PostgreSQL does."""

    output_field = models.FloatField()

    def __init__(self, query: str):
        super().__init__(F("pk"))
        self.query = query

    def as_sql(self, compiler, connection, **extra):
        pk, params = compiler.compile(self.get_source_expressions()[0])
        return (
            f"(SELECT -bm25({FTS_TABLE}, 10.0, 4.0, 2.0, 4.0) FROM {FTS_TABLE}"
            f" WHERE {FTS_TABLE} MATCH %s AND rowid = {pk})",
            [self.query, *params],
        )


def filter_matching(queryset, query):
    """Rows of `queryset` (results) that match `query` (text or WebSearch)."""
    search = as_search(query)
    if connections[queryset.db].vendor == "postgresql":
        return queryset.filter(Matches(F("search_vector"), TsQuery(search)))
    must, must_not = search.fts5()
    if must and must_not:
        return queryset.filter(pk__in=_fts5_ids(f"{must} NOT ({must_not})"))
    if must:
        return queryset.filter(pk__in=_fts5_ids(must))
    return queryset.exclude(pk__in=_fts5_ids(must_not))


def order_by_relevance(queryset, query):
    """Best match first (ties newest first). Ranks every row: only for a bounded set."""
    search = as_search(query)
    if not search.phrases:
        return queryset.order_by("-created_at", "-id")
    if connections[queryset.db].vendor == "postgresql":
        rank = Rank(F("search_vector"), TsQuery(search, positive_only=True))
    else:
        rank = Fts5Rank(search.fts5(positive_only=True)[0])
    return queryset.alias(relevance=rank).order_by("-relevance", "-created_at", "-id")


def newest_matches(
    unsearched, query, offset: int, limit: int, after: int | None = None
) -> list[int] | None:
    """Ids `offset` to `offset + limit` of the newest matches of `query` among the newest
    WALK_ROWS rows of `unsearched` (the results, filtered but not searched, newest first), or
    the first `limit` of them after the row `after` (the pager's bookmark: the last row of the
    page before); None where that does not hold them all, or off PostgreSQL: the caller asks
    the index.

    One statement that walks the newest rows in the list's index order and keeps those that
    match: bounded by WALK_ROWS whatever the query, and as fast for a word in every result
    as for a phrase in one in forty. With `after`, page 200 costs what page 2 does."""
    connection = connections[unsearched.db]
    if after is not None:
        offset = 0
    if connection.vendor != "postgresql" or offset + limit > WALK_DEPTH:
        return None
    if after is not None:
        rows = unsearched.model._base_manager.db_manager(unsearched.db)
        at = rows.filter(pk=after).values_list("created_at", flat=True).first()
        if at is None:
            return None
        # Older than the bookmark in the list's order (created_at, id), from the index.
        unsearched = unsearched.filter(created_at__lte=at).exclude(created_at=at, pk__gte=after)
    recent = unsearched.annotate(
        search_hit=Matches(F("search_vector"), TsQuery(as_search(query)))
    ).values_list("id", "created_at", "search_hit")[:WALK_ROWS]
    sql, params = recent.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT s.id FROM ({sql}) s WHERE s.search_hit"
            " ORDER BY s.created_at DESC, s.id DESC OFFSET %s LIMIT %s",
            [*params, offset, limit],
        )
        ids = [pk for (pk,) in cursor.fetchall()]
    return ids if len(ids) == limit else None


# Hits: where each result of a page matched, highlighted


@dataclass
class Hit:
    """Where a result matched: the field, a highlighted snippet (safe HTML), and for a
    timestamped segment its second, for a page of a document its number."""

    field: str
    html: SafeString
    seconds: float | None = None
    page: int | None = None

    LABELS = {
        "segment": "segment",
        "summary": "summary",
        "transcript": "transcript",
        "extracted_text": "extracted text",
    }

    @property
    def label(self) -> str:
        return self.LABELS[self.field]

    @property
    def deep_link(self) -> str:
        """The query string that opens a result's media there: `t` (seconds) or `page`."""
        if self.page is not None:
            return f"page={self.page}"
        if self.seconds is not None:
            return "t=" + f"{self.seconds:.3f}".rstrip("0").rstrip(".")
        return ""


def highlight_html(text: str) -> SafeString:
    """Marked text as HTML: everything escaped, then the markers turned into <mark> tags."""
    html = escape(text)
    html = re.sub(f"{START}([^{START}{STOP}]*){STOP}", r"<mark>\1</mark>", html)
    return mark_safe(html.replace(START, "").replace(STOP, ""))


def _number(value) -> float | None:
    """A JSON number, or a number written as text, as a finite float; else None."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def seconds_of(value) -> float | None:
    """A segment's start as seconds: a number, "12.5", or "1:02:03.5"; else None."""
    if isinstance(value, str) and ":" in value:
        parts = [_number(p) for p in value.split(":")]
        if not 2 <= len(parts) <= 3 or None in parts:
            return None
        value = sum(p * 60**i for i, p in enumerate(reversed(parts)))
    number = _number(value)
    return round(number, 3) if number is not None and 0 <= number < 1e9 else None


def page_of(value) -> int | None:
    """A page number (1 to 100,000) from a number or its text; else None."""
    number = _number(value)
    if number is not None and number.is_integer() and 1 <= number <= 100_000:
        return int(number)
    return None


def window(marked: str, words: int = 24) -> str:
    """About `words` words of marked text around its first marker, with ellipses."""
    start = marked.find(START)
    if start < 0:
        return ""
    before = marked[:start].split()
    after = marked[start:].split()
    lead = before[-(words // 3) :] if words // 3 else []
    tail = after[: words - len(lead)]
    text = " ".join(lead + tail)
    if text.count(START) > text.count(STOP):
        text += STOP  # the window ended inside a marked phrase
    return (
        ("… " if len(before) > len(lead) else "") + text + (" …" if len(after) > len(tail) else "")
    )


def find_hits(rows, query, using="default") -> None:
    """Set `search_hit` (a Hit or None) on each of `rows`: one query, only for these rows."""
    for row in rows:
        row.search_hit = None
    search = as_search(query)
    if not rows or not search.phrases:
        return
    ids = [row.pk for row in rows]
    connection = connections[using]
    finder = _pg_hits if connection.vendor == "postgresql" else _sqlite_hits
    hits = finder(connection, ids, search)
    for row in rows:
        row.search_hit = hits.get(row.pk)


_HEADLINE = (
    f"StartSel={START}, StopSel={STOP}, MaxWords=24, MinWords=10, ShortWord=2,"
    ' MaxFragments=2, FragmentDelimiter=" … "'
)


def _pg_hits(connection, ids, search) -> dict:
    """The first place each result matches, by a lateral UNION ALL ... LIMIT 1: the parts are
    tried in order (a segment, the summary, the transcript, a page of the extracted text) and
    the first that matches ends the search; only its text is highlighted."""
    query_sql, params = search.tsquery(positive_only=True)
    sql = f"""
        WITH q AS (SELECT ({query_sql}) AS q)
        SELECT r.id, hit.field, hit.start, hit.page,
               ts_headline('{CONFIG}', hit.body, q.q, %s)
        FROM analysis_results r CROSS JOIN q
        JOIN LATERAL (
            (SELECT 'segment' AS field, s.seg ->> 'start' AS start, s.seg ->> 'page' AS page,
                    left(s.seg ->> 'text', {INDEXED["segments"]}) AS body
               FROM jsonb_array_elements(CASE jsonb_typeof(r.segments) WHEN 'array'
                                         THEN r.segments ELSE '[]' END) WITH ORDINALITY s(seg, n)
              WHERE jsonb_typeof(s.seg) = 'object' AND jsonb_typeof(s.seg -> 'text') = 'string'
                AND to_tsvector('{CONFIG}', left(s.seg ->> 'text', {INDEXED["segments"]})) @@ q.q
              ORDER BY s.n LIMIT 1)
            UNION ALL
            SELECT 'summary', NULL, NULL, left(r.summary, {INDEXED["summary"]})
             WHERE to_tsvector('{CONFIG}', left(coalesce(r.summary, ''), {INDEXED["summary"]})) @@ q.q
            UNION ALL
            SELECT 'transcript', NULL, NULL, left(r.transcript, {INDEXED["transcript"]})
             WHERE to_tsvector('{CONFIG}', left(coalesce(r.transcript, ''), {INDEXED["transcript"]})) @@ q.q
            UNION ALL
            (SELECT 'extracted_text', NULL,
                    CASE WHEN strpos(r.extracted_text, E'\\f') > 0 THEN p.n::text END, p.body
               FROM string_to_table(left(r.extracted_text, {INDEXED["extracted_text"]}), E'\\f')
                    WITH ORDINALITY p(body, n)
              WHERE to_tsvector('{CONFIG}', p.body) @@ q.q
              ORDER BY p.n LIMIT 1)
            LIMIT 1
        ) hit ON true
        WHERE r.id = ANY(%s)
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, _HEADLINE, ids])
        rows = cursor.fetchall()
    return {
        pk: Hit(field, highlight_html(headline), seconds_of(start), page_of(page))
        for pk, field, start, page, headline in rows
    }


def _sqlite_hits(connection, ids, search) -> dict:
    """FTS5's own highlighting of each column; the segment and the page are found from the
    marked text (the segments' texts are indexed one per line, pages split by form feeds)."""
    query = search.fts5(positive_only=True)[0]
    marks = f"'{START}', '{STOP}'"
    placeholders = ", ".join(["%s"] * len(ids))
    sql = f"""
        SELECT f.rowid, highlight({FTS_TABLE}, 3, {marks}),
               snippet({FTS_TABLE}, 0, {marks}, '…', 24),
               snippet({FTS_TABLE}, 1, {marks}, '…', 24),
               highlight({FTS_TABLE}, 2, {marks}), r.segments
        FROM {FTS_TABLE} f JOIN analysis_results r ON r.id = f.rowid
        WHERE {FTS_TABLE} MATCH %s AND f.rowid IN ({placeholders})
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [query, *ids])
        rows = cursor.fetchall()
    hits = {}
    for pk, segments_text, summary, transcript, extracted, segments in rows:
        hits[pk] = _sqlite_hit(segments_text, summary, transcript, extracted, segments)
    return hits


def _sqlite_hit(segments_text, summary, transcript, extracted, segments_json) -> Hit | None:
    if segments_text and START in segments_text:
        line = segments_text[: segments_text.index(START)].count("\n")
        texts = [s for s in _json_list(segments_json) if isinstance(s.get("text"), str)]
        segment = texts[line] if line < len(texts) else {}
        return Hit(
            "segment",
            highlight_html(window(segments_text.split("\n")[line])),
            seconds_of(segment.get("start")),
            page_of(segment.get("page")),
        )
    for field, text in (("summary", summary), ("transcript", transcript)):
        if text and START in text:
            return Hit(field, highlight_html(text))
    if extracted and START in extracted:
        before = extracted[: extracted.index(START)]
        page = before.count("\f") + 1 if "\f" in extracted else None
        text = extracted.split("\f")[page - 1] if page else extracted
        return Hit("extracted_text", highlight_html(window(text)), page=page)
    return None


def _json_list(value) -> list[dict]:
    try:
        data = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return []
    return [s for s in data if isinstance(s, dict)] if isinstance(data, list) else []


# SQLite's FTS5 table, its content view and its triggers

# A result's segments' texts, one per line (a line break inside a text becomes a space), so
# that the line of a match is the segment that holds it.
_SEGMENTS_TEXT = """(SELECT group_concat(replace(replace(json_extract(value, '$.text'), char(10), ' '), char(13), ' '), char(10))
    FROM json_each(CASE WHEN json_valid({col}) AND json_type({col}) = 'array' THEN {col} ELSE '[]' END)
    WHERE CASE WHEN type = 'object' THEN json_type(value, '$.text') = 'text' END)"""
_COLUMNS = "summary, transcript, extracted_text, segments_text"


def _values(prefix: str) -> str:
    segments = _SEGMENTS_TEXT.format(col=f"{prefix}.segments")
    return f"{prefix}.summary, {prefix}.transcript, {prefix}.extracted_text, {segments}"


SQLITE_OBJECTS = {
    "analysis_results_search_text": f"""CREATE VIEW analysis_results_search_text AS
        SELECT r.id, {_values("r")} AS segments_text FROM analysis_results r""",
    FTS_TABLE: f"""CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5({_COLUMNS},
        content='analysis_results_search_text', content_rowid='id',
        tokenize='unicode61 remove_diacritics 0')""",
    "analysis_results_fts_insert": f"""CREATE TRIGGER analysis_results_fts_insert
        AFTER INSERT ON analysis_results BEGIN
          INSERT INTO {FTS_TABLE}(rowid, {_COLUMNS}) VALUES (new.id, {_values("new")});
        END""",
    "analysis_results_fts_delete": f"""CREATE TRIGGER analysis_results_fts_delete
        AFTER DELETE ON analysis_results BEGIN
          INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, {_COLUMNS}) VALUES ('delete', old.id, {_values("old")});
        END""",
    "analysis_results_fts_update": f"""CREATE TRIGGER analysis_results_fts_update
        AFTER UPDATE OF summary, transcript, extracted_text, segments ON analysis_results BEGIN
          INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, {_COLUMNS}) VALUES ('delete', old.id, {_values("old")});
          INSERT INTO {FTS_TABLE}(rowid, {_COLUMNS}) VALUES (new.id, {_values("new")});
        END""",
}


def ensure_sqlite_index(connection) -> bool:
    """Create SQLite's search table, view and triggers where any is missing, and fill the
    table from the results; return whether it had to. Runs after every migrate too: SQLite
    alters a table by building a new one, which drops the old one's triggers."""
    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cursor:
        names = set(connection.introspection.table_names(cursor, include_views=True))
        if "analysis_results" not in names:
            return False
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'analysis_results'"
        )
        names |= {name for (name,) in cursor.fetchall()}
        if set(SQLITE_OBJECTS) <= names:
            return False
        drop_sqlite_index(connection)
        for statement in SQLITE_OBJECTS.values():
            cursor.execute(statement)
        # Not FTS5's 'rebuild', which cannot read a view that calls the JSON functions.
        cursor.execute(
            f"INSERT INTO {FTS_TABLE}(rowid, {_COLUMNS})"
            f" SELECT id, {_COLUMNS} FROM analysis_results_search_text"
        )
    return True


def drop_sqlite_index(connection) -> None:
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        for name in ("insert", "delete", "update"):
            cursor.execute(f"DROP TRIGGER IF EXISTS analysis_results_fts_{name}")
        cursor.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
        cursor.execute("DROP VIEW IF EXISTS analysis_results_search_text")
