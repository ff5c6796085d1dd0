"""Database routing: reads of list pages, exports and the dashboard may go to a replica.

Only views wrapped in `use_replica` read from it, and only when a `replica` database is
configured (DATABASE_REPLICA_URL). Claims and decisions never are: they lock and write rows
and must see the primary's latest state.
"""

import contextvars
from functools import wraps
from time import monotonic
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connections, router, transaction
from django.db.models import Model
from django.db.models.expressions import DatabaseDefault
from django.db.models.query import get_related_populators
from django.db.models.signals import post_save, pre_save
from django.db.models.sql import InsertQuery
from django.http import Http404

_read_from_replica = contextvars.ContextVar("read_from_replica", default=False)


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        if _read_from_replica.get() and "replica" in connections.settings:
            return "replica"
        return "default"

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"


def use_replica(view):
    """Let this read-only view's queries go to the replica, if there is one."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        token = _read_from_replica.set(True)
        try:
            return view(*args, **kwargs)
        finally:
            _read_from_replica.reset(token)

    return wrapper


def generic_plans(using) -> None:
    """Until the transaction ends (or custom_plans()), prepared statements run with the plan
    PostgreSQL made once for any values, instead of one planned for their values every time
    (the site's `plan_cache_mode`, see settings.py). For statements whose best plan does not
    depend on their values, like a claim's read of the queue's head in order."""
    _plan_cache_mode(using, "SELECT set_config('plan_cache_mode', 'force_generic_plan', true)")


def custom_plans(using) -> None:
    """Back to the site's plans, each made for its statement's values (after generic_plans)."""
    _plan_cache_mode(using, "RESET plan_cache_mode")


def _plan_cache_mode(using, statement) -> None:
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(statement)


def pool_stats(connection) -> dict | None:
    pool = getattr(connection, "pool", None)
    if pool is None:
        return None
    stats = pool.get_stats()
    size, available = stats.get("pool_size", 0), stats.get("pool_available", 0)
    return {"size": size, "available": available, "busy": size - available}


class Kept:
    """Answers read from the database that this process keeps for a few seconds (the setting
    named `seconds`): for a read on every request of rows that seldom change. At most `bound`
    answers, since their keys may come from outside; `forget()` drops them all."""

    def __init__(self, seconds: str, bound: int = 1000):
        self.seconds, self.bound, self.kept = seconds, bound, {}

    def get(self, key, read):
        """The answer kept for `key`, or `read()`'s, kept from now on."""
        now = monotonic()
        kept = self.kept.get(key)
        if kept is not None and kept[0] > now:
            return kept[1]
        answer = read()
        if len(self.kept) >= self.bound:
            self.kept.clear()
        self.kept[key] = (now + getattr(settings, self.seconds), answer)
        return answer

    def forget(self) -> None:
        self.kept.clear()


class _Statement(NamedTuple):
    """A QuerySet compiled for one database (Compiled), with what reading its rows needs."""

    sql: str
    params: list
    slots: list[list[int]]  # per marker, the indexes of the parameters it stands for
    converters: dict  # the backend's converters of the selected columns, by position
    model: Any
    names: list[str]  # the attnames of the model's fields selected, in the row's order
    fields: list[int]  # their positions in the row
    annotations: dict[str, int]  # the annotations' positions
    fetch_mode: Any
    related: list  # the ORM's populators of the select_related() objects


class Compiled:
    """A query the ORM compiles once per database, then runs with other values in its
    markers' places.

    For the reads every request makes (the signed-in user with their roles, an API call's job,
    a new result's routing rule): building and compiling a QuerySet anew took more of such a
    request than the database did (docs/performance.md, "The API's request"). `build` gets
    the markers and returns the QuerySet; every parameter equal to a marker (of its type) is
    replaced by the value given for it. The statement's text never changes, so PostgreSQL
    prepares it once per connection.
    """

    def __init__(self, build, *markers):
        self.build, self.markers = build, markers
        self.compiled = {}

    def statement(self, db, *values) -> tuple[str, list]:
        compiled = self._compiled(db)
        params = compiled.params.copy()
        for at, value in zip(compiled.slots, values, strict=True):
            for i in at:
                params[i] = value
        return compiled.sql, params

    def _compiled(self, db) -> _Statement:
        if (compiled := self.compiled.get(db)) is None:
            queryset = self.build(*self.markers).using(db)
            compiler = queryset.query.get_compiler(db)
            sql, params = compiler.as_sql()
            slots = [
                [i for i, p in enumerate(params) if type(p) is type(m) and p == m]
                for m in self.markers
            ]
            if not all(slots):
                raise ValueError(f"A marker is not among the parameters of: {sql}")
            columns = [column for column, _, _ in compiler.select[: compiler.col_count]]
            klass_info = compiler.klass_info or {}
            fields = klass_info.get("select_fields", [])
            compiled = self.compiled[db] = _Statement(
                sql,
                list(params),
                slots,
                converters=compiler.get_converters(columns),
                model=queryset.model,
                names=[compiler.select[i][0].target.attname for i in fields],
                fields=fields,
                annotations=compiler.annotation_col_map,
                fetch_mode=queryset._fetch_mode,
                related=get_related_populators(
                    klass_info, compiler.select, db, queryset._fetch_mode
                ),
            )
        return compiled

    def first_row(self, *values, using="default") -> tuple | None:
        """The statement's first row as the ORM would give it (for a values_list() QuerySet),
        or None."""
        with connections[using].cursor() as cursor:
            cursor.execute(*self.statement(using, *values))
            row = cursor.fetchone()
        return None if row is None else self.converted(row, using)

    def instance(self, *values, using="default"):
        """The first row as the model instance the ORM would give (with its annotations), or
        None. Built as the ORM's ModelIterable builds it, without its per-query set-up: that
        (or raw()'s, which reads the columns' names from the cursor) cost a small API call as
        much as its statement did (docs/performance.md, "The API's request")."""
        row = self.first_row(*values, using=using)
        return None if row is None else self.built(row, using)

    def columns(self, using="default") -> list[str]:
        """The model's columns this statement selects, in its order: what another statement
        (an UPDATE's RETURNING) returns for converted() and built() to read."""
        compiled = self._compiled(using)
        return [compiled.model._meta.get_field(name).column for name in compiled.names]

    def read(self, statement, params, using="default"):
        """The model instance of the first row of another statement, or None: `statement`
        gets this statement's columns (quoted, in its order) and returns the SQL that selects
        or returns them (an UPDATE's RETURNING, a claim's CTEs). raw() would work out the
        columns and their converters again for every row it reads."""
        connection = connections[using]
        columns = ", ".join(connection.ops.quote_name(c) for c in self.columns(using))
        with connection.cursor() as cursor:
            cursor.execute(statement(columns), params)
            row = cursor.fetchone()
        return None if row is None else self.built(self.converted(row, using), using)

    def converted(self, row, using="default") -> tuple:
        """A row of this statement's columns with the backend's converters applied."""
        connection, row = connections[using], list(row)
        for at, (converters, expression) in self._compiled(using).converters.items():
            for convert in converters:
                row[at] = convert(row[at], expression, connection)
        return tuple(row)

    def built(self, row, using="default"):
        """The model instance of a converted row of this statement's columns."""
        compiled = self._compiled(using)
        obj = compiled.model.from_db(
            using,
            compiled.names,
            [row[i] for i in compiled.fields],
            fetch_mode=compiled.fetch_mode,
        )
        for name, at in compiled.annotations.items():
            setattr(obj, name, row[at])
        for populator in compiled.related:
            populator.populate(row, obj)
        return obj


class ByPk:
    """One row by its (integer) primary key, read with a statement compiled once (Compiled).

    `rows()` gives the QuerySet to read from: filters, annotations, only(), select_related()
    or select_for_update(). A detail page reads its row with one (`get_or_404`): compiling
    the page's select_related() query anew was a third of a missing row's 404 page
    (docs/performance.md, "The floor, again").
    """

    MARKER = -7_301_009

    def __init__(self, rows):
        self.rows = rows
        self.model = self.for_update = None
        self.span = {}  # per database: the key column's range
        self.compiled = Compiled(lambda pk: rows().filter(pk=pk), self.MARKER)

    def get(self, pk):
        """The row with this key, or None."""
        db = self._db()
        if not self.fits(pk, db):  # no such row; the ORM says so too, without asking
            return None
        return self.compiled.instance(pk, using=db)

    def get_or_404(self, pk):
        """The row with this key, or Http404 as get_object_or_404() raises it."""
        if (obj := self.get(pk)) is None:
            raise Http404(f"No {self.model._meta.object_name} matches the given query.")
        return obj

    def fits(self, pk, db=None) -> bool:
        """Whether `pk` is within the key column's range: a key beyond it would overflow the
        driver, so no statement may be sent with it."""
        db = db or self._db()
        if (span := self.span.get(db)) is None:
            field = self.model._meta.pk.get_internal_type()
            span = self.span[db] = connections[db].ops.integer_field_range(field)
        low, high = span
        return low <= pk <= high

    def _db(self) -> str:
        if self.model is None:
            queryset = self.rows()
            self.model, self.for_update = queryset.model, queryset.query.select_for_update
        route = router.db_for_write if self.for_update else router.db_for_read
        return route(self.model)


class _Insert(NamedTuple):
    """A model's one-row INSERT compiled for one database (insert)."""

    sql: str
    returning: list
    converters: dict


_inserts: dict[tuple, _Insert | None] = {}
_insertable: dict[tuple, bool] = {}


def insert(obj, using=None):
    """Save `obj` as a new row, as `obj.save(force_insert=True)` does (its fields' pre_save,
    the signals, the values the database returns), with its INSERT compiled once per model,
    database and set of fields left to their database default: compiling it again was a
    fifth of the CPU of the API's new result, which writes three rows (docs/performance.md,
    "A new result's three INSERTs").

    A model this does not cover (a parent table, an order with respect to another, a field
    with its own placeholder) is saved by save(); a value that is another expression than a
    database default, by the ORM's own INSERT."""
    model, meta = type(obj), obj._meta
    using = using or router.db_for_write(model, instance=obj)
    connection = connections[using]
    if (insertable := _insertable.get((model, using))) is None:
        insertable = _insertable[model, using] = _covered(model, connection)
    if not insertable:
        obj.save(force_insert=True, using=using)
        return obj
    obj._prepare_related_fields_for_save(operation_name="save")
    pre_save.send(sender=model, instance=obj, raw=False, using=using, update_fields=None)
    if getattr(obj, meta.pk.attname) is None:  # after pre_save, whose receivers may set it
        setattr(obj, meta.pk.attname, meta.pk.get_pk_value_on_save(obj))
    pk_set = getattr(obj, meta.pk.attname) is not None
    fields = [
        f
        for f in meta.local_concrete_fields
        if not f.generated and (pk_set or f is not meta.auto_field)
    ]
    values = [field.pre_save(obj, add=True) for field in fields]
    defaulted = tuple(i for i, v in enumerate(values) if isinstance(v, DatabaseDefault))
    compiled = None
    if not any(_is_expression(v) for i, v in enumerate(values) if i not in defaulted):
        key = (model, using, pk_set, defaulted)
        if key not in _inserts:
            _inserts[key] = _compile_insert(model, fields, values, defaulted, connection)
        compiled = _inserts[key]
    with transaction.mark_for_rollback_on_error(using):  # as save() does
        row, returning = _inserted(obj, compiled, fields, values, defaulted, connection)
    for field, value in zip(returning, row, strict=True):
        setattr(obj, field.attname, value)
    obj._state.adding, obj._state.db = False, using
    post_save.send(
        sender=model, instance=obj, created=True, update_fields=None, raw=False, using=using
    )
    return obj


def _inserted(obj, compiled, fields, values, defaulted, connection) -> tuple[list, list]:
    """Insert the row; its returned values and the fields they are of."""
    model, using = type(obj), connection.alias
    if compiled is None:  # another expression than a database default: the ORM compiles it
        returning = _returning(
            model, (f for f, v in zip(fields, values, strict=True) if _is_expression(v))
        )
        [row] = model._base_manager.using(using)._insert(
            [obj], fields=fields, returning_fields=returning, using=using
        )
    else:
        returning = compiled.returning
        params = [
            field.get_db_prep_save(value, connection)
            for i, (field, value) in enumerate(zip(fields, values, strict=True))
            if i not in defaulted
        ]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            row = list(cursor.fetchone()) if returning else []
        for at, (converters, expression) in compiled.converters.items():
            for convert in converters:
                row[at] = convert(row[at], expression, connection)
    return row, returning


def _is_expression(value) -> bool:
    return hasattr(value, "resolve_expression")


def _returning(model, computed) -> list:
    """What an INSERT returns, as save() asks for it: the model's returned fields (its key,
    its database defaults) and those whose value the database computes."""
    return list(dict.fromkeys([*model._meta.db_returning_fields, *computed]))


def _covered(model, connection) -> bool:
    """Whether insert() writes this model's rows as save() would."""
    meta = model._meta
    return not (
        meta.parents
        or meta.order_with_respect_to
        or meta.proxy
        or model.save is not Model.save
        or model.save_base is not Model.save_base
        or not connection.features.can_return_columns_from_insert
        or any(
            hasattr(f, "get_placeholder") or hasattr(f, "get_placeholder_sql")
            for f in meta.local_concrete_fields
        )
    )


def _compile_insert(model, fields, values, defaulted, connection) -> _Insert | None:
    """The INSERT of one row of `fields`, those at `defaulted` left to their database default
    and every other value a parameter; None if that is not how the ORM compiles it."""
    meta = model._meta
    blank = model(**{f.attname: None for f in fields})
    for i in defaulted:
        setattr(blank, fields[i].attname, values[i])
    returning = _returning(model, (fields[i] for i in defaulted))
    query = InsertQuery(model)
    query.insert_values(fields, [blank])
    compiler = query.get_compiler(connection=connection)
    compiler.returning_fields = returning
    [(sql, params)] = compiler.as_sql()
    if len(params) != len(fields) - len(defaulted):
        return None
    columns = [field.get_col(meta.db_table) for field in returning]
    return _Insert(sql, returning, compiler.get_converters(columns))
