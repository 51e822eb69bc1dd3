"""Many more concurrent requests than pooled connections: they queue and all succeed, with no
worker dead-locked waiting on a connection that a request it cannot run yet is holding."""

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import start_server, stop_server

pytestmark = pytest.mark.live


def test_64_parallel_requests_on_a_pool_of_3_all_succeed(tmp_path, viewer, product):
    server = start_server(
        tmp_path / "server.log",
        "--workers",
        "1",
        DB_POOL_SIZE="2",
        DB_MAX_OVERFLOW="1",
        DB_POOL_TIMEOUT_SECONDS="5",
    )
    paths = [f"/api/v1/products/{product['id']}", "/api/v1/products", "/api/v1/auth/me"]
    try:
        with httpx.Client(base_url=server, headers=viewer, timeout=30) as http:

            def call(index: int) -> int:
                return http.get(paths[index % len(paths)]).status_code

            with ThreadPoolExecutor(max_workers=64) as pool:
                statuses = list(pool.map(call, range(640)))
    finally:
        stop_server(server)
    assert statuses.count(200) == 640, {status: statuses.count(status) for status in set(statuses)}
