"""Stock transfers: atomic, two ledger rows or none, reserved units never move."""

from sqlalchemy import text

from tests.stock_setup import (
    MAIN,
    ledger_by_location,
    level,
    make_location,
    make_product,
    put_stock,
    totals,
)

URL = "/api/v1/stock-transfers"


def transfer(client, headers, product_id, from_id, to_id, quantity, **fields):
    body = {
        "product_id": product_id,
        "from_location_id": from_id,
        "to_location_id": to_id,
        "quantity": quantity,
        "reason": "rebalance",
        **fields,
    }
    return client.post(URL, json=body, headers=headers)


def test_a_transfer_moves_units_and_writes_two_ledger_rows(client, manager, manager_user, db):
    leeds = make_location(client, manager, "Leeds")
    product = make_product(client, manager)
    put_stock(db, product["id"], MAIN, 10)

    response = transfer(client, manager, product["id"], MAIN, leeds["id"], 4, reference="T-1")

    assert response.status_code == 201, response.text
    body = response.json()
    assert body | {"id": None, "created_at": None} == {
        "id": None,
        "product_id": product["id"],
        "from_location_id": MAIN,
        "to_location_id": leeds["id"],
        "quantity": 4,
        "reason": "rebalance",
        "reference": "T-1",
        "user_id": manager_user.id,
        "created_at": None,
    }
    assert level(db, product["id"], MAIN) == (6, 0)
    assert level(db, product["id"], leeds["id"]) == (4, 0)
    assert totals(db, product["id"]) == (10, 0)
    assert ledger_by_location(db, product["id"]) == {MAIN: 6, leeds["id"]: 4}
    rows = db.execute(
        text(
            "SELECT delta, reason, reference FROM stock_movements "
            "WHERE product_id = :id AND reason = 'rebalance' ORDER BY id"
        ),
        {"id": product["id"]},
    ).all()
    assert [tuple(row) for row in rows] == [(-4, "rebalance", "T-1"), (4, "rebalance", "T-1")]


def test_a_transfer_beyond_the_available_units_is_a_409_and_changes_nothing(client, manager, db):
    leeds = make_location(client, manager, "Leeds")
    product = make_product(client, manager)
    put_stock(db, product["id"], MAIN, 3)

    response = transfer(client, manager, product["id"], MAIN, leeds["id"], 5)

    assert response.status_code == 409
    assert response.json()["available"] == 3
    assert level(db, product["id"], MAIN) == (3, 0)
    assert level(db, product["id"], leeds["id"]) == (0, 0)
    assert ledger_by_location(db, product["id"]) == {MAIN: 3}


def test_reserved_units_do_not_move(client, manager, db):
    leeds = make_location(client, manager, "Leeds")
    product = make_product(client, manager)
    put_stock(db, product["id"], MAIN, 5)
    held = client.post(
        "/api/v1/reservations",
        json={"items": [{"product_id": product["id"], "quantity": 4}]},
        headers=manager,
    )
    assert held.status_code == 201

    response = transfer(client, manager, product["id"], MAIN, leeds["id"], 2)

    assert response.status_code == 409
    assert response.json()["available"] == 1
    assert level(db, product["id"], MAIN) == (5, 4)


def test_a_transfer_to_the_same_location_is_a_422(client, manager, db):
    product = make_product(client, manager)
    put_stock(db, product["id"], MAIN, 5)
    response = transfer(client, manager, product["id"], MAIN, MAIN, 1)
    assert response.status_code == 422
    assert level(db, product["id"], MAIN) == (5, 0)


def test_a_transfer_to_an_unknown_location_is_a_422_naming_it(client, manager, db):
    product = make_product(client, manager)
    put_stock(db, product["id"], MAIN, 5)
    response = transfer(client, manager, product["id"], MAIN, 99, 1)
    assert response.status_code == 422
    assert response.json()["detail"] == "unknown location id: 99"
    assert level(db, product["id"], MAIN) == (5, 0)


def test_a_transfer_of_an_unknown_product_is_a_422(client, manager):
    leeds = make_location(client, manager, "Leeds")
    response = transfer(client, manager, 99, MAIN, leeds["id"], 1)
    assert response.status_code == 422
    assert response.json()["detail"] == "unknown product id: 99"


def test_a_quantity_below_one_is_a_422(client, manager, db):
    leeds = make_location(client, manager, "Leeds")
    product = make_product(client, manager)
    put_stock(db, product["id"], MAIN, 5)
    response = transfer(client, manager, product["id"], MAIN, leeds["id"], 0)
    assert response.status_code == 422
    assert level(db, product["id"], MAIN) == (5, 0)


def test_a_viewer_cannot_transfer_stock(client, manager, viewer, db):
    leeds = make_location(client, manager, "Leeds")
    product = make_product(client, manager)
    put_stock(db, product["id"], MAIN, 5)
    response = transfer(client, viewer, product["id"], MAIN, leeds["id"], 1)
    assert response.status_code == 403
    assert level(db, product["id"], MAIN) == (5, 0)


def test_transfers_are_listed_newest_first_and_filtered_by_product(client, manager, viewer, db):
    leeds = make_location(client, manager, "Leeds")
    lamp = make_product(client, manager, "Lamp")
    rug = make_product(client, manager, "Rug")
    put_stock(db, lamp["id"], MAIN, 5)
    put_stock(db, rug["id"], MAIN, 5)
    first = transfer(client, manager, lamp["id"], MAIN, leeds["id"], 1).json()
    transfer(client, manager, rug["id"], MAIN, leeds["id"], 1)
    second = transfer(client, manager, lamp["id"], leeds["id"], MAIN, 1).json()

    response = client.get(URL, params={"product_id": lamp["id"]}, headers=viewer)

    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 2
    assert [item["id"] for item in body["items"]] == [second["id"], first["id"]]
    assert client.get(URL, headers=viewer).json()["total"] == 3
