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
        connection = connections[router.db_for_read(model)]
        if connection.vendor == "postgresql":
            values = _from_statistics_or_column(connection, model, field, limit)
        else:
            values = list(
                model.all_objects.exclude(**{f"{field}__isnull": True})
                .order_by(field)
                .values_list(field, flat=True)
                .distinct()[:limit]
            )
        values = sorted(values)[:limit]
        cache.set(key, values, DISTINCT_VALUES_SECONDS)
    return values


def _from_statistics_or_column(connection, model, field: str, limit: int) -> list[str]:
    """One query: the statistics' values if they cover every row, else (and only then, as
    COALESCE stops at its first non-null argument) the column's own distinct values."""
    table = connection.ops.quote_name(model._meta.db_table)
    column = model._meta.get_field(field).column
    quoted = connection.ops.quote_name(column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT COALESCE(
                   (SELECT most_common_vals::text::text[] FROM pg_stats
                     WHERE tablename = %s AND attname = %s
                       AND (SELECT sum(f) FROM unnest(most_common_freqs) AS f) + null_frac >= 0.999),
                   (SELECT array_agg(value::text) FROM
                      (SELECT DISTINCT {quoted} AS value FROM {table} WHERE {quoted} IS NOT NULL LIMIT %s) AS d)
                )""",
            [model._meta.db_table, column, limit],
        )
        return cursor.fetchone()[0] or []
