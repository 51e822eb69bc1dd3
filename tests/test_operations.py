"""Operating the API: request ids, the request log, error bodies, limits, headers and metrics."""

import gc
import logging
import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient

from inventory import product_queries
from inventory.config import get_settings
from inventory.main import YOUNG_GENERATION_THRESHOLD, create_app
from inventory.models import Category, Product
from tests.factories import count


def test_a_sane_request_id_is_returned_as_it_came(client):
    response = client.get("/health", headers={"X-Request-ID": "order-sync.42_a"})
    assert response.headers["X-Request-ID"] == "order-sync.42_a"


@pytest.mark.parametrize("bad_id", ["has spaces", "x" * 201, "semi;colon", ""])
def test_an_unsafe_request_id_is_replaced_by_a_new_one(client, bad_id):
    response = client.get("/health", headers={"X-Request-ID": bad_id})
    assert response.headers["X-Request-ID"] != bad_id
    assert len(response.headers["X-Request-ID"]) == 32


def test_made_up_request_ids_are_32_hex_digits_and_never_repeat(client):
    ids = [client.get("/health").headers["X-Request-ID"] for _ in range(200)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", request_id) for request_id in ids)
    assert len(set(ids)) == 200


def test_error_responses_carry_the_request_id_too(client, viewer):
    missing = client.get("/api/v1/products/999", headers=viewer)
    unauthenticated = client.get("/api/v1/products")
    for response in (missing, unauthenticated):
        assert response.json()["request_id"] == response.headers["X-Request-ID"]


def test_every_request_is_logged_once_with_its_route_status_duration_and_user(
    client, viewer, viewer_user, product, caplog
):
    caplog.set_level(logging.INFO, logger="inventory.requests")
    response = client.get(f"/api/v1/products/{product['id']}", headers=viewer)
    lines = [r for r in caplog.records if r.name == "inventory.requests"]
    assert len(lines) == 1
    line = lines[0]
    assert line.method == "GET"
    assert line.path == f"/api/v1/products/{product['id']}"
    assert line.route == "/api/v1/products/{product_id}"
    assert line.status == 200
    assert line.duration_ms >= 0
    assert line.user_id == viewer_user.id
    assert line.request_id == response.headers["X-Request-ID"]


def test_an_unexpected_error_is_a_json_500_with_the_request_id_and_no_traceback(
    client, viewer, monkeypatch, caplog
):
    def broken(*args, **kwargs):
        raise RuntimeError("internal detail that must not leak")

    monkeypatch.setattr(product_queries, "list_products", broken)
    response = client.get("/api/v1/products", headers=viewer)
    assert response.status_code == 500
    body = response.json()
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert "internal detail" not in response.text
    assert "Traceback" not in response.text
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and errors[-1].exc_info is not None
    assert errors[-1].request_id == body["request_id"]


def test_a_body_over_the_limit_is_refused_with_413_and_nothing_is_written(client, manager, db):
    limit = get_settings().max_body_bytes
    huge = {"name": "Huge", "price": "1.00", "description": "x" * limit}
    response = client.post("/api/v1/products", json=huge, headers=manager)
    assert response.status_code == 413
    assert "detail" in response.json()
    assert count(db, Product) == 0


def test_a_streamed_body_without_length_is_cut_off_at_the_limit(live_server, manager, db):
    limit = get_settings().max_body_bytes

    def chunks():
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536

    response = httpx.post(
        f"{live_server}/api/v1/categories",
        content=chunks(),
        headers={**manager, "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert count(db, Category) == 0


def test_racing_duplicate_inserts_give_one_201_and_409s_never_a_500(live_server, manager, db):
    def create(_: int) -> int:
        body = {"name": "Raced"}
        return httpx.post(
            f"{live_server}/api/v1/categories", json=body, headers=manager
        ).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(create, range(10)))
    assert statuses.count(201) == 1
    assert statuses.count(409) == 9
    assert count(db, Category) == 1


def test_responses_carry_security_headers_and_no_server_banner(live_server):
    response = httpx.get(f"{live_server}/health")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "server" not in response.headers


def test_no_cross_origin_caller_is_allowed_by_default(client):
    response = client.options(
        "/api/v1/products",
        headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in response.headers


def test_cors_origins_setting_allows_exactly_those_origins(monkeypatch):
    from fastapi.testclient import TestClient

    monkeypatch.setenv("CORS_ORIGINS", "https://admin.shop.example")
    get_settings.cache_clear()
    try:
        with TestClient(create_app()) as cors_client:
            allowed = cors_client.options(
                "/api/v1/products",
                headers={
                    "Origin": "https://admin.shop.example",
                    "Access-Control-Request-Method": "GET",
                },
            )
            other = cors_client.options(
                "/api/v1/products",
                headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
            )
    finally:
        get_settings.cache_clear()
    assert allowed.headers["access-control-allow-origin"] == "https://admin.shop.example"
    assert "access-control-allow-origin" not in other.headers


def test_metrics_count_requests_by_route_template_and_show_active_alerts(client, viewer, admin):
    client.post(
        "/api/v1/products",
        json={"name": "Low", "price": "1.00", "stock_quantity": 1, "low_stock_threshold": 5},
        headers=admin,
    )
    client.get("/api/v1/products/1", headers=viewer)
    text = client.get("/metrics").text
    assert (
        'inventory_http_requests_total{method="GET",route="/api/v1/products/{product_id}",'
        'status="200"}' in text
    )
    assert "inventory_http_request_duration_seconds_bucket" in text
    assert "inventory_http_requests_in_flight" in text
    assert "inventory_low_stock_alerts_active 1.0" in text


def test_metrics_are_not_served_when_disabled(monkeypatch):
    from fastapi.testclient import TestClient

    monkeypatch.setenv("METRICS_ENABLED", "false")
    get_settings.cache_clear()
    try:
        with TestClient(create_app()) as plain_client:
            assert plain_client.get("/metrics").status_code == 404
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (None, 401),
        ("Bearer wrong-token", 401),
        ("Basic c2NyYXBlOm1l", 401),
        ("Bearer s3cret-scrape", 200),
    ],
)
def test_with_a_metrics_token_only_a_scraper_that_sends_it_gets_the_metrics(
    monkeypatch, authorization, status
):
    monkeypatch.setenv("METRICS_TOKEN", "s3cret-scrape")
    get_settings.cache_clear()
    headers = {"Authorization": authorization} if authorization else {}
    try:
        with TestClient(create_app()) as guarded_client:
            response = guarded_client.get("/metrics", headers=headers)
    finally:
        get_settings.cache_clear()
    assert response.status_code == status
    if status == 401:
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert "inventory_http_requests_total" not in response.text
    else:
        assert "inventory_http_requests_total" in response.text


def test_a_started_worker_hides_its_start_up_objects_from_the_collector_and_collects_less():
    gc.unfreeze()
    default_threshold = gc.get_threshold()
    gc.set_threshold(700, *default_threshold[1:])
    try:
        with TestClient(create_app()) as started:
            assert started.get("/health").status_code == 200
            assert gc.get_freeze_count() > 10_000
            assert gc.get_threshold()[0] == YOUNG_GENERATION_THRESHOLD
    finally:
        gc.set_threshold(*default_threshold)
