"""Pagination that never counts a million rows.

A page fetches one row more than it shows, to know whether a next page exists. The total is
counted exactly up to COUNT_CAP rows; past that, an unfiltered list shows PostgreSQL's planner
estimate (and says so; reused for ESTIMATE_SECONDS), and a filtered list says "more than
COUNT_CAP".
"""

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property

from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.core.paginator import Paginator
from django.db import connections

COUNT_CAP = 10_000
ESTIMATE_SECONDS = 60  # how long a big list's estimated total is reused


def bounded_count(queryset, cap: int | None = None) -> tuple[int, bool]:
    """Count up to `cap` (COUNT_CAP) rows; return (count, exact)."""
    cap = cap or COUNT_CAP
    # Only the key: the list's joins and annotations would be computed for every counted row.
    count = queryset.values("pk").order_by()[: cap + 1].count()
    return (count, True) if count <= cap else (cap, False)


def planner_estimate(queryset) -> int | None:
    """PostgreSQL's estimate of how many rows the query returns; None elsewhere."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    sql, params = queryset.order_by().query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


@dataclass
class ListPage:
    rows: list
    number: int
    per_page: int
    has_next: bool
    total: int
    total_exact: bool
    total_estimated: bool
    next_after: str | None = None  # the next page's bookmark of this one (PageForm.after)

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def num_pages(self) -> int | None:
        if not (self.total_exact or self.total_estimated):
            return None
        return max(1, -(-self.total // self.per_page))

    @property
    def start_index(self) -> int:
        return (self.number - 1) * self.per_page + 1 if self.rows else 0

    @property
    def end_index(self) -> int:
        return (self.number - 1) * self.per_page + len(self.rows)


def count_rows(queryset, *, estimate: bool, cap: int | None = None) -> tuple[int, bool, bool]:
    """(total, exact, estimated): exact up to `cap` (COUNT_CAP); beyond it the planner's
    estimate when `estimate` allows one, else the cap itself as a floor. SQLite, which holds
    development-sized data, is counted exactly."""
    if queryset.query.is_empty():  # .none(): no SQL to run, nor to key a cached estimate on
        return 0, True, False
    key = None
    if estimate and connections[queryset.db].vendor == "postgresql":
        # A big list's estimated total is reused for a minute: two queries fewer per page.
        try:
            sql, params = queryset.values("pk").order_by().query.sql_with_params()
        except EmptyResultSet:  # a filter Django proves empty (a key past its column's range)
            return 0, True, False
        key = "list-estimate:" + hashlib.sha256(f"{sql}{params!r}".encode()).hexdigest()
        if (cached := cache.get(key)) is not None:
            return cached, False, True
    total, exact = bounded_count(queryset, cap)
    if exact:
        return total, True, False
    if key and (planned := planner_estimate(queryset)) is not None:
        total = max(planned, total + 1)
        cache.set(key, total, ESTIMATE_SECONDS)
        return total, False, True
    if connections[queryset.db].vendor != "postgresql":
        return queryset.count(), True, False
    return total, False, False


def paginate(
    queryset,
    number: int,
    per_page: int,
    *,
    filtered: bool,
    counted: tuple | None = None,
    page_ids=None,
) -> ListPage:
    """One page of `queryset`: three queries (four for a big unfiltered PostgreSQL list, two
    while its estimated total is cached). `counted`: count_rows() of it, if already known.
    `page_ids(offset, limit)`: another way to the page's ids, or None to read them as usual."""
    # An estimate only for the whole table: a filtered list says "more than COUNT_CAP".
    total, exact, estimated = counted or count_rows(queryset, estimate=not filtered)
    if exact and total and number > -(-total // per_page):
        number = -(-total // per_page)
    offset = (number - 1) * per_page
    # A deferred join: the page's ids first, read from the list's index alone; then just those
    # rows with their joins and annotations. Page 2,000 never joins the 50,000 rows it skips.
    ids = page_ids(offset, per_page + 1) if page_ids else None
    if ids is None:
        ids = list(queryset.values_list("pk", flat=True)[offset : offset + per_page + 1])
    by_id = {row.pk: row for row in queryset.filter(pk__in=ids)} if ids else {}
    rows = [by_id[pk] for pk in ids if pk in by_id]
    return ListPage(
        rows=rows[:per_page],
        number=number,
        per_page=per_page,
        has_next=len(rows) > per_page,
        total=total,
        total_exact=exact,
        total_estimated=estimated,
    )


class EstimatedCountPaginator(Paginator):
    """The admin's paginator: an exact count up to COUNT_CAP, the planner's estimate beyond."""

    @cached_property
    def count(self) -> int:
        return count_rows(self.object_list, estimate=True)[0]
