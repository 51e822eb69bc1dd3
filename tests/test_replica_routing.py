"""Replica settings, and the replica checks that need no second server (the real replica is in
tests/test_cluster.py)."""

import time

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import create_engine, select

from inventory.config import SettingsError, settings_from_environment
from inventory.models import User
from inventory.replica import (
    OK,
    UNREACHABLE,
    ReadRouter,
    ReplicaHealth,
    ReplicaMonitor,
)

NOBODY_LISTENS = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> pytest.MonkeyPatch:
    """The test environment without a `.env` and without replica settings."""
    monkeypatch.chdir(tmp_path)
    for name in ("DATABASE_REPLICA_URL", "REPLICA_MAX_LAG_SECONDS"):
        monkeypatch.setenv(name, "placeholder")
        monkeypatch.delenv(name)
    return monkeypatch


def test_without_a_replica_url_there_is_no_replica(env):
    settings = settings_from_environment()
    assert settings.database_replica_url is None
    assert settings.replica_max_lag_seconds == 5


def test_the_replica_url_is_normalised_to_psycopg_3(env):
    env.setenv("DATABASE_REPLICA_URL", " postgres://app:pw@replica:5432/inventory ")
    settings = settings_from_environment()
    assert settings.database_replica_url == "postgresql+psycopg://app:pw@replica:5432/inventory"


def test_a_replica_url_of_another_database_is_refused_by_name(env):
    env.setenv("DATABASE_REPLICA_URL", "mysql://app@replica/inventory")
    with pytest.raises(SettingsError, match="DATABASE_REPLICA_URL must start with postgresql"):
        settings_from_environment()


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_a_max_lag_below_one_second_or_not_a_number_is_refused(env, value):
    env.setenv("REPLICA_MAX_LAG_SECONDS", value)
    with pytest.raises(SettingsError, match="REPLICA_MAX_LAG_SECONDS"):
        settings_from_environment()


def _router(engine, replica_url: str) -> ReadRouter:
    replica = create_engine(replica_url)
    monitor = ReplicaMonitor(engine, replica, max_lag_seconds=5)
    return ReadRouter(engine, engine, replica, monitor)


def test_a_replica_that_does_not_answer_is_unreachable_and_reads_go_to_the_primary(engine):
    router = _router(engine, NOBODY_LISTENS)
    assert router.monitor.check().as_dict() == {"replica": UNREACHABLE, "replica_lag_seconds": None}
    assert router.choose(fence=None) is router.primary


def test_a_server_that_is_not_in_recovery_is_never_read_as_a_replica(engine):
    # Pointing the replica URL at a primary (or at a promoted replica) must not split reads
    # between two servers that both take writes.
    router = _router(engine, engine.url.render_as_string(hide_password=False))
    health = router.monitor.check()
    assert health.state != OK
    assert router.choose(fence=None) is router.primary


def _fallbacks_counted() -> float:
    labels = {"target": "primary", "reason": "replica_failed"}
    return REGISTRY.get_sample_value("inventory_db_reads_total", labels) or 0.0


def test_a_query_the_replica_fails_is_answered_by_the_primary(engine, make_user):
    user = make_user()
    router = _router(engine, NOBODY_LISTENS)
    # As if the last check had found the replica fit: the next query is sent there, fails to
    # connect, and must be answered by the primary instead of failing the request.
    router.monitor._health = ReplicaHealth(OK, 0.0, replayed=0, checked_at=time.monotonic())
    before = _fallbacks_counted()
    with router.read_session(lambda: None) as session:
        found = session.scalar(select(User.username).where(User.id == user.id))
    assert found == user.username
    assert _fallbacks_counted() == before + 1
    assert router.monitor.health().state == UNREACHABLE
