"""Run a command against a throwaway PostgreSQL cluster: `python -m tests.throwaway_postgres CMD...`

With DATABASE_URL set, the command runs against that database as it is. Otherwise a cluster is
made in a temporary directory from the local server binaries (initdb, then pg_ctl on a free port
with fsync off), DATABASE_URL points at it for the command, and it is stopped and removed after.
A missing PostgreSQL is an error, never a silent skip. `--set name=value` (repeatable, before
the command) adds a server setting, e.g. `--set autovacuum=on` for the benchmark.
"""

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path


def find_bindir() -> Path:
    candidates = [os.environ.get("PG_BINDIR", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    if pg_ctl := shutil.which("pg_ctl"):
        candidates.append(str(Path(pg_ctl).parent))
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    sys.exit(
        "PostgreSQL server binaries not found (looked in /usr/lib/postgresql/*/bin and PATH).\n"
        "Install them (Debian: apt-get install postgresql-15) or set DATABASE_URL."
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def as_postgres(cmd: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root.
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


class Cluster:
    """A private PostgreSQL cluster in a temporary directory."""

    def __init__(self, bindir: Path | None = None, **settings: str):
        self.bindir = bindir or find_bindir()
        self.tmp = Path(tempfile.mkdtemp(prefix="pg-throwaway-"))
        if os.geteuid() == 0:
            shutil.chown(self.tmp, "postgres", "postgres")
        self.data = self.tmp / "data"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"
        subprocess.run(
            as_postgres(
                [
                    str(self.bindir / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        options = {
            "port": str(self.port),
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self.tmp),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "300",
            "shared_buffers": "256MB",
            # Statistics change only when a test or seed_bulk runs ANALYZE: deterministic plans,
            # and no statistics of one test's rows showing up in another's filter choices.
            "autovacuum": "off",
            **settings,
        }
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.writelines(f"{key} = '{value}'\n" for key, value in options.items())

    def _pg_ctl(self, *args: str, check: bool = True) -> None:
        pg_ctl = [
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.tmp / "server.log"),
            "-w",
            "-t",
            "60",
        ]
        subprocess.run(as_postgres([*pg_ctl, *args]), check=check, stdout=subprocess.DEVNULL)

    def start(self) -> None:
        self._pg_ctl("start")

    def stop(self) -> None:
        self._pg_ctl("stop", "-m", "immediate", check=False)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


@contextlib.contextmanager
def throwaway_cluster(**settings: str):
    """Start a private cluster; yield it (its `url` is a DATABASE_URL); remove it after."""
    cluster = Cluster(**settings)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


def main(argv: list[str]) -> int:
    settings = {}
    while argv[:1] == ["--set"] and len(argv) > 1:  # --set name=value: a server setting
        name, _, value = argv[1].partition("=")
        settings[name], argv = value, argv[2:]
    if not argv:
        sys.exit(__doc__)
    if os.environ.get("DATABASE_URL"):
        return subprocess.call(argv)
    with throwaway_cluster(**settings) as cluster:
        print(f"throwaway PostgreSQL at {cluster.url}", file=sys.stderr)
        return subprocess.call(argv, env={**os.environ, "DATABASE_URL": cluster.url})


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
