"""Database functions the dashboard needs on both backends.

PostgreSQL has percentile_cont; SQLite gets the same aggregate registered on each connection,
the way Django itself gives SQLite STDDEV_POP and friends. Either way the rows never leave the
database query: the aggregate runs inside it, once per group.
"""

import json
import math

from django.db.backends.signals import connection_created
from django.db.models import Aggregate, Field, FloatField, Func
from django.dispatch import receiver


class Percentile(Aggregate):
    """The continuous percentile `fraction` (0..1) of an expression, per group."""

    name = "Percentile"
    output_field = FloatField()
    allow_distinct = False

    def __init__(self, expression, fraction: float, **extra):
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must be between 0 and 1")
        self.fraction = float(fraction)
        super().__init__(expression, **extra)

    def _parts(self, compiler):
        sql, params = compiler.compile(self.get_source_expressions()[0])
        filter_sql, filter_params = (
            compiler.compile(self.filter) if self.filter is not None else ("", ())
        )
        return sql, params, filter_sql, filter_params

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params, filter_sql, filter_params = self._parts(compiler)
        return (
            f"percentile_cont({self.fraction}) WITHIN GROUP (ORDER BY {sql}){filter_sql}",
            (*params, *filter_params),
        )

    def as_sql(self, compiler, connection, **extra_context):
        # SQLite: the PERCENTILE_CONT(value, fraction) aggregate registered below.
        sql, params, filter_sql, filter_params = self._parts(compiler)
        return f"PERCENTILE_CONT({sql}, {self.fraction}){filter_sql}", (*params, *filter_params)


class FloatList(Field):
    """An aggregate's list of floats: a PostgreSQL array, or JSON text from SQLite."""

    def from_db_value(self, value, expression, connection):
        return json.loads(value) if isinstance(value, str) else value


class Percentiles(Percentile):
    """Several percentiles of one expression with a single sort: a list, in `fractions` order."""

    name = "Percentiles"
    output_field = FloatList()

    def __init__(self, expression, fractions, **extra):
        for fraction in fractions:
            if not 0 <= fraction <= 1:
                raise ValueError("fractions must be between 0 and 1")
        self.fractions = [float(f) for f in fractions]
        Aggregate.__init__(self, expression, **extra)

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params, filter_sql, filter_params = self._parts(compiler)
        fractions = ", ".join(str(f) for f in self.fractions)
        return (
            f"percentile_cont(ARRAY[{fractions}]::float8[]) WITHIN GROUP (ORDER BY {sql}){filter_sql}",
            (*params, *filter_params),
        )

    def as_sql(self, compiler, connection, **extra_context):
        sql, params, filter_sql, filter_params = self._parts(compiler)
        return f"PERCENTILES_CONT({sql}, '{json.dumps(self.fractions)}'){filter_sql}", (
            *params,
            *filter_params,
        )


class Seconds(Func):
    """Seconds from `start` to `end` (two datetime columns), as a float."""

    output_field = FloatField()
    arity = 2

    def as_postgresql(self, compiler, connection, **extra_context):
        end, start = (compiler.compile(e) for e in self.get_source_expressions())
        return f"EXTRACT(EPOCH FROM ({end[0]} - {start[0]}))::float", (*end[1], *start[1])

    def as_sql(self, compiler, connection, **extra_context):
        end, start = (compiler.compile(e) for e in self.get_source_expressions())
        return f"((julianday({end[0]}) - julianday({start[0]})) * 86400.0)", (*end[1], *start[1])


def _interpolate(ordered, fraction):
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class _PercentileCont:
    """SQLite's PERCENTILE_CONT(value, fraction): linear interpolation, like PostgreSQL's."""

    def __init__(self):
        self.values = []
        self.fraction = 0.5

    def step(self, value, fraction):
        if value is not None:
            self.values.append(value)
        self.fraction = fraction

    def finalize(self):
        if not self.values:
            return None
        self.values.sort()
        return _interpolate(self.values, self.fraction)


class _PercentilesCont(_PercentileCont):
    """SQLite's PERCENTILES_CONT(value, '[fractions]'): a JSON list, or NULL with no values."""

    def finalize(self):
        if not self.values:
            return None
        self.values.sort()
        return json.dumps([_interpolate(self.values, f) for f in json.loads(self.fraction)])


@receiver(connection_created, dispatch_uid="dashboard.sqlite_percentile")
def register_sqlite_percentile(sender, connection, **kwargs):
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate("PERCENTILE_CONT", 2, _PercentileCont)
        connection.connection.create_aggregate("PERCENTILES_CONT", 2, _PercentilesCont)
