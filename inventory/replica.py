"""Read replicas: which database a GET reads from, and when a replica is fit to read.

With `DATABASE_REPLICA_URL` set, a GET's queries go to the streaming replica unless:
- the replica does not answer, or lags the primary by more than `REPLICA_MAX_LAG_SECONDS`
  (checked at most once a second in each process), or
- the caller wrote something the replica has not replayed yet (their read fence, below).
Then, and whenever a query on the replica fails, the GET reads from the primary instead: a
replica never turns a read into an error. A GET the replica answers with 404 is run again on the
primary (`inventory.routing`), so "not found" is never just "not replicated yet". Writes,
and every read inside a write, use the primary.

Read-your-writes across hosts: after a request's transaction commits, the primary's WAL
position is stored as the caller's fence (`read_fences`, on the primary, so every host sees it);
the user's row is loaded from the primary on every request anyway, and the fence comes with it.
A replica serves that user's reads only once it has replayed past the fence.

Lag is measured against the primary, not from the replica's own clock: each check samples the
primary's WAL position, and the replica's lag is the age of the newest sample it has replayed.
A replica whose stream broke therefore ages even when it thinks it is up to date, and a replica
of an idle primary is not "behind" just because nothing was written for a while.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import Engine, func, literal_column, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlmodel import Session

from inventory.models import ReadFence, User

logger = logging.getLogger(__name__)

CHECK_INTERVAL_SECONDS = 1.0
"""How often each process asks the replica how far it is (at most; only while it is used)."""
SAMPLES_KEPT = 600
"""Primary WAL positions remembered for measuring lag: ten minutes' worth at one a second."""

PRIMARY_POSITION = text("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")
"""The primary's WAL position in bytes (an LSN as a number)."""
REPLAYED_POSITION = text(
    "SELECT pg_is_in_recovery(), pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::bigint, "
    "extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float"
)
"""Whether the server is a replica, the WAL position it has replayed, and the age of the last
commit it replayed."""

READ_FENCE = (
    select(ReadFence.lsn)
    .where(ReadFence.user_id == User.__table__.c.id)
    .scalar_subquery()
    .label("read_fence")
)
"""The user's fence, for loading it in the same statement as the user."""

READS = Counter(
    "inventory_db_reads_total",
    "Read-only requests by the database that served them (replica or primary) and why.",
    ["target", "reason"],
)

OK, LAGGING, UNREACHABLE = "ok", "lagging", "unreachable"
FAILURES = (OperationalError, InterfaceError)
"""Errors that mean the replica (or the connection to it) is unfit; a query that hits one is
run again on the primary. Hot-standby query conflicts (40001) are OperationalErrors too."""


@dataclass(frozen=True)
class ReplicaHealth:
    """What the last check found: `state` is ok, lagging or unreachable."""

    state: str
    lag_seconds: float | None
    replayed: int | None
    """The WAL position (bytes) the replica had replayed."""
    checked_at: float

    def as_dict(self) -> dict[str, Any]:
        """The replica's part of `/health/ready`."""
        lag = None if self.lag_seconds is None else round(self.lag_seconds, 3)
        return {"replica": self.state, "replica_lag_seconds": lag}


