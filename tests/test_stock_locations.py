"""Wave-1 stock requests on a shop with locations: adjustments per location, PATCH through the
default location, products that read reserved and available, alerts that watch available."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from tests.stock_setup import MAIN, ledger_by_location, level, make_location, make_product, totals

PRODUCTS = "/api/v1/products"


def adjust(client, headers, product_id: int, delta: int, **fields):
    body = {"delta": delta, "reason": "recount", **fields}
    return client.post(f"{PRODUCTS}/{product_id}/stock", json=body, headers=headers)


def reserve(client, headers, product_id: int, quantity: int, **line):
    body = {"items": [{"product_id": product_id, "quantity": quantity, **line}]}
    response = client.post("/api/v1/reservations", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def active_alerts(db, product_id: int) -> int:
    count = db.execute(
        text("SELECT count(*) FROM low_stock_alerts WHERE product_id = :id AND active"),
        {"id": product_id},
    ).scalar_one()
    db.commit()
    return count


def test_a_new_products_stock_lands_at_the_default_location_with_its_ledger_row(
    client, manager, db
):
    product = make_product(client, manager, stock_quantity=7)
    assert level(db, product["id"], MAIN) == (7, 0)
    assert ledger_by_location(db, product["id"]) == {MAIN: 7}


def test_an_adjustment_may_name_its_location(client, manager, db):
    leeds = make_location(client, manager, "Leeds")
    product = make_product(client, manager, stock_quantity=5)

    response = adjust(client, manager, product["id"], 4, location_id=leeds["id"])

    assert response.status_code == 200, response.text
    assert response.json()["stock_quantity"] == 9
    assert level(db, product["id"], leeds["id"]) == (4, 0)
    assert level(db, product["id"], MAIN) == (5, 0)
    assert ledger_by_location(db, product["id"]) == {MAIN: 5, leeds["id"]: 4}


def test_taking_more_than_a_location_has_is_a_409_even_when_others_have_it(client, manager, db):
    leeds = make_location(client, manager, "Leeds")
    product = make_product(client, manager, stock_quantity=50)
    adjust(client, manager, product["id"], 2, location_id=leeds["id"])

    response = adjust(client, manager, product["id"], -3, location_id=leeds["id"])

    assert response.status_code == 409
    assert response.json()["available"] == 2
    assert totals(db, product["id"]) == (52, 0)


def test_an_adjustment_at_an_unknown_location_is_a_422(client, manager, db):
    product = make_product(client, manager, stock_quantity=5)
    response = adjust(client, manager, product["id"], 1, location_id=99)
    assert response.status_code == 422
    assert response.json()["detail"] == "unknown location id: 99"
    assert totals(db, product["id"]) == (5, 0)


def test_an_adjustment_never_takes_reserved_units(client, manager, db):
    product = make_product(client, manager, stock_quantity=10)
    reserve(client, manager, product["id"], 8)

    response = adjust(client, manager, product["id"], -3)

    assert response.status_code == 409
    assert response.json()["available"] == 2
    assert totals(db, product["id"]) == (10, 8)


def test_a_product_reads_its_reserved_and_available_units(client, manager, viewer):
    product = make_product(client, manager, stock_quantity=10)
    reserve(client, manager, product["id"], 3)
    body = client.get(f"{PRODUCTS}/{product['id']}", headers=viewer).json()
    assert (body["stock_quantity"], body["reserved"], body["available"]) == (10, 3, 7)
    assert body["version"] == product["version"] + 1


def test_a_product_reads_an_expired_hold_as_available_before_any_sweep(client, manager, db):
    product = make_product(client, manager, stock_quantity=10)
    made = reserve(client, manager, product["id"], 3)
    past = {"id": made["id"], "at": datetime.now(UTC) - timedelta(seconds=1)}
    db.execute(text("UPDATE reservations SET expires_at = :at WHERE id = :id"), past)
    db.execute(
        text("UPDATE reservation_lines SET expires_at = :at WHERE reservation_id = :id"), past
    )
    db.commit()

    body = client.get(f"{PRODUCTS}/{product['id']}", headers=manager).json()

    assert (body["stock_quantity"], body["reserved"], body["available"]) == (10, 0, 10)
    listed = client.get(PRODUCTS, headers=manager).json()["items"][0]
    assert (listed["reserved"], listed["available"]) == (0, 10)


def test_patching_stock_quantity_changes_the_default_location_by_the_difference(
    client, manager, db
):
    leeds = make_location(client, manager, "Leeds")
    product = make_product(client, manager, stock_quantity=10)
    adjust(client, manager, product["id"], 5, location_id=leeds["id"])

    response = client.patch(
        f"{PRODUCTS}/{product['id']}", json={"stock_quantity": 12}, headers=manager
    )

    assert response.status_code == 200, response.text
    assert response.json()["stock_quantity"] == 12
    assert level(db, product["id"], MAIN) == (7, 0)
    assert level(db, product["id"], leeds["id"]) == (5, 0)
    assert ledger_by_location(db, product["id"]) == {MAIN: 7, leeds["id"]: 5}


def test_patching_stock_below_what_the_default_location_can_give_is_a_409(client, manager, db):
    product = make_product(client, manager, stock_quantity=10, name="Kept")
    reserve(client, manager, product["id"], 6)

    response = client.patch(
        f"{PRODUCTS}/{product['id']}",
        json={"stock_quantity": 5, "name": "Changed"},
        headers=manager,
    )

    assert response.status_code == 409
    assert response.json()["available"] == 4
    body = client.get(f"{PRODUCTS}/{product['id']}", headers=manager).json()
    assert (body["name"], body["stock_quantity"], body["reserved"]) == ("Kept", 10, 6)


def test_a_reservation_that_takes_available_to_the_threshold_opens_an_alert(client, manager, db):
    product = make_product(client, manager, stock_quantity=12, low_stock_threshold=5)
    made = reserve(client, manager, product["id"], 7)
    assert active_alerts(db, product["id"]) == 1
    low = client.get("/api/v1/inventory/low-stock", headers=manager).json()
    assert [item["id"] for item in low["items"]] == [product["id"]]

    client.post(f"/api/v1/reservations/{made['id']}/release", headers=manager)

    assert active_alerts(db, product["id"]) == 0
    assert client.get("/api/v1/inventory/low-stock", headers=manager).json()["total"] == 0


def test_the_low_stock_filter_watches_available_stock(client, manager):
    held = make_product(client, manager, name="Held", stock_quantity=12, low_stock_threshold=5)
    make_product(client, manager, name="Free", stock_quantity=12, low_stock_threshold=5)
    reserve(client, manager, held["id"], 8)
    response = client.get(PRODUCTS, params={"low_stock": True}, headers=manager)
    assert [item["name"] for item in response.json()["items"]] == ["Held"]
    response = client.get(PRODUCTS, params={"low_stock": False}, headers=manager)
    assert [item["name"] for item in response.json()["items"]] == ["Free"]
