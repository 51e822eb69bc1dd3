"""How a real `serve` process stops (issue 12 finding 7): on SIGTERM it refuses new connections
at once while the requests in flight finish; its workers exit when it dies, even by kill -9;
and the embedded database forgets the processes that died without detaching."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest
from sqlalchemy import text

from tests.conftest import auth_headers, start_server, stop_server

pytestmark = pytest.mark.live

SLOW_START = 120
"""Seconds a server on the embedded database may take to start: starting or attaching to one
waits on a lock that every embedded server on the machine shares."""


def _wait_for(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def _waiting_on_a_product_lock(engine) -> bool:
    with engine.connect() as connection:
        return bool(
            connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND query LIKE '%products%'"
                )
            )
        )


def _accepts_connections(server: str) -> bool:
    host, port = server.removeprefix("http://").split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_after_sigterm_new_connections_are_refused_at_once_while_one_in_flight_finishes(
    tmp_path, engine, admin_user, product
):
    server = start_server(tmp_path / "server.log", "--workers", "2", GRACEFUL_TIMEOUT="20")
    headers = auth_headers(admin_user)
    outcome: dict[str, httpx.Response] = {}
    try:
        with engine.connect() as blocker:
            blocker.execute(
                text("SELECT id FROM products WHERE id = :id FOR UPDATE"), {"id": product["id"]}
            )

            def rename() -> None:
                outcome["response"] = httpx.patch(
                    f"{server}/api/v1/products/{product['id']}",
                    json={"name": "Renamed during shutdown"},
                    headers=headers,
                    timeout=30,
                )

            in_flight = threading.Thread(target=rename)
            in_flight.start()
            _wait_for(lambda: _waiting_on_a_product_lock(engine))
            signalled = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            _wait_for(lambda: not _accepts_connections(server), timeout=5)
            refused_after = time.monotonic() - signalled
            assert server.process.poll() is None, "the server must wait for the request"
            blocker.rollback()
        in_flight.join(timeout=30)
        assert server.process.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        stop_server(server)
    assert refused_after < 1.0
    assert outcome["response"].status_code == 200
    assert outcome["response"].json()["name"] == "Renamed during shutdown"


def test_workers_exit_within_seconds_when_their_supervisor_is_killed(tmp_path):
    server = start_server(tmp_path / "server.log", "--workers", "2")
    children = psutil.Process(server.process.pid).children()
    workers = [child.pid for child in children if "spawn_main" in " ".join(child.cmdline())]
    try:
        assert len(workers) == 2
        server.process.kill()
        server.process.wait(timeout=5)
        _wait_for(lambda: not any(_running(pid) for pid in workers), timeout=5)
        assert not _accepts_connections(server)
    finally:
        stop_server(server)
        for pid in workers:
            if _running(pid):
                os.kill(pid, signal.SIGKILL)


def test_the_embedded_database_forgets_a_killed_user_and_stops_with_the_last_live_one(tmp_path):
    data_dir = Path(tempfile.mkdtemp(prefix="inventory-embedded-")) / "pg"
    env = {"EMBEDDED_DB_DIR": str(data_dir), "DATABASE_URL": ""}
    users_file = data_dir / ".handle_pids.json"
    try:
        # Create and migrate the database first: initdb can outlast a server's start-up wait.
        subprocess.run(
            [sys.executable, "-m", "inventory", "migrate"],
            env={**os.environ, **env},
            check=True,
            capture_output=True,
            timeout=180,
        )
        assert json.loads(users_file.read_text()) == []
        first = start_server(
            tmp_path / "first.log", "--workers", "1", startup_seconds=SLOW_START, **env
        )
        first.process.kill()
        first.process.wait(timeout=5)
        assert json.loads(users_file.read_text()) == [first.process.pid]

        second = start_server(
            tmp_path / "second.log", "--workers", "1", startup_seconds=SLOW_START, **env
        )
        try:
            assert json.loads(users_file.read_text()) == [second.process.pid]
        finally:
            stop_server(second)

        assert json.loads(users_file.read_text()) == []
        assert not (data_dir / "postmaster.pid").exists()
    finally:
        _stop_leftover_postgres(data_dir)
        shutil.rmtree(data_dir.parent, ignore_errors=True)


def _stop_leftover_postgres(data_dir: Path) -> None:
    for process in psutil.process_iter(["name", "cmdline"]):
        if process.info["name"] == "postgres" and str(data_dir) in (process.info["cmdline"] or []):
            process.terminate()
