"""Small shared reads."""

from django.core.cache import cache

DISTINCT_VALUES_SECONDS = 600


def distinct_values(model, field: str, limit: int = 200) -> list[str]:
    """The values a free-text column takes (job types, models...), for filter choices.

    Cached: over a million rows a DISTINCT is a full scan, and the set changes rarely.
    """
    key = f"distinct:{model._meta.db_table}:{field}"
    values = cache.get(key)
    if values is None:
        values = list(
            model.all_objects.exclude(**{f"{field}__isnull": True})
            .order_by(field)
            .values_list(field, flat=True)
            .distinct()[:limit]
        )
        cache.set(key, values, DISTINCT_VALUES_SECONDS)
    return values
