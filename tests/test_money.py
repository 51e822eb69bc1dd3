"""Prices are exact: a JSON number or string in, NUMERIC(12,2) in the database, a string with
exactly two places out, and never a float on the way."""

from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlmodel import Session

from inventory.models import Product
from tests.factories import PRODUCTS, count


def stored_price(db: Session, product_id: int) -> Decimal:
    return db.scalar(select(Product.price).where(Product.id == product_id))


@pytest.mark.parametrize(
    ("sent", "returned"),
    [
        ("0.10", "0.10"),
        (0.10, "0.10"),
        (19.99, "19.99"),
        ("19.99", "19.99"),
        ("9999999999.99", "9999999999.99"),
        (0, "0.00"),
        ("0", "0.00"),
        ("5", "5.00"),
        (5, "5.00"),
        ("5.5", "5.50"),
        ("1.10", "1.10"),
    ],
)
def test_a_price_round_trips_exactly_with_two_places(client, manager, db, sent, returned):
    response = client.post(PRODUCTS, json={"name": "Item", "price": sent}, headers=manager)
    assert response.status_code == 201, response.text
    assert response.json()["price"] == returned
    product_id = response.json()["id"]
    assert client.get(f"{PRODUCTS}/{product_id}", headers=manager).json()["price"] == returned
    listed = client.get(PRODUCTS, headers=manager).json()["items"]
    assert [item["price"] for item in listed] == [returned]
    assert stored_price(db, product_id) == Decimal(returned)


def test_the_largest_price_survives_as_exact_json_number(client, manager, db):
    # 9999999999.99 is not representable as a float: only an exact parse keeps the last cent.
    response = client.post(
        PRODUCTS,
        content=b'{"name": "Item", "price": 9999999999.99}',
        headers={**manager, "Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["price"] == "9999999999.99"
    assert stored_price(db, response.json()["id"]) == Decimal("9999999999.99")


def test_a_price_is_stored_as_an_exact_numeric(client, manager, db):
    response = client.post(PRODUCTS, json={"name": "Item", "price": "0.10"}, headers=manager)
    product_id = response.json()["id"]
    price = stored_price(db, product_id)
    assert isinstance(price, Decimal)
    assert price == Decimal("0.10")
    column_type = db.scalar(
        text(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'products'::regclass AND attname = 'price'"
        )
    )
    assert column_type == "numeric(12,2)"
    assert db.scalar(text("SELECT price = 0.10 FROM products WHERE id = :id"), {"id": product_id})


def test_three_dimes_add_up_to_exactly_thirty_cents(client, manager, db):
    for _ in range(3):
        client.post(PRODUCTS, json={"name": "Dime", "price": 0.1}, headers=manager)
    assert db.scalar(select(func.sum(Product.price))) == Decimal("0.30")


@pytest.mark.parametrize(
    "price",
    [
        1.001,
        "1.001",
        -1,
        "-0.01",
        "abc",
        "",
        "NaN",
        "Infinity",
        "-Infinity",
        1e10,
        "1e10",
        10**10,
        "10000000000",
        None,
        True,
        [1],
        {"amount": 1},
    ],
)
def test_an_invalid_price_is_422_naming_it_and_nothing_is_written(client, manager, db, price):
    response = client.post(PRODUCTS, json={"name": "Item", "price": price}, headers=manager)
    assert response.status_code == 422
    assert "body.price" in response.json()["detail"]
    assert count(db, Product) == 0


@pytest.mark.parametrize("price", [b"NaN", b"Infinity", b"-Infinity", b"1e10", b"1.001"])
def test_an_invalid_bare_json_number_is_422(client, manager, db, price):
    response = client.post(
        PRODUCTS,
        content=b'{"name": "Item", "price": ' + price + b"}",
        headers={**manager, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert count(db, Product) == 0


def test_an_invalid_price_on_patch_leaves_the_price(client, manager, product, db):
    response = client.patch(f"{PRODUCTS}/{product['id']}", json={"price": "0.001"}, headers=manager)
    assert response.status_code == 422
    assert "body.price" in response.json()["detail"]
    assert stored_price(db, product["id"]) == Decimal("19.99")


def test_a_price_patched_as_a_number_is_exact(client, manager, product, db):
    response = client.patch(f"{PRODUCTS}/{product['id']}", json={"price": 0.29}, headers=manager)
    assert response.status_code == 200
    assert response.json()["price"] == "0.29"
    assert stored_price(db, product["id"]) == Decimal("0.29")


@pytest.fixture
def priced(client, manager) -> dict[str, int]:
    """Products priced 0.10, 0.29, 0.30 and 0.31, by price."""
    ids = {}
    for price in ("0.10", "0.29", "0.30", "0.31"):
        response = client.post(PRODUCTS, json={"name": price, "price": price}, headers=manager)
        ids[price] = response.json()["id"]
    return ids


def prices_listed(client, headers, **params) -> list[str]:
    response = client.get(PRODUCTS, params={"sort": "price", **params}, headers=headers)
    assert response.status_code == 200, response.text
    return [item["price"] for item in response.json()["items"]]


def test_min_price_is_inclusive_and_exact(client, viewer, priced):
    # 0.1 + 0.2 as a float is 0.30000000000000004, which would drop 0.30.
    assert prices_listed(client, viewer, min_price="0.30") == ["0.30", "0.31"]


def test_max_price_is_inclusive_and_exact(client, viewer, priced):
    assert prices_listed(client, viewer, max_price="0.30") == ["0.10", "0.29", "0.30"]


def test_min_and_max_price_together_select_a_closed_range(client, viewer, priced):
    assert prices_listed(client, viewer, min_price="0.29", max_price="0.30") == ["0.29", "0.30"]
    assert prices_listed(client, viewer, min_price="0.3", max_price="0.3") == ["0.30"]


def test_price_filters_with_more_places_still_compare_exactly(client, viewer, priced):
    assert prices_listed(client, viewer, min_price="0.295") == ["0.30", "0.31"]
    assert prices_listed(client, viewer, max_price="0.3000001") == ["0.10", "0.29", "0.30"]


@pytest.mark.parametrize(
    "params",
    [
        {"min_price": "abc"},
        {"min_price": "-1"},
        {"max_price": "NaN"},
        {"max_price": "Infinity"},
        {"max_price": "10000000000"},
        {"min_price": "2", "max_price": "1"},
    ],
)
def test_a_bad_price_filter_is_422(client, viewer, priced, params):
    response = client.get(PRODUCTS, params=params, headers=viewer)
    assert response.status_code == 422
    assert "price" in response.json()["detail"]


@pytest.mark.parametrize("written", ["1e2", " 5", "+5", "5.", "-0", "0x10", "1.234"])
def test_a_price_string_in_another_form_than_documented_is_a_422(client, manager, written):
    response = client.post(
        "/api/v1/products", json={"name": "Rake", "price": written}, headers=manager
    )
    assert response.status_code == 422
    assert "price" in response.json()["detail"]
