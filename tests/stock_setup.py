"""Helpers for tests of locations, transfers and reservations: stock put in place behind the
API's back (the level trigger keeps the product's totals), and what the database holds."""

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session

from tests.factories import create_product

MAIN = 1
"""The default location every test starts with (tests/conftest.py)."""


def put_stock(db: Session, product_id: int, location_id: int, on_hand: int) -> None:
    """Set the product's on-hand stock at the location, with a matching ledger row."""
    db.execute(
        text(
            "INSERT INTO stock_levels (product_id, location_id, on_hand) "
            "VALUES (:product_id, :location_id, :on_hand) "
            "ON CONFLICT (product_id, location_id) DO UPDATE SET on_hand = excluded.on_hand"
        ),
        {"product_id": product_id, "location_id": location_id, "on_hand": on_hand},
    )
    db.execute(
        text(
            "INSERT INTO stock_movements (product_id, location_id, delta, quantity_after, reason) "
            "SELECT :product_id, :location_id, "
            ":on_hand - COALESCE((SELECT sum(delta) FROM stock_movements "
            "WHERE product_id = :product_id AND location_id = :location_id), 0), "
            "stock_quantity, 'test set-up' FROM products WHERE id = :product_id"
        ),
        {"product_id": product_id, "location_id": location_id, "on_hand": on_hand},
    )
    db.commit()


def level(db: Session, product_id: int, location_id: int) -> tuple[int, int]:
    """(on_hand, reserved) of the product at the location as stored ((0, 0) without a row)."""
    row = db.execute(
        text(
            "SELECT on_hand, reserved FROM stock_levels "
            "WHERE product_id = :product_id AND location_id = :location_id"
        ),
        {"product_id": product_id, "location_id": location_id},
    ).first()
    db.commit()
    return (row.on_hand, row.reserved) if row else (0, 0)


def totals(db: Session, product_id: int) -> tuple[int, int]:
    """(stock_quantity, reserved) of the product as stored."""
    row = db.execute(
        text("SELECT stock_quantity, reserved FROM products WHERE id = :id"), {"id": product_id}
    ).one()
    db.commit()
    return row.stock_quantity, row.reserved


def ledger_by_location(db: Session, product_id: int) -> dict[int, int]:
    """The product's ledger summed per location."""
    rows = db.execute(
        text(
            "SELECT location_id, sum(delta) FROM stock_movements "
            "WHERE product_id = :id GROUP BY location_id"
        ),
        {"id": product_id},
    )
    result = {location_id: int(total) for location_id, total in rows}
    db.commit()
    return result


def on_hand_by_location(db: Session, product_id: int) -> dict[int, int]:
    """The product's on-hand stock per location (rows that hold or held it)."""
    rows = db.execute(
        text("SELECT location_id, on_hand FROM stock_levels WHERE product_id = :id"),
        {"id": product_id},
    )
    result = dict(rows.all())
    db.commit()
    return result


def make_location(client: TestClient, headers: dict[str, str], name: str, **fields) -> dict:
    """A location made through the API."""
    response = client.post("/api/v1/locations", json={"name": name, **fields}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def make_product(client: TestClient, headers: dict[str, str], name: str = "Lamp", **fields) -> dict:
    """A product made through the API, with no stock and no low-stock threshold unless given."""
    return create_product(client, headers, name, **{"low_stock_threshold": 0, **fields})
