"""Reservations: all lines or none, idempotent, committed or released once, and expired at
`expires_at` whether or not the sweep has run."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from inventory.reservations import expire_due_reservations
from tests.stock_setup import (
    MAIN,
    ledger_by_location,
    level,
    make_location,
    make_product,
    put_stock,
    totals,
)

URL = "/api/v1/reservations"


@pytest.fixture
def lamp(client, manager, db) -> dict:
    """A product with 10 units at Main."""
    product = make_product(client, manager, "Lamp")
    put_stock(db, product["id"], MAIN, 10)
    return product


@pytest.fixture
def rug(client, manager, db) -> dict:
    """A product with 2 units at Main."""
    product = make_product(client, manager, "Rug")
    put_stock(db, product["id"], MAIN, 2)
    return product


def reserve(client, headers, *items, **fields):
    return client.post(URL, json={"items": list(items), **fields}, headers=headers)


def line(product: dict, quantity: int, location_id: int | None = None) -> dict:
    item = {"product_id": product["id"], "quantity": quantity}
    if location_id is not None:
        item["location_id"] = location_id
    return item


def expire(db, reservation_id: int) -> None:
    """Move the reservation's `expires_at` into the past, as time would."""
    past = {"id": reservation_id, "past": datetime.now(UTC) - timedelta(seconds=1)}
    db.execute(text("UPDATE reservations SET expires_at = :past WHERE id = :id"), past)
    db.execute(
        text("UPDATE reservation_lines SET expires_at = :past WHERE reservation_id = :id"), past
    )
    db.commit()


def stored_status(db, reservation_id: int) -> str:
    status = db.execute(
        text("SELECT status FROM reservations WHERE id = :id"), {"id": reservation_id}
    ).scalar_one()
    db.commit()
    return status


def test_a_reservation_holds_stock_and_answers_with_its_lines(
    client, manager, manager_user, db, lamp, rug
):
    response = reserve(client, manager, line(lamp, 3), line(rug, 2), reference="cart-7")

    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["Location"].endswith(f"{URL}/{body['id']}")
    assert body["status"] == "active"
    assert body["items"] == [
        {"product_id": lamp["id"], "location_id": MAIN, "quantity": 3},
        {"product_id": rug["id"], "location_id": MAIN, "quantity": 2},
    ]
    assert (body["reference"], body["user_id"]) == ("cart-7", manager_user.id)
    assert body["committed_at"] is None and body["released_at"] is None
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert abs(expires_at - datetime.now(UTC) - timedelta(seconds=900)) < timedelta(seconds=30)
    assert level(db, lamp["id"], MAIN) == (10, 3)
    assert totals(db, lamp["id"]) == (10, 3)
    assert totals(db, rug["id"]) == (2, 2)


def test_a_line_may_name_its_location(client, manager, db, lamp):
    leeds = make_location(client, manager, "Leeds")
    put_stock(db, lamp["id"], leeds["id"], 4)
    response = reserve(client, manager, line(lamp, 4, leeds["id"]))
    assert response.status_code == 201
    assert response.json()["items"][0]["location_id"] == leeds["id"]
    assert level(db, lamp["id"], leeds["id"]) == (4, 4)
    assert level(db, lamp["id"], MAIN) == (10, 0)


def test_a_line_short_of_stock_holds_nothing_and_lists_the_shortages(
    client, manager, db, lamp, rug
):
    response = reserve(client, manager, line(lamp, 3), line(rug, 5))

    assert response.status_code == 409
    body = response.json()
    assert body["shortages"] == [
        {"product_id": rug["id"], "location_id": MAIN, "requested": 5, "available": 2}
    ]
    assert "nothing was reserved" in body["detail"]
    assert totals(db, lamp["id"]) == (10, 0)
    assert totals(db, rug["id"]) == (2, 0)
    assert client.get(URL, headers=manager).json()["total"] == 0


