"""Real parallel requests against a running server (2 worker processes) and real PostgreSQL:
no lost update, never below zero, one winner per version, one change per key, one alert."""

from collections import Counter
from collections.abc import Callable

import httpx
import pytest

from tests.conftest import in_parallel
from tests.factories import (
    active_alerts,
    alerts,
    create_product,
    ledger,
    ledger_sum,
    product_url,
    stock_of,
    stock_url,
    stored_product,
)

pytestmark = pytest.mark.live


@pytest.fixture
def make_product(http: httpx.Client, staff: dict[str, str]) -> Callable[..., dict]:
    counter = iter(range(1, 1000))

    def make(stock_quantity: int, low_stock_threshold: int = 10) -> dict:
        return create_product(
            http,
            staff,
            f"Item {next(counter)}",
            stock_quantity=stock_quantity,
            low_stock_threshold=low_stock_threshold,
        )

    return make


def adjust_call(http, headers, product_id: int, delta: int) -> Callable[[], httpx.Response]:
    return lambda: http.post(
        stock_url(product_id),
        json={"delta": delta, "reason": "parallel"},
        headers=headers,
    )


def test_parallel_takes_never_drive_stock_below_zero(db, http, staff, make_product):
    product = make_product(stock_quantity=60)
    responses = in_parallel([adjust_call(http, staff, product["id"], -1) for _ in range(100)])
    statuses = Counter(response.status_code for response in responses)
    assert statuses == {200: 60, 409: 40}
    refusal = next(response for response in responses if response.status_code == 409)
    assert refusal.json()["available"] == 0
    assert stock_of(db, product["id"]) == 0
    assert ledger_sum(db, product["id"]) == 0
    assert len(ledger(db, product["id"])) == 61
    served = sorted(r.json()["stock_quantity"] for r in responses if r.status_code == 200)
    assert served == list(range(60))


def test_parallel_mixed_adjustments_sum_exactly(db, http, staff, make_product):
    product = make_product(stock_quantity=100)
    deltas = [3, -2, 1] * 30
    responses = in_parallel([adjust_call(http, staff, product["id"], d) for d in deltas])
    assert [response.status_code for response in responses] == [200] * 90
    assert stock_of(db, product["id"]) == 100 + sum(deltas)
    assert ledger_sum(db, product["id"]) == 100 + sum(deltas)
    versions = sorted(response.json()["version"] for response in responses)
    assert versions == list(range(product["version"] + 1, product["version"] + 91))


def test_parallel_patches_with_one_etag_have_one_winner(db, http, staff, make_product):
    product = make_product(stock_quantity=30)
    etag = f'"{product["version"]}"'

    def patch(number: int) -> Callable[[], httpx.Response]:
        return lambda: http.patch(
            product_url(product["id"]),
            json={"name": f"Edit {number}", "stock_quantity": number},
            headers={**staff, "If-Match": etag},
        )

    responses = in_parallel([patch(number) for number in range(20)])
    statuses = Counter(response.status_code for response in responses)
    assert statuses == {200: 1, 412: 19}
    winner = next(response for response in responses if response.status_code == 200).json()
    stored = stored_product(db, product["id"])
    assert (stored.name, stored.stock_quantity) == (winner["name"], winner["stock_quantity"])
    assert stored.version == product["version"] + 1
    assert len(ledger(db, product["id"])) <= 2
    assert ledger_sum(db, product["id"]) == stored.stock_quantity


def test_parallel_retries_with_one_key_apply_once(db, http, staff, make_product):
    product = make_product(stock_quantity=50)
    headers = {**staff, "Idempotency-Key": "order-1042"}
    responses = in_parallel([adjust_call(http, headers, product["id"], -5) for _ in range(20)])
    assert [response.status_code for response in responses] == [200] * 20
    bodies = {response.text for response in responses}
    assert len(bodies) == 1
    assert responses[0].json()["stock_quantity"] == 45
    replayed = [r for r in responses if r.headers.get("Idempotent-Replayed") == "true"]
    assert len(replayed) == 19
    assert stock_of(db, product["id"]) == 45
    assert len(ledger(db, product["id"])) == 2


def test_parallel_takes_across_the_threshold_open_one_alert_per_product(
    db, http, staff, make_product
):
    products = [make_product(stock_quantity=start) for start in (15, 16, 18, 20, 25)]
    calls = [adjust_call(http, staff, product["id"], -1) for _ in range(15) for product in products]
    responses = in_parallel(calls)
    assert [r.status_code for r in responses] == [200] * len(calls), [
        r.text for r in responses if r.status_code != 200
    ][:3]
    for product in products:
        assert stock_of(db, product["id"]) == product["stock_quantity"] - 15
        assert len(active_alerts(db, product["id"])) == 1
        assert len(alerts(db, product["id"])) == 1


def test_parallel_ups_and_downs_at_the_threshold_leave_one_consistent_alert(
    db, http, staff, make_product
):
    products = [make_product(stock_quantity=start) for start in (9, 10, 11)]
    calls = [
        adjust_call(http, staff, product["id"], delta)
        for delta in (1, -1) * 15
        for product in products
    ]
    responses = in_parallel(calls)
    assert all(response.status_code == 200 for response in responses)
    for product in products:
        stock_quantity = stock_of(db, product["id"])
        assert stock_quantity == product["stock_quantity"]
        assert len(active_alerts(db, product["id"])) == (1 if stock_quantity <= 10 else 0)
        assert ledger_sum(db, product["id"]) == stock_quantity


def test_parallel_threshold_changes_leave_at_most_one_active_alert(db, http, staff, make_product):
    product = make_product(stock_quantity=50, low_stock_threshold=10)

    def set_threshold(threshold: int) -> Callable[[], httpx.Response]:
        return lambda: http.patch(
            product_url(product["id"]),
            json={"low_stock_threshold": threshold},
            headers=staff,
        )

    thresholds = [60, 70, 40, 80, 55, 30] * 4 + [65]
    responses = in_parallel([set_threshold(threshold) for threshold in thresholds])
    assert all(response.status_code == 200 for response in responses)
    stored = stored_product(db, product["id"])
    assert len(active_alerts(db, product["id"])) == (
        1 if stored.stock_quantity <= stored.low_stock_threshold else 0
    )
    # Once more, every request pushing it low: exactly one active alert however they interleave.
    responses = in_parallel([set_threshold(threshold) for threshold in (60, 70, 80, 90) * 5])
    assert all(response.status_code == 200 for response in responses)
    assert len(active_alerts(db, product["id"])) == 1


def test_parallel_stock_patches_and_adjustments_keep_the_ledger_summing_to_the_stock(
    db, http, staff, make_product
):
    product = make_product(stock_quantity=100)

    def set_stock(quantity: int) -> Callable[[], httpx.Response]:
        return lambda: http.patch(
            product_url(product["id"]),
            json={"stock_quantity": quantity},
            headers=staff,
        )

    calls = [adjust_call(http, staff, product["id"], delta) for delta in (5, -3) * 20]
    calls += [set_stock(quantity) for quantity in (80, 120, 95, 110, 100) * 4]
    responses = in_parallel(calls)
    assert all(response.status_code == 200 for response in responses)
    stock_quantity = stock_of(db, product["id"])
    assert ledger_sum(db, product["id"]) == stock_quantity
    assert ledger(db, product["id"])[-1].quantity_after == stock_quantity
