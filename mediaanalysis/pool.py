"""The check the connection pool makes of a pooled connection before it hands it out."""

import select

from psycopg_pool import ConnectionPool


def check_connection(conn) -> None:
    """Raise if a pooled connection is no longer usable, as psycopg_pool's own check does,
    without its round trip to the server when the connection is healthy.

    A server that ends a connection (a restart, an administrator's terminate, a crash) closes
    its end of the socket, usually after a last error message: the idle connection's socket
    turns readable, which otherwise it never is. Only then is the server asked (psycopg_pool's
    empty statement), which raises for a dead connection and reads whatever else was sent.
    Asking on every checkout cost every request a round trip: a tenth of an API call's CPU
    (docs/performance.md, "The API's request").
    """
    if conn.closed or _readable(conn.fileno()):
        ConnectionPool.check_connection(conn)


def _readable(fd: int) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))