def test_a_location_the_product_never_was_at_is_a_shortage_of_zero(client, manager, db, lamp):
    leeds = make_location(client, manager, "Leeds")
    response = reserve(client, manager, line(lamp, 1, leeds["id"]))
    assert response.status_code == 409
    assert response.json()["shortages"] == [
        {"product_id": lamp["id"], "location_id": leeds["id"], "requested": 1, "available": 0}
    ]


def test_reserved_units_are_not_available_to_another_reservation(client, manager, lamp):
    assert reserve(client, manager, line(lamp, 8)).status_code == 201
    response = reserve(client, manager, line(lamp, 3))
    assert response.status_code == 409
    assert response.json()["shortages"][0]["available"] == 2


def test_a_product_twice_at_one_location_is_a_422(client, manager, db, lamp):
    response = reserve(client, manager, line(lamp, 1), line(lamp, 2, MAIN))
    assert response.status_code == 422
    assert totals(db, lamp["id"]) == (10, 0)


def test_an_unknown_product_is_a_422_naming_it(client, manager, db, lamp):
    response = reserve(client, manager, line(lamp, 1), {"product_id": 999, "quantity": 1})
    assert response.status_code == 422
    assert response.json()["detail"] == "unknown product id: 999"
    assert totals(db, lamp["id"]) == (10, 0)


def test_an_unknown_location_is_a_422_naming_it(client, manager, lamp):
    response = reserve(client, manager, line(lamp, 1, 77))
    assert response.status_code == 422
    assert response.json()["detail"] == "unknown location id: 77"


@pytest.mark.parametrize(
    "body",
    [
        {"items": []},
        {"items": [{"product_id": 1, "quantity": 0}]},
        {"items": [{"product_id": 1, "quantity": "2"}]},
        {"items": [{"product_id": 1, "quantity": 1}], "ttl_seconds": 59},
        {"items": [{"product_id": 1, "quantity": 1}], "ttl_seconds": 604801},
        {"items": [{"product_id": 1, "quantity": 1}], "status": "committed"},
        {"items": [{"product_id": i, "quantity": 1} for i in range(1, 102)]},
    ],
)
def test_a_malformed_reservation_is_a_422(client, manager, db, lamp, body):
    response = client.post(URL, json=body, headers=manager)
    assert response.status_code == 422
    assert totals(db, lamp["id"]) == (10, 0)


def test_a_viewer_cannot_reserve_but_can_read_reservations(client, manager, viewer, db, lamp):
    assert reserve(client, viewer, line(lamp, 1)).status_code == 403
    assert totals(db, lamp["id"]) == (10, 0)
    made = reserve(client, manager, line(lamp, 1)).json()
    assert client.get(f"{URL}/{made['id']}", headers=viewer).json() == made


def test_an_unknown_reservation_is_a_404(client, manager):
    assert client.get(f"{URL}/5", headers=manager).status_code == 404
    response = client.post(f"{URL}/5/commit", headers=manager)
    assert response.status_code == 404
    assert response.json()["detail"] == "reservation 5 not found"


# Idempotency


def test_a_retry_with_the_same_key_holds_once_and_answers_the_same(client, manager, db, lamp):
    headers = {**manager, "Idempotency-Key": "cart-7-checkout"}
    first = reserve(client, headers, line(lamp, 3))
    again = reserve(client, headers, line(lamp, 3))

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert totals(db, lamp["id"]) == (10, 3)
    assert client.get(URL, headers=manager).json()["total"] == 1


def test_a_key_reused_for_another_request_is_a_422(client, manager, db, lamp):
    headers = {**manager, "Idempotency-Key": "cart-7-checkout"}
    reserve(client, headers, line(lamp, 3))
    response = reserve(client, headers, line(lamp, 4))
    assert response.status_code == 422
    assert totals(db, lamp["id"]) == (10, 3)


