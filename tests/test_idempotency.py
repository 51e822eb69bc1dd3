"""Idempotent stock adjustments: a retry with the same Idempotency-Key returns the first result
and applies nothing again (per user, for 24 hours)."""

import logging
from datetime import timedelta

import pytest
from sqlalchemy import func, update

from inventory.models import IdempotencyKey, Role
from tests.conftest import auth_headers
from tests.factories import alerts, count, create_product, ledger, stock_of, stock_url


def with_key(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


def test_a_retry_with_the_same_key_replays_the_first_result(client, db, manager, product):
    headers = with_key(manager, "order-1042")
    body = {"delta": -5, "reason": "order #1042", "reference": "SO-1042"}
    first = client.post(stock_url(product["id"]), json=body, headers=headers)
    second = client.post(stock_url(product["id"]), json=body, headers=headers)
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()
    assert first.json()["stock_quantity"] == 45
    assert "Idempotent-Replayed" not in first.headers
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.headers["ETag"] == first.headers["ETag"]
    assert stock_of(db, product["id"]) == 45
    assert len(ledger(db, product["id"])) == 2


def test_a_replay_returns_the_first_result_even_after_later_changes(client, db, manager, product):
    body = {"delta": -5, "reason": "order"}
    first = client.post(stock_url(product["id"]), json=body, headers=with_key(manager, "k1"))
    client.post(stock_url(product["id"]), json={"delta": 1, "reason": "return"}, headers=manager)
    replay = client.post(stock_url(product["id"]), json=body, headers=with_key(manager, "k1"))
    assert replay.status_code == 200
    assert replay.json()["stock_quantity"] == 45
    assert replay.json() == first.json()
    assert stock_of(db, product["id"]) == 46


def test_different_keys_apply_separate_changes(client, db, manager, product):
    body = {"delta": -5, "reason": "order"}
    client.post(stock_url(product["id"]), json=body, headers=with_key(manager, "a"))
    response = client.post(stock_url(product["id"]), json=body, headers=with_key(manager, "b"))
    assert response.status_code == 200
    assert "Idempotent-Replayed" not in response.headers
    assert stock_of(db, product["id"]) == 40


def test_the_same_key_with_a_different_body_is_refused(client, db, manager, product):
    headers = with_key(manager, "order-7")
    client.post(stock_url(product["id"]), json={"delta": -5, "reason": "order"}, headers=headers)
    response = client.post(
        stock_url(product["id"]), json={"delta": -6, "reason": "order"}, headers=headers
    )
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json()["detail"]
    assert stock_of(db, product["id"]) == 45
    assert len(ledger(db, product["id"])) == 2


def test_the_same_key_for_another_product_is_refused(client, db, manager, product):
    other = create_product(client, manager, "Rake", price="3.00", stock_quantity=20)
    body = {"delta": -5, "reason": "order"}
    client.post(stock_url(product["id"]), json=body, headers=with_key(manager, "k"))
    response = client.post(stock_url(other["id"]), json=body, headers=with_key(manager, "k"))
    assert response.status_code == 422
    assert stock_of(db, other["id"]) == 20


def test_keys_belong_to_one_user(client, db, manager, make_user, product):
    other_manager = auth_headers(make_user(Role.manager, "other"))
    body = {"delta": -5, "reason": "order"}
    first = client.post(stock_url(product["id"]), json=body, headers=with_key(manager, "same"))
    second = client.post(
        stock_url(product["id"]), json=body, headers=with_key(other_manager, "same")
    )
    assert first.status_code == second.status_code == 200
    assert "Idempotent-Replayed" not in second.headers
    assert second.json()["stock_quantity"] == 40
    assert stock_of(db, product["id"]) == 40
    assert len(ledger(db, product["id"])) == 3


def test_a_key_whose_first_attempt_was_refused_can_be_retried(client, db, manager, product):
    headers = with_key(manager, "big-order")
    body = {"delta": -60, "reason": "big order"}
    refused = client.post(stock_url(product["id"]), json=body, headers=headers)
    assert refused.status_code == 409
    assert refused.json()["available"] == 50
    assert count(db, IdempotencyKey) == 0
    client.post(stock_url(product["id"]), json={"delta": 20, "reason": "delivery"}, headers=manager)
    retried = client.post(stock_url(product["id"]), json=body, headers=headers)
    assert retried.status_code == 200
    assert "Idempotent-Replayed" not in retried.headers
    assert retried.json()["stock_quantity"] == 10
    assert stock_of(db, product["id"]) == 10


def test_a_key_used_on_an_unknown_product_is_not_kept(client, db, manager):
    response = client.post(
        stock_url(999), json={"delta": 1, "reason": "x"}, headers=with_key(manager, "k")
    )
    assert response.status_code == 404
    assert count(db, IdempotencyKey) == 0


@pytest.mark.parametrize(
    "key",
    ["has spaces", "k" * 201, ""],
    ids=["a key with spaces", "a key longer than 200 characters", "an empty key"],
)
def test_a_malformed_key_is_refused(client, db, manager, product, key):
    response = client.post(
        stock_url(product["id"]),
        json={"delta": -1, "reason": "x"},
        headers=with_key(manager, key),
    )
    assert response.status_code == 422
    assert stock_of(db, product["id"]) == 50


def test_a_key_of_200_characters_is_accepted(client, db, manager, product):
    response = client.post(
        stock_url(product["id"]),
        json={"delta": -1, "reason": "x"},
        headers=with_key(manager, "k" * 200),
    )
    assert response.status_code == 200
    assert stock_of(db, product["id"]) == 49


def test_a_key_older_than_a_day_no_longer_replays(client, db, manager, product):
    headers = with_key(manager, "old")
    body = {"delta": -5, "reason": "order"}
    client.post(stock_url(product["id"]), json=body, headers=headers)
    db.execute(
        update(IdempotencyKey).values(created_at=func.now() - timedelta(hours=24, minutes=1))
    )
    db.commit()
    response = client.post(stock_url(product["id"]), json=body, headers=headers)
    assert response.status_code == 200
    assert "Idempotent-Replayed" not in response.headers
    assert response.json()["stock_quantity"] == 40
    assert stock_of(db, product["id"]) == 40
    assert len(ledger(db, product["id"])) == 3


def test_a_key_younger_than_a_day_still_replays(client, db, manager, product):
    headers = with_key(manager, "recent")
    body = {"delta": -5, "reason": "order"}
    client.post(stock_url(product["id"]), json=body, headers=headers)
    db.execute(
        update(IdempotencyKey).values(created_at=func.now() - timedelta(hours=23, minutes=59))
    )
    db.commit()
    response = client.post(stock_url(product["id"]), json=body, headers=headers)
    assert response.headers["Idempotent-Replayed"] == "true"
    assert stock_of(db, product["id"]) == 45


def test_a_viewer_cannot_use_a_key_to_adjust_stock(client, db, viewer, product):
    response = client.post(
        stock_url(product["id"]),
        json={"delta": -1, "reason": "x"},
        headers=with_key(viewer, "k"),
    )
    assert response.status_code == 403
    assert stock_of(db, product["id"]) == 50
    assert count(db, IdempotencyKey) == 0


def test_a_replay_opens_no_second_alert_and_logs_no_second_warning(
    client, db, manager, caplog, product
):
    caplog.set_level(logging.WARNING, logger="inventory.stock")
    headers = with_key(manager, "big-order")
    body = {"delta": -45, "reason": "big order"}
    client.post(stock_url(product["id"]), json=body, headers=headers)
    replay = client.post(stock_url(product["id"]), json=body, headers=headers)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert [alert.quantity for alert in alerts(db, product["id"])] == [5]
    low_stock_lines = [r for r in caplog.records if r.name == "inventory.stock"]
    assert len(low_stock_lines) == 1
    assert "quantity=5" in low_stock_lines[0].getMessage()
