"""Database routing: reads of list pages, exports and the dashboard may go to a replica.

Only views wrapped in `use_replica` read from it, and only when a `replica` database is
configured (DATABASE_REPLICA_URL). Claims and decisions never are: they lock and write rows
and must see the primary's latest state.
"""

import contextvars
from functools import wraps

from django.db import connections

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


def pool_stats(connection) -> dict | None:
    pool = getattr(connection, "pool", None)
    if pool is None:
        return None
    stats = pool.get_stats()
    size, available = stats.get("pool_size", 0), stats.get("pool_available", 0)
    return {"size": size, "available": available, "busy": size - available}