def test_a_refused_reservation_leaves_its_key_free_for_a_retry(client, manager, db, lamp):
    headers = {**manager, "Idempotency-Key": "cart-8"}
    assert reserve(client, headers, line(lamp, 11)).status_code == 409
    put_stock(db, lamp["id"], MAIN, 11)
    assert reserve(client, headers, line(lamp, 11)).status_code == 201
    assert totals(db, lamp["id"]) == (11, 11)


# Commit and release


def test_committing_takes_the_units_and_writes_a_ledger_row_per_line(
    client, manager, manager_user, db, lamp, rug
):
    made = reserve(client, manager, line(lamp, 3), line(rug, 2), reference="SO-9").json()

    response = client.post(f"{URL}/{made['id']}/commit", headers=manager)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "committed"
    assert body["committed_at"] is not None
    assert totals(db, lamp["id"]) == (7, 0)
    assert totals(db, rug["id"]) == (0, 0)
    assert ledger_by_location(db, lamp["id"]) == {MAIN: 7}
    rows = db.execute(
        text(
            "SELECT product_id, location_id, delta, reason, reference, user_id "
            "FROM stock_movements WHERE reason LIKE 'reservation%' ORDER BY product_id"
        )
    ).all()
    reason = f"reservation {made['id']} committed"
    assert [tuple(row) for row in rows] == [
        (lamp["id"], MAIN, -3, reason, "SO-9", manager_user.id),
        (rug["id"], MAIN, -2, reason, "SO-9", manager_user.id),
    ]


def test_committing_again_answers_the_same_and_changes_nothing(client, manager, db, lamp):
    made = reserve(client, manager, line(lamp, 3)).json()
    first = client.post(f"{URL}/{made['id']}/commit", headers=manager)
    again = client.post(f"{URL}/{made['id']}/commit", headers=manager)
    assert again.status_code == 200
    assert again.json() == first.json()
    assert totals(db, lamp["id"]) == (7, 0)
    assert ledger_by_location(db, lamp["id"]) == {MAIN: 7}


def test_releasing_frees_the_units_and_leaves_on_hand_alone(client, manager, db, lamp):
    made = reserve(client, manager, line(lamp, 3)).json()
    response = client.post(f"{URL}/{made['id']}/release", headers=manager)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "released" and body["released_at"] is not None
    assert totals(db, lamp["id"]) == (10, 0)
    assert ledger_by_location(db, lamp["id"]) == {MAIN: 10}


def test_releasing_again_answers_the_same(client, manager, db, lamp):
    made = reserve(client, manager, line(lamp, 3)).json()
    first = client.post(f"{URL}/{made['id']}/release", headers=manager)
    again = client.post(f"{URL}/{made['id']}/release", headers=manager)
    assert again.status_code == 200
    assert again.json() == first.json()
    assert totals(db, lamp["id"]) == (10, 0)


def test_committing_a_released_reservation_is_a_409(client, manager, db, lamp):
    made = reserve(client, manager, line(lamp, 3)).json()
    client.post(f"{URL}/{made['id']}/release", headers=manager)
    response = client.post(f"{URL}/{made['id']}/commit", headers=manager)
    assert response.status_code == 409
    assert "released" in response.json()["detail"]
    assert totals(db, lamp["id"]) == (10, 0)


def test_releasing_a_committed_reservation_is_a_409(client, manager, db, lamp):
    made = reserve(client, manager, line(lamp, 3)).json()
    client.post(f"{URL}/{made['id']}/commit", headers=manager)
    response = client.post(f"{URL}/{made['id']}/release", headers=manager)
    assert response.status_code == 409
    assert stored_status(db, made["id"]) == "committed"
    assert totals(db, lamp["id"]) == (7, 0)


def test_a_viewer_cannot_commit(client, manager, viewer, db, lamp):
    made = reserve(client, manager, line(lamp, 3)).json()
    assert client.post(f"{URL}/{made['id']}/commit", headers=viewer).status_code == 403
    assert stored_status(db, made["id"]) == "active"


# Expiry


