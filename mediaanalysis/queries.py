"""Small shared reads."""

from django.core.cache import cache
from django.db import connections, router

DISTINCT_VALUES_SECONDS = 600


def distinct_values(model, field: str, limit: int = 200) -> list[str]:
    """The values a free-text column takes (job types, models...), for filter choices.

    A SELECT DISTINCT over a million rows is a full scan, so on PostgreSQL the values come from
    the planner's statistics when they hold every value (pg_stats.most_common_vals covering all
    sampled rows: true of a column with a few values; a value new since the last ANALYZE shows
    up after the next one). Otherwise the column is read. Cached either way.
    """
    key = f"distinct:{model._meta.db_table}:{field}"
    values = cache.get(key)
    if values is None:
        values = _from_statistics(model, field)
        if values is None:
            values = list(
                model.all_objects.exclude(**{f"{field}__isnull": True})
                .order_by(field)
                .values_list(field, flat=True)
                .distinct()[:limit]
            )
        values = sorted(values)[:limit]
        cache.set(key, values, DISTINCT_VALUES_SECONDS)
    return values


def _from_statistics(model, field: str) -> list[str] | None:
    connection = connections[router.db_for_read(model)]
    if connection.vendor != "postgresql":
        return None
    column = model._meta.get_field(field).column
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT most_common_vals::text::text[], most_common_freqs, null_frac
               FROM pg_stats WHERE tablename = %s AND attname = %s""",
            [model._meta.db_table, column],
        )
        row = cursor.fetchone()
    if row is None or row[0] is None:
        return None
    values, frequencies, null_fraction = row
    # Complete only when the common values (and NULLs) account for every sampled row.
    if sum(frequencies) + null_fraction < 0.999:
        return None
    return list(values)