class ReplicaMonitor:
    """Knows, to within a second, whether the replica is up and how far behind it is."""

    def __init__(self, primary: Engine, replica: Engine, max_lag_seconds: float) -> None:
        self.primary = primary
        self.replica = replica
        self.max_lag_seconds = max_lag_seconds
        self._samples: deque[tuple[float, int]] = deque(maxlen=SAMPLES_KEPT)
        self._health: ReplicaHealth | None = None
        self._checking = threading.Lock()

    def health(self) -> ReplicaHealth:
        """The last check's finding, checking again when it is over a second old.

        One thread checks; the others meanwhile go by the previous finding.
        """
        health = self._health
        if health is not None and time.monotonic() - health.checked_at < CHECK_INTERVAL_SECONDS:
            return health
        if not self._checking.acquire(blocking=health is None):
            return health
        try:
            if self._health is not health:  # another thread checked while this one waited
                return self._health
            return self.check()
        finally:
            self._checking.release()

    def check(self) -> ReplicaHealth:
        """Ask the primary and the replica now."""
        self._sample_primary()
        try:
            with self.replica.connect() as connection:
                in_recovery, replayed, replay_age = connection.execute(REPLAYED_POSITION).one()
        except SQLAlchemyError as error:
            return self.mark_down(error)
        if not in_recovery:
            # A promoted replica is a second primary: reading from it could miss writes.
            health = ReplicaHealth(UNREACHABLE, None, None, time.monotonic())
        else:
            lag = self._lag(replayed, replay_age)
            fit = lag is not None and lag <= self.max_lag_seconds
            health = ReplicaHealth(OK if fit else LAGGING, lag, replayed, time.monotonic())
        self._health = health
        return health

    def _sample_primary(self) -> None:
        taken_at = time.monotonic()
        try:
            with self.primary.connect() as connection:
                position = connection.scalar(PRIMARY_POSITION)
        except SQLAlchemyError:
            return  # the primary's own errors surface where it is used
        self._samples.append((taken_at, position))

    def _lag(self, replayed: int, replay_age: float | None) -> float | None:
        """At most how many seconds of writes the replica is missing (None: unknown).

        Two bounds, the smaller wins: the age of the newest primary position the replica has
        replayed (0 when it has replayed the one just sampled; coarse after a process sat
        idle), and the age of the last commit it replayed (tight under writes, but grows
        while an idle primary commits nothing, which the first bound covers).
        """
        bounds = [] if replay_age is None else [max(0.0, replay_age)]
        for taken_at, position in reversed(self._samples):
            if position <= replayed:
                bounds.append(max(0.0, time.monotonic() - taken_at))
                break
        return min(bounds, default=None)

    def mark_down(self, error: BaseException) -> ReplicaHealth:
        """Stop reading from the replica until the next check."""
        if self._health is None or self._health.state != UNREACHABLE:
            logger.warning("the replica is unreachable: %s", type(error).__name__)
        health = ReplicaHealth(UNREACHABLE, None, None, time.monotonic())
        self._health = health
        return health

    def has_replayed(self, fence: int) -> bool:
        """Whether the replica holds everything up to WAL position `fence`.

        The last check usually says so already; if not, one question to the replica.
        """
        health = self._health
        if health is not None and health.replayed is not None and health.replayed >= fence:
            return True
        try:
            with self.replica.connect() as connection:
                _, replayed, _ = connection.execute(REPLAYED_POSITION).one()
        except SQLAlchemyError as error:
            self.mark_down(error)
            return False
        if health is not None and health.state == OK:
            self._health = replace(health, replayed=max(replayed, health.replayed or 0))
        return replayed >= fence


@dataclass(frozen=True)
class Target:
    """Where a read-only session runs its queries."""

    engine: Engine
    is_replica: bool


class ReadRouter:
    """Chooses the database for each GET, and keeps each writer's read fence."""

    def __init__(
        self,
        primary: Engine,
        primary_reads: Engine,
        replica_reads: Engine,
        monitor: ReplicaMonitor,
    ) -> None:
        """`primary` for writes; `primary_reads` and `replica_reads` in autocommit, for GETs."""
        self.primary = Target(primary_reads, is_replica=False)
        self.replica = Target(replica_reads, is_replica=True)
        self.monitor = monitor
        self._write_engine = primary

    def choose(self, fence: int | None) -> Target:
        """The replica if it is fit and has the caller's own writes, else the primary."""
        health = self.monitor.health()
        if health.state != OK:
            return self._on_primary(f"replica_{health.state}")
        if fence is not None and not self.monitor.has_replayed(fence):
            return self._on_primary("own_write")
        READS.labels("replica", "replica_ok").inc()
        return self.replica

    def _on_primary(self, reason: str) -> Target:
        READS.labels("primary", reason).inc()
        return self.primary

    def replica_failed(self, error: BaseException) -> Target:
        """A query on the replica failed: stop using it until the next check; the primary."""
        self.monitor.mark_down(error)
        return self._on_primary("replica_failed")

    def replica_found_nothing(self) -> Target:
        """The replica answered "not found", which it may only because it is behind: the
        primary, to be sure."""
        return self._on_primary("not_found_on_replica")

    def read_session(self, caller_fence: Callable[[], int | None]) -> RoutedReadSession:
        """A session for a GET; `caller_fence` tells the caller's fence once they are known."""
        return RoutedReadSession(self, caller_fence)

    def write_session(self, caller_id: Callable[[], int | None]) -> FencingSession:
        """A session on the primary that leaves the caller's fence after each commit."""
        return FencingSession(self, caller_id, bind=self._write_engine, expire_on_commit=False)

    def record_fence(self, user_id: int) -> None:
        """Store the primary's WAL position now as `user_id`'s fence (call after a commit).

        One short statement of its own, after the write committed: it never holds a lock on
        the fence row during a write, so one user's parallel writes do not wait on each other.
        """
        position = literal_column("pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")
        statement = insert(ReadFence).values(user_id=user_id, lsn=position)
        statement = statement.on_conflict_do_update(
            index_elements=[ReadFence.user_id],
            set_={"lsn": func.greatest(ReadFence.lsn, statement.excluded.lsn)},
        )
        try:
            with self.primary.engine.connect() as connection:
                connection.execute(statement)
        except SQLAlchemyError as error:
            # The write itself committed; without its fence the caller may, for a moment,
            # read from a replica that has not caught up yet.
            logger.warning("could not record the read fence: %s", type(error).__name__)