def test_past_expires_at_a_reservation_reads_expired_before_any_sweep(client, manager, db, lamp):
    made = reserve(client, manager, line(lamp, 3)).json()
    expire(db, made["id"])
    assert client.get(f"{URL}/{made['id']}", headers=manager).json()["status"] == "expired"
    assert stored_status(db, made["id"]) == "active"


def test_past_expires_at_the_held_units_read_available_before_any_sweep(client, manager, db, lamp):
    made = reserve(client, manager, line(lamp, 3)).json()
    expire(db, made["id"])
    levels = client.get(f"/api/v1/products/{lamp['id']}/stock-levels", headers=manager).json()
    assert levels["items"][0] | {"location_name": None} == {
        "location_id": MAIN,
        "location_name": None,
        "on_hand": 10,
        "reserved": 0,
        "available": 10,
    }


def test_past_expires_at_another_reservation_may_take_the_units(client, manager, db, lamp):
    made = reserve(client, manager, line(lamp, 8)).json()
    expire(db, made["id"])
    response = reserve(client, manager, line(lamp, 10))
    assert response.status_code == 201, response.text
    assert totals(db, lamp["id"]) == (10, 10)


def test_committing_an_expired_reservation_is_a_409_and_takes_nothing(client, manager, db, lamp):
    made = reserve(client, manager, line(lamp, 3)).json()
    expire(db, made["id"])
    response = client.post(f"{URL}/{made['id']}/commit", headers=manager)
    assert response.status_code == 409
    assert "expired" in response.json()["detail"]
    assert totals(db, lamp["id"])[0] == 10


def test_releasing_an_expired_reservation_is_a_409(client, manager, db, lamp):
    made = reserve(client, manager, line(lamp, 3)).json()
    expire(db, made["id"])
    assert client.post(f"{URL}/{made['id']}/release", headers=manager).status_code == 409


def test_the_sweep_marks_due_reservations_expired_and_frees_their_units(
    client, manager, db, lamp, rug
):
    due = reserve(client, manager, line(lamp, 3), line(rug, 1)).json()
    current = reserve(client, manager, line(lamp, 2)).json()
    expire(db, due["id"])

    assert expire_due_reservations(db) == 1

    assert stored_status(db, due["id"]) == "expired"
    assert stored_status(db, current["id"]) == "active"
    assert totals(db, lamp["id"]) == (10, 2)
    assert totals(db, rug["id"]) == (2, 0)
    assert expire_due_reservations(db) == 0


def test_the_sweep_leaves_committed_reservations_alone(client, manager, db, lamp):
    made = reserve(client, manager, line(lamp, 3)).json()
    client.post(f"{URL}/{made['id']}/commit", headers=manager)
    expire(db, made["id"])
    assert expire_due_reservations(db) == 0
    assert stored_status(db, made["id"]) == "committed"
    assert totals(db, lamp["id"]) == (7, 0)


# Lists


def test_reservations_are_listed_newest_first_with_filters(client, manager, viewer, db, lamp, rug):
    first = reserve(client, manager, line(lamp, 1), reference="cart-1").json()
    second = reserve(client, manager, line(rug, 1), reference="cart-2").json()
    third = reserve(client, manager, line(lamp, 1), reference="cart-3").json()
    client.post(f"{URL}/{third['id']}/commit", headers=manager)
    expire(db, first["id"])

    def ids(**params) -> list[int]:
        response = client.get(URL, params=params, headers=viewer)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert ids() == [third["id"], second["id"], first["id"]]
    assert ids(product_id=lamp["id"]) == [third["id"], first["id"]]
    assert ids(status="active") == [second["id"]]
    assert ids(status="expired") == [first["id"]]
    assert ids(status="committed") == [third["id"]]
    assert ids(reference="cart-2") == [second["id"]]


def test_an_unknown_status_filter_is_a_422(client, viewer):
    assert client.get(URL, params={"status": "lost"}, headers=viewer).status_code == 422
