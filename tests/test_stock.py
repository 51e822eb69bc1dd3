"""Stock adjustments and the movement ledger: atomic, never below zero, every change recorded."""

import pytest

from inventory.models import MAX_DB_INT, Role, StockMovement
from tests.conftest import auth_headers
from tests.factories import (
    count,
    create_product,
    ledger,
    ledger_sum,
    movements_url,
    product_url,
    stock_url,
    stored_product,
)

# Adjustments


def test_adding_stock_returns_the_product_with_the_new_stock_and_version(
    client, db, manager, product
):
    response = client.post(
        stock_url(product["id"]), json={"delta": 5, "reason": "delivery"}, headers=manager
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == product["id"]
    assert body["stock_quantity"] == 55
    assert body["version"] == product["version"] + 1
    assert response.headers["ETag"] == f'"{body["version"]}"'
    stored = stored_product(db, product["id"])
    assert (stored.stock_quantity, stored.version) == (55, product["version"] + 1)


def test_taking_stock_lowers_it(client, db, manager, product):
    response = client.post(
        stock_url(product["id"]), json={"delta": -7, "reason": "order shipped"}, headers=manager
    )
    assert response.status_code == 200, response.text
    assert response.json()["stock_quantity"] == 43
    assert stored_product(db, product["id"]).stock_quantity == 43


def test_an_admin_may_adjust_stock(client, db, admin, product):
    response = client.post(
        stock_url(product["id"]), json={"delta": -1, "reason": "breakage"}, headers=admin
    )
    assert response.status_code == 200
    assert stored_product(db, product["id"]).stock_quantity == 49


def test_an_adjustment_writes_a_ledger_row_with_the_caller(
    client, db, manager, manager_user, product
):
    response = client.post(
        stock_url(product["id"]),
        json={"delta": -3, "reason": "order #1042 shipped", "reference": "SO-1042"},
        headers=manager,
    )
    assert response.status_code == 200
    movement = ledger(db, product["id"])[-1]
    assert movement.delta == -3
    assert movement.quantity_after == 47
    assert movement.reason == "order #1042 shipped"
    assert movement.reference == "SO-1042"
    assert movement.user_id == manager_user.id


def test_a_reference_is_optional(client, db, manager, product):
    response = client.post(
        stock_url(product["id"]), json={"delta": 1, "reason": "found one"}, headers=manager
    )
    assert response.status_code == 200
    assert ledger(db, product["id"])[-1].reference is None


def test_a_reference_of_200_characters_is_accepted(client, db, manager, product):
    reference = "R" * 200
    response = client.post(
        stock_url(product["id"]),
        json={"delta": 1, "reason": "delivery", "reference": reference},
        headers=manager,
    )
    assert response.status_code == 200
    assert ledger(db, product["id"])[-1].reference == reference


@pytest.mark.parametrize(
    "body",
    [
        {"delta": 1, "reason": "delivery", "reference": "R" * 201},
        {"delta": MAX_DB_INT + 1, "reason": "typo"},
        {"delta": 1.5, "reason": "half"},
        {"delta": 1, "reason": ""},
        {"delta": 1},
        {"delta": 1, "reason": "delivery", "quantity_after": 999},
    ],
    ids=[
        "a reference of 201 characters",
        "a delta beyond a database integer",
        "a fractional delta",
        "an empty reason",
        "a missing reason",
        "a quantity_after sent by the caller",
    ],
)
def test_an_unacceptable_adjustment_is_refused_and_changes_nothing(
    client, db, manager, product, body
):
    response = client.post(stock_url(product["id"]), json=body, headers=manager)
    assert response.status_code == 422
    assert stored_product(db, product["id"]).stock_quantity == 50


def test_taking_more_than_is_in_stock_is_a_conflict_that_changes_nothing(
    client, db, manager, product
):
    response = client.post(
        stock_url(product["id"]), json={"delta": -51, "reason": "big order"}, headers=manager
    )
    assert response.status_code == 409
    body = response.json()
    assert body["available"] == 50
    assert "50 available" in body["detail"]
    assert "51 requested" in body["detail"]
    stored = stored_product(db, product["id"])
    assert (stored.stock_quantity, stored.version) == (50, product["version"])
    assert len(ledger(db, product["id"])) == 1


def test_taking_exactly_the_stock_leaves_zero(client, db, manager, product):
    response = client.post(
        stock_url(product["id"]), json={"delta": -50, "reason": "clearance"}, headers=manager
    )
    assert response.status_code == 200
    assert response.json()["stock_quantity"] == 0
    assert stored_product(db, product["id"]).stock_quantity == 0


def test_a_delta_that_would_overflow_the_stock_is_a_conflict_not_an_error(
    client, db, manager, product
):
    response = client.post(
        stock_url(product["id"]),
        json={"delta": MAX_DB_INT, "reason": "typo"},
        headers=manager,
    )
    assert response.status_code == 409
    assert response.json()["available"] == 50
    assert "maximum" in response.json()["detail"]
    assert stored_product(db, product["id"]).stock_quantity == 50
    assert len(ledger(db, product["id"])) == 1


def test_a_delta_of_zero_is_refused(client, db, manager, product):
    response = client.post(
        stock_url(product["id"]), json={"delta": 0, "reason": "nothing"}, headers=manager
    )
    assert response.status_code == 422
    assert "delta" in response.json()["detail"]
    stored = stored_product(db, product["id"])
    assert (stored.stock_quantity, stored.version) == (50, product["version"])


def test_a_reason_of_201_characters_is_refused(client, db, manager, product):
    response = client.post(
        stock_url(product["id"]), json={"delta": 1, "reason": "x" * 201}, headers=manager
    )
    assert response.status_code == 422
    assert stored_product(db, product["id"]).stock_quantity == 50
    assert len(ledger(db, product["id"])) == 1


def test_a_reason_of_200_characters_is_accepted(client, manager, product):
    response = client.post(
        stock_url(product["id"]), json={"delta": 1, "reason": "x" * 200}, headers=manager
    )
    assert response.status_code == 200


def test_adjusting_an_unknown_product_is_not_found(client, db, manager):
    response = client.post(stock_url(999), json={"delta": 1, "reason": "x"}, headers=manager)
    assert response.status_code == 404
    assert "999" in response.json()["detail"]
    assert count(db, StockMovement) == 0


def test_taking_from_an_unknown_product_is_not_found(client, manager):
    response = client.post(stock_url(999), json={"delta": -1, "reason": "x"}, headers=manager)
    assert response.status_code == 404


def test_a_viewer_cannot_adjust_stock(client, db, viewer, product):
    response = client.post(
        stock_url(product["id"]), json={"delta": 1, "reason": "x"}, headers=viewer
    )
    assert response.status_code == 403
    assert stored_product(db, product["id"]).stock_quantity == 50
    assert len(ledger(db, product["id"])) == 1


def test_adjusting_stock_needs_a_token(client, db, product):
    response = client.post(stock_url(product["id"]), json={"delta": 1, "reason": "x"})
    assert response.status_code == 401
    assert stored_product(db, product["id"]).stock_quantity == 50


# The ledger


def test_the_opening_stock_of_a_new_product_is_its_first_movement(
    client, db, admin, admin_user, product
):
    movements = ledger(db, product["id"])
    assert len(movements) == 1
    assert movements[0].delta == 50
    assert movements[0].quantity_after == 50
    assert "initial" in movements[0].reason
    assert movements[0].user_id == admin_user.id


def test_a_product_created_without_stock_has_an_empty_ledger(client, db, manager):
    created = create_product(client, manager, stock_quantity=0)
    assert ledger(db, created["id"]) == []
    assert client.get(movements_url(created["id"]), headers=manager).json()["total"] == 0


def test_a_stock_patch_is_recorded_as_the_difference(client, db, manager, manager_user, product):
    response = client.patch(
        product_url(product["id"]), json={"stock_quantity": 42}, headers=manager
    )
    assert response.status_code == 200, response.text
    movement = ledger(db, product["id"])[-1]
    assert movement.delta == -8
    assert movement.quantity_after == 42
    assert "update" in movement.reason
    assert movement.user_id == manager_user.id


def test_a_patch_that_keeps_the_stock_records_no_movement(client, db, manager, product):
    response = client.patch(
        product_url(product["id"]),
        json={"stock_quantity": 50, "name": "Hose"},
        headers=manager,
    )
    assert response.status_code == 200
    assert len(ledger(db, product["id"])) == 1


def test_the_ledger_lists_movements_newest_first(client, manager, product):
    for delta in (5, -2, 7):
        client.post(stock_url(product["id"]), json={"delta": delta, "reason": "r"}, headers=manager)
    response = client.get(movements_url(product["id"]), headers=manager)
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 4
    assert (body["limit"], body["offset"]) == (50, 0)
    assert [item["delta"] for item in body["items"]] == [7, -2, 5, 50]
    assert [item["quantity_after"] for item in body["items"]] == [60, 53, 55, 50]
    assert set(body["items"][0]) == {
        "id",
        "product_id",
        "delta",
        "quantity_after",
        "reason",
        "reference",
        "user_id",
        "created_at",
        "location_id",
    }


def test_the_ledger_is_paginated(client, manager, product):
    for delta in (1, 2, 3, 4):
        client.post(stock_url(product["id"]), json={"delta": delta, "reason": "r"}, headers=manager)
    response = client.get(
        movements_url(product["id"]), params={"limit": 2, "offset": 1}, headers=manager
    )
    body = response.json()
    assert response.status_code == 200
    assert body["total"] == 5
    assert (body["limit"], body["offset"]) == (2, 1)
    assert [item["delta"] for item in body["items"]] == [3, 2]


def test_the_ledger_refuses_a_page_size_out_of_range(client, manager, product):
    response = client.get(movements_url(product["id"]), params={"limit": 201}, headers=manager)
    assert response.status_code == 422


def test_the_ledger_shows_only_the_products_own_movements(client, manager, product):
    other = create_product(client, manager, stock_quantity=3)
    client.post(stock_url(other["id"]), json={"delta": 1, "reason": "r"}, headers=manager)
    items = client.get(movements_url(product["id"]), headers=manager).json()["items"]
    assert {item["product_id"] for item in items} == {product["id"]}


def test_a_viewer_may_read_the_ledger(client, viewer, product):
    response = client.get(movements_url(product["id"]), headers=viewer)
    assert response.status_code == 200
    assert response.json()["total"] == 1


def test_the_ledger_of_an_unknown_product_is_not_found(client, manager):
    response = client.get(movements_url(999), headers=manager)
    assert response.status_code == 404


def test_the_ledger_always_sums_to_the_stock(client, db, manager, product):
    product_id = product["id"]
    client.post(stock_url(product_id), json={"delta": 12, "reason": "delivery"}, headers=manager)
    client.post(stock_url(product_id), json={"delta": -30, "reason": "order"}, headers=manager)
    client.post(stock_url(product_id), json={"delta": -100, "reason": "refused"}, headers=manager)
    client.patch(product_url(product_id), json={"stock_quantity": 9}, headers=manager)
    client.patch(product_url(product_id), json={"price": "1.00"}, headers=manager)
    client.post(stock_url(product_id), json={"delta": -9, "reason": "order"}, headers=manager)
    client.patch(product_url(product_id), json={"stock_quantity": 77}, headers=manager)
    client.post(stock_url(product_id), json={"delta": 3, "reason": "return"}, headers=manager)
    stock_quantity = stored_product(db, product_id).stock_quantity
    assert stock_quantity == 80
    assert ledger_sum(db, product_id) == stock_quantity
    movements = ledger(db, product_id)
    assert movements[-1].quantity_after == stock_quantity
    running = 0
    for movement in movements:
        running += movement.delta
        assert movement.quantity_after == running


def test_deleting_a_user_keeps_their_movements_without_a_user(
    client, db, admin, make_user, product
):
    clerk = make_user(Role.manager, "clerk")
    response = client.post(
        stock_url(product["id"]), json={"delta": -4, "reason": "order"}, headers=auth_headers(clerk)
    )
    assert response.status_code == 200
    assert client.delete(f"/api/v1/users/{clerk.id}", headers=admin).status_code == 204
    movements = ledger(db, product["id"])
    assert len(movements) == 2
    assert movements[-1].delta == -4
    assert movements[-1].user_id is None
    assert ledger_sum(db, product["id"]) == 46
