"""Reservations and transfers under real parallel requests against a running server (2 worker
processes) and real PostgreSQL: no unit held twice, no dead-lock, one final state each."""

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import Session

from inventory.reservations import expire_due_reservations
from tests.conftest import in_parallel
from tests.stock_setup import MAIN, ledger_by_location, on_hand_by_location, put_stock, totals

pytestmark = pytest.mark.live


def new_product(http: httpx.Client, headers: dict[str, str], name: str) -> int:
    response = http.post(
        "/api/v1/products",
        json={"name": name, "price": "1.00", "low_stock_threshold": 0},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def new_location(http: httpx.Client, headers: dict[str, str], name: str) -> int:
    response = http.post("/api/v1/locations", json={"name": name}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def reserve_call(http, headers, product_id: int, quantity: int = 1, ttl: int = 900):
    return lambda: http.post(
        "/api/v1/reservations",
        json={"items": [{"product_id": product_id, "quantity": quantity}], "ttl_seconds": ttl},
        headers=headers,
    )


def commit_call(http, headers, reservation_id: int) -> Callable[[], httpx.Response]:
    return lambda: http.post(f"/api/v1/reservations/{reservation_id}/commit", headers=headers)


def assert_ledger_matches_levels(db: Session, product_id: int) -> None:
    on_hand = {location: units for location, units in on_hand_by_location(db, product_id).items()}
    ledger = ledger_by_location(db, product_id)
    assert {k: v for k, v in ledger.items() if v} == {k: v for k, v in on_hand.items() if v}


def test_sixty_parallel_reservations_of_thirty_units_hold_exactly_thirty_then_commit_exactly(
    db, http, staff
):
    product_id = new_product(http, staff, "Scarce")
    put_stock(db, product_id, MAIN, 30)

    responses = in_parallel([reserve_call(http, staff, product_id) for _ in range(60)])

    assert Counter(response.status_code for response in responses) == {201: 30, 409: 30}
    assert totals(db, product_id) == (30, 30)
    held = [response.json()["id"] for response in responses if response.status_code == 201]

    commits = in_parallel([commit_call(http, staff, rid) for rid in held])

    assert [response.status_code for response in commits] == [200] * 30
    assert totals(db, product_id) == (0, 0)
    assert on_hand_by_location(db, product_id) == {MAIN: 0}
    assert ledger_by_location(db, product_id) == {MAIN: 0}


def test_opposite_transfers_at_once_never_dead_lock_and_lose_nothing(db, http, staff):
    product_id = new_product(http, staff, "Shuttled")
    north, south = new_location(http, staff, "North"), new_location(http, staff, "South")
    put_stock(db, product_id, north, 50)
    put_stock(db, product_id, south, 50)

    def move(source: int, target: int) -> Callable[[], httpx.Response]:
        body = {
            "product_id": product_id,
            "from_location_id": source,
            "to_location_id": target,
            "quantity": 1,
            "reason": "rebalance",
        }
        return lambda: http.post("/api/v1/stock-transfers", json=body, headers=staff)

    calls = [move(north, south) for _ in range(40)] + [move(south, north) for _ in range(40)]
    responses = in_parallel([calls[i // 2 + (i % 2) * 40] for i in range(80)])

    assert Counter(response.status_code for response in responses) == {201: 80}
    assert on_hand_by_location(db, product_id) == {north: 50, south: 50}
    assert totals(db, product_id) == (100, 0)
    assert_ledger_matches_levels(db, product_id)
    transfers = db.execute(
        text("SELECT count(*) FROM stock_transfers WHERE product_id = :id"), {"id": product_id}
    ).scalar_one()
    assert transfers == 80


def test_commit_release_and_expiry_racing_leave_one_final_state_and_exact_stock(db, http, staff):
    product_id = new_product(http, staff, "Contested")
    put_stock(db, product_id, MAIN, 100)
    rounds = 20
    outcomes = []
    for _ in range(rounds):
        made = reserve_call(http, staff, product_id, quantity=2)()
        assert made.status_code == 201
        reservation_id = made.json()["id"]
        expires_at = datetime.now(UTC) + timedelta(milliseconds=150)
        soon = {"at": expires_at, "id": reservation_id}
        db.execute(text("UPDATE reservations SET expires_at = :at WHERE id = :id"), soon)
        db.execute(
            text("UPDATE reservation_lines SET expires_at = :at WHERE reservation_id = :id"), soon
        )
        db.commit()
        outcomes.append(_race(http, staff, product_id, reservation_id, expires_at))

    expire_due_reservations(db)
    committed = 0
    for reservation_id, commit, release in outcomes:
        status = db.execute(
            text("SELECT status FROM reservations WHERE id = :id"), {"id": reservation_id}
        ).scalar_one()
        if commit == 200:
            assert (status, release) == ("committed", 409)
            committed += 1
        elif release == 200:
            assert (status, commit) == ("released", 409)
        else:
            assert (status, commit, release) == ("expired", 409, 409)
    db.commit()
    assert totals(db, product_id) == (100 + rounds - 2 * committed, 0)
    assert_ledger_matches_levels(db, product_id)


def _race(http, staff, product_id: int, reservation_id: int, expires_at: datetime):
    """Commit, release, a sweep and an adjustment of the product (whose lock releases due
    holds) at once, right at `expires_at`; the statuses of the commit and the release."""
    barrier = threading.Barrier(4)
    results: dict[str, object] = {}

    def at_expiry(name: str, action: Callable[[], object]) -> None:
        # Each fires within ~60 ms before to 20 ms after the expiry (a request takes about as
        # long to reach its transaction), so every outcome happens over the rounds.
        start = expires_at + timedelta(milliseconds=random.uniform(-60, 20))
        barrier.wait()
        time.sleep(max(0.0, (start - datetime.now(UTC)).total_seconds()))
        results[name] = action()

    def sweep() -> int:
        with Session(db_engine()) as session:
            return expire_due_reservations(session)

    base = f"/api/v1/reservations/{reservation_id}"
    actions = {
        "commit": lambda: http.post(f"{base}/commit", headers=staff).status_code,
        "release": lambda: http.post(f"{base}/release", headers=staff).status_code,
        "sweep": sweep,
        "other": lambda: (
            http.post(
                f"/api/v1/products/{product_id}/stock",
                json={"delta": 1, "reason": "restock"},
                headers=staff,
            ).status_code
        ),
    }
    threads = [threading.Thread(target=at_expiry, args=item) for item in actions.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results["other"] == 200
    return reservation_id, results["commit"], results["release"]


def db_engine():
    from inventory.db import get_engine

    return get_engine()


def test_parallel_default_moves_leave_exactly_one_default(db, http, staff):
    ids = [new_location(http, staff, f"Store {number}") for number in range(8)]

    def make_default(location_id: int) -> Callable[[], httpx.Response]:
        return lambda: http.patch(
            f"/api/v1/locations/{location_id}", json={"is_default": True}, headers=staff
        )

    responses = in_parallel([make_default(location_id) for location_id in ids * 3])

    assert [response.status_code for response in responses] == [200] * 24
    defaults = db.execute(text("SELECT id FROM locations WHERE is_default")).scalars().all()
    db.commit()
    assert len(defaults) == 1 and defaults[0] in ids
