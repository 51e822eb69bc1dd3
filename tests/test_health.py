"""Liveness and readiness answer without a token; readiness tells the truth about the database."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import ROOT, _free_port

UNREACHABLE_DATABASE = "postgresql://nobody@127.0.0.1:1/none"


def test_health_answers_ok_without_a_token(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_answers_ok_when_the_database_answers(client):
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_health_responses_carry_a_request_id_and_nosniff(client):
    response = client.get("/health")
    assert len(response.headers["X-Request-ID"]) >= 16
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_callers_request_id_is_echoed_when_it_is_well_formed(client):
    echoed = client.get("/health", headers={"X-Request-ID": "lb-42.a_b"})
    replaced = client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert echoed.headers["X-Request-ID"] == "lb-42.a_b"
    assert replaced.headers["X-Request-ID"] not in ("", "bad id\twith spaces")


def test_a_live_server_sends_no_server_banner(live_server):
    response = httpx.get(f"{live_server}/health/ready")
    assert response.status_code == 200
    assert "server" not in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Request-ID"]


@pytest.fixture
def server_without_database(tmp_path) -> Iterator[str]:
    """A real server process whose database does not exist; its base URL."""
    port = _free_port()
    stderr = (tmp_path / "stderr.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "inventory.main:app", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": UNREACHABLE_DATABASE, "ENVIRONMENT": "development"},
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{base_url}/health", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    stderr.seek(0)
                    pytest.fail(f"server did not start: {stderr.read()[-2000:]}")
                time.sleep(0.1)
        yield base_url
    finally:
        process.kill()
        process.wait(timeout=10)
        stderr.close()


def test_ready_answers_503_with_retry_after_when_the_database_is_unreachable(
    server_without_database,
):
    alive = httpx.get(f"{server_without_database}/health", timeout=10)
    ready = httpx.get(f"{server_without_database}/health/ready", timeout=10)

    assert alive.status_code == 200
    assert alive.json() == {"status": "ok"}
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "database": "unreachable"}
    assert int(ready.headers["Retry-After"]) > 0
