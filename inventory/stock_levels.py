"""Stock per location: the locks every stock change takes, due holds released under them, and
changes of on-hand stock that never touch reserved units.

The rules every writer follows:
- Lock order. A change locks its reservation first (if any), then its products in id order
  (`lock_products`), and only then touches stock levels, reservation lines and ledger rows. Every
  level change goes through its product's lock, so two changes of one product never interleave
  and two changes of many products never wait on each other in a circle.
- Sums. A trigger on `stock_levels` (migration 0011) adds each change of a level to its product,
  so `products.stock_quantity` and `products.reserved` are always the sums over locations.
- Expiry. A reservation holds nothing once its `expires_at` has passed. Writers release the due
  holds of the products they lock before they look at availability (`lock_products`), so what
  they check and store is exact; readers subtract the holds that are due but not yet released
  (`due_holds`). docs/reservations.md says why.
- Every operation ends by bumping the versions of the products whose reading changed
  (`product_stock`), writing its ledger rows (`record_movements`) and syncing the low-stock
  alerts (inventory/low_stock.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ARRAY, Integer, bindparam, func, select, text
from sqlalchemy.exc import DataError, IntegrityError
from sqlmodel import Session

from inventory.errors import Conflict, Invalid, NotFound
from inventory.models import (
    MAX_DB_INT,
    Location,
    Product,
    ReservationLine,
    StockLevel,
    StockLevelPage,
    StockLevelRead,
    StockMovement,
)
from inventory.pagination import PageParams

INT_ARRAY = ARRAY(Integer)

LOCK_PRODUCTS = text(
    """
    WITH locked AS (
        SELECT id FROM products WHERE id = ANY(:product_ids) ORDER BY id FOR NO KEY UPDATE
    ), due AS (
        UPDATE reservation_lines SET holding = false
        WHERE product_id IN (SELECT id FROM locked) AND holding AND expires_at <= now()
        RETURNING product_id, location_id, quantity
    ), freed AS (
        SELECT product_id, location_id, sum(quantity) AS quantity FROM due GROUP BY 1, 2
    ), released AS (
        UPDATE stock_levels SET reserved = stock_levels.reserved - freed.quantity
        FROM freed
        WHERE stock_levels.product_id = freed.product_id
            AND stock_levels.location_id = freed.location_id
        RETURNING 1
    )
    SELECT id FROM locked
    """
).bindparams(bindparam("product_ids", type_=INT_ARRAY))

TAKE_ON_HAND = text(
    """
    UPDATE stock_levels SET on_hand = on_hand + :delta
    WHERE product_id = :product_id
        AND location_id = COALESCE(
            CAST(:location_id AS integer), (SELECT id FROM locations WHERE is_default)
        )
        AND on_hand + :delta >= reserved
    RETURNING location_id
    """
)
PUT_ON_HAND = text(
    """
    INSERT INTO stock_levels AS level (product_id, location_id, on_hand)
    VALUES (
        :product_id,
        COALESCE(CAST(:location_id AS integer), (SELECT id FROM locations WHERE is_default)),
        :delta
    )
    ON CONFLICT (product_id, location_id) DO UPDATE SET on_hand = level.on_hand + excluded.on_hand
    RETURNING location_id
    """
)
AVAILABLE_AT = text(
    """
    SELECT
        locations.id,
        COALESCE((
            SELECT on_hand - reserved FROM stock_levels
            WHERE product_id = :product_id AND location_id = locations.id
        ), 0)
    FROM locations
    WHERE locations.id
        = COALESCE(CAST(:location_id AS integer), (SELECT id FROM locations WHERE is_default))
    """
)
PRODUCT_STOCK = text(
    "SELECT id, stock_quantity FROM products WHERE id = ANY(:product_ids)"
).bindparams(bindparam("product_ids", type_=INT_ARRAY))
NEW_PRODUCT_VERSIONS = text(
    """
    UPDATE products SET version = version + 1, updated_at = now()
    WHERE id = ANY(:product_ids)
    RETURNING id, stock_quantity
    """
).bindparams(bindparam("product_ids", type_=INT_ARRAY))


def due_holds(product: Any, location: Any | None = None) -> Any:
    """SQL: the units of `product` (at `location`, else everywhere) that reservations past
    their `expires_at` still hold, because no writer or sweep has released them yet.

    Readers subtract it from the stored `reserved`. It reads the partial index of holding lines,
    which has no entry for most products, so a page of products pays a few index probes."""
    held = select(func.coalesce(func.sum(ReservationLine.quantity), 0)).where(
        ReservationLine.product_id == product,
        ReservationLine.holding,
        ReservationLine.expires_at <= func.now(),
    )
    if location is not None:
        held = held.where(ReservationLine.location_id == location)
    return held.correlate_except(ReservationLine).scalar_subquery()


def lock_products(session: Session, product_ids: Iterable[int]) -> set[int]:
    """Lock the products (in id order) and release their due holds; the ids that exist."""
    ids = sorted(set(product_ids))
    return set(session.scalars(LOCK_PRODUCTS, {"product_ids": ids}))


def lock_product(session: Session, product_id: int) -> None:
    """Lock one product as `lock_products` does; 404 if there is none."""
    if not lock_products(session, [product_id]):
        session.rollback()
        raise NotFound("product", product_id)


def change_on_hand(session: Session, product_id: int, location_id: int | None, delta: int) -> int:
    """Add `delta` units at the location (the default one when None) of a product this
    transaction has locked; the location's id.

    Taking never touches reserved units: 409 with `available` when `available` would fall
    below zero. Adding creates the level row if the product never was there."""
    parameters = {"product_id": product_id, "location_id": location_id, "delta": delta}
    try:
        changed = session.execute(TAKE_ON_HAND if delta < 0 else PUT_ON_HAND, parameters).first()
    except (IntegrityError, DataError) as error:
        # An unknown location (foreign key) or a sum beyond the integer range.
        session.rollback()
        available = _available_at(session, product_id, location_id)
        raise Conflict(
            f"stock would exceed the maximum of {MAX_DB_INT}", available=available
        ) from error
    if changed is None:
        available = _available_at(session, product_id, location_id)
        session.rollback()
        raise Conflict(
            f"not enough stock: {available} available, {-delta} requested", available=available
        )
    return changed.location_id


def _available_at(session: Session, product_id: int, location_id: int | None) -> int:
    """What can be taken at the location; 422 when there is no such location."""
    row = session.execute(
        AVAILABLE_AT, {"product_id": product_id, "location_id": location_id}
    ).first()
    if row is None:
        session.rollback()
        raise Invalid(f"unknown location id: {location_id}", loc=("body", "location_id"))
    return row[1]


def product_stock(
    session: Session, product_ids: Iterable[int], *, changed: bool = True
) -> dict[int, int]:
    """The locked products' stock (on hand, all locations) after this transaction's changes,
    by id.

    With `changed` (the operation changed what the products read), each product's version
    goes up by one and its `updated_at` to now, however many of its levels changed."""
    statement = NEW_PRODUCT_VERSIONS if changed else PRODUCT_STOCK
    rows = session.execute(statement, {"product_ids": sorted(set(product_ids))})
    return {row.id: row.stock_quantity for row in rows}


@dataclass(frozen=True)
class Movement:
    """One ledger row to write."""

    product_id: int
    location_id: int
    delta: int


def record_movements(
    session: Session,
    movements: list[Movement],
    stock: dict[int, int],
    *,
    reason: str,
    reference: str | None,
    user_id: int | None,
) -> None:
    """Write the ledger rows of one operation; `quantity_after` is the product's stock (all
    locations) once the operation is done."""
    session.execute(
        StockMovement.__table__.insert(),
        [
            {
                "product_id": movement.product_id,
                "location_id": movement.location_id,
                "delta": movement.delta,
                "quantity_after": stock[movement.product_id],
                "reason": reason,
                "reference": reference,
                "user_id": user_id,
            }
            for movement in movements
        ],
    )


def list_levels(session: Session, product_id: int, page: PageParams) -> StockLevelPage:
    """A page of the product's levels, by location id (NotFound if there is no such product)."""
    if session.get(Product, product_id) is None:
        raise NotFound("product", product_id)
    due = due_holds(StockLevel.product_id, StockLevel.location_id)
    reserved = StockLevel.reserved - due
    rows = session.execute(
        select(
            StockLevel.location_id,
            Location.name.label("location_name"),
            StockLevel.on_hand,
            reserved.label("reserved"),
            (StockLevel.on_hand - reserved).label("available"),
        )
        .join(Location, Location.id == StockLevel.location_id)
        .where(StockLevel.product_id == product_id)
        .order_by(StockLevel.location_id)
        .limit(page.limit)
        .offset(page.offset)
    )
    total = session.scalar(
        select(func.count()).select_from(StockLevel).where(StockLevel.product_id == product_id)
    )
    items = [StockLevelRead.model_validate(dict(row._mapping)) for row in rows]
    return StockLevelPage(items=items, total=total or 0, limit=page.limit, offset=page.offset)