Result = TypeVar("Result")


class RoutedReadSession(Session):
    """A GET's session: picks its database at the first query (the caller is known by then),
    and runs a query again on the primary if the replica fails it."""

    def __init__(self, router: ReadRouter, caller_fence: Callable[[], int | None]) -> None:
        super().__init__(expire_on_commit=False)
        self._router = router
        self._caller_fence = caller_fence
        self._target: Target | None = None

    def get_bind(self, *args: Any, **kwargs: Any) -> Engine:
        if self._target is None:
            self._target = self._router.choose(self._caller_fence())
        return self._target.engine

    def _with_fallback(self, run: Callable[..., Result], *args: Any, **kwargs: Any) -> Result:
        try:
            return run(*args, **kwargs)
        except FAILURES as error:
            if self._target is None or not self._target.is_replica:
                raise
            # Reads only, in autocommit: running the query again elsewhere is safe. Objects
            # loaded from the replica are expired and reload from the primary if touched.
            self.rollback()
            self._target = self._router.replica_failed(error)
            return run(*args, **kwargs)

    def read_again_on_primary(self) -> bool:
        """Send this session's next queries to the primary; False if they went there anyway.

        For a read the replica answered with "not found": someone else may have written the
        row a moment ago (a webhook's receiver fetching the product the event names), and a
        404 must come from the primary, never from a replica that has not caught up yet.
        """
        if self._target is None or not self._target.is_replica:
            return False
        self.expunge_all()
        self._target = self._router.replica_found_nothing()
        return True

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        return self._with_fallback(super().execute, *args, **kwargs)

    def scalar(self, *args: Any, **kwargs: Any) -> Any:
        return self._with_fallback(super().scalar, *args, **kwargs)

    def scalars(self, *args: Any, **kwargs: Any) -> Any:
        return self._with_fallback(super().scalars, *args, **kwargs)


class FencingSession(Session):
    """A write's session on the primary; each commit leaves the caller's read fence."""

    def __init__(
        self, router: ReadRouter, caller_id: Callable[[], int | None], **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self._router = router
        self._caller_id = caller_id

    def commit(self) -> None:
        super().commit()
        user_id = self._caller_id()
        if user_id is not None:
            self._router.record_fence(user_id)


class ReplicaCollector:
    """The replica's state and lag at scrape time, for /metrics."""

    def __init__(self, monitor: ReplicaMonitor) -> None:
        self.monitor = monitor

    def collect(self) -> Iterator[GaugeMetricFamily]:
        health = self.monitor.health()
        yield GaugeMetricFamily(
            "inventory_replica_up",
            "1 when the replica answers and lags less than REPLICA_MAX_LAG_SECONDS, else 0.",
            value=1 if health.state == OK else 0,
        )
        if health.lag_seconds is not None:
            yield GaugeMetricFamily(
                "inventory_replica_lag_seconds",
                "How far the replica's data is behind the primary's, in seconds.",
                value=health.lag_seconds,
            )
