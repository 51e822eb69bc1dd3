"""Stock transfers between locations: both ledger rows or neither."""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlmodel import Session

from inventory import low_stock
from inventory.errors import Invalid
from inventory.events import record_event
from inventory.locations import known_locations
from inventory.models import StockTransfer, StockTransferPage, StockTransferRead
from inventory.pagination import PageParams, paginate
from inventory.stock_levels import (
    Movement,
    change_on_hand,
    lock_products,
    product_stock,
    record_movements,
)


def create_transfer(
    session: Session,
    *,
    product_id: int,
    from_location_id: int,
    to_location_id: int,
    quantity: int,
    reason: str,
    reference: str | None,
    user_id: int,
) -> StockTransferRead:
    """Move units of a product from one location to another in one transaction.

    The source must have them available (reserved units stay): else 409 with `available`.
    """
    if from_location_id == to_location_id:
        raise Invalid(
            "from_location_id and to_location_id must differ", loc=("body", "to_location_id")
        )
    known_locations(session, {from_location_id, to_location_id})
    if not lock_products(session, [product_id]):
        session.rollback()
        raise Invalid(f"unknown product id: {product_id}", loc=("body", "product_id"))
    # The same conditional changes as adjustments: reserved units at the source stay.
    change_on_hand(session, product_id, from_location_id, -quantity)
    change_on_hand(session, product_id, to_location_id, quantity)
    transfer = session.execute(
        insert(StockTransfer)
        .values(
            product_id=product_id,
            from_location_id=from_location_id,
            to_location_id=to_location_id,
            quantity=quantity,
            reason=reason,
            reference=reference,
            user_id=user_id,
        )
        .returning(*StockTransfer.__table__.columns)
    ).one()
    # The product reads the same (its total and reserved units did not change): no new version.
    stock = product_stock(session, [product_id], changed=False)
    record_movements(
        session,
        [
            Movement(product_id, from_location_id, -quantity),
            Movement(product_id, to_location_id, quantity),
        ],
        stock,
        reason=reason,
        reference=reference,
        user_id=user_id,
    )
    moved = {
        name: getattr(transfer, name)
        for name in ("product_id", "from_location_id", "to_location_id", "quantity", "reason")
    } | {"reference": reference}
    record_event(session, "stock.transferred", "stock_transfer", transfer.id, moved, user_id)
    # Due holds released under the lock may have freed stock.
    opened = low_stock.sync_alerts(session, [product_id], user_id)
    session.commit()
    low_stock.log_opened(opened)
    return StockTransferRead.model_validate(transfer._mapping)


def list_transfers(session: Session, product_id: int | None, page: PageParams) -> StockTransferPage:
    """A page of transfers, newest first, optionally of one product."""
    statement = select(StockTransfer)
    if product_id is not None:
        statement = statement.where(StockTransfer.product_id == product_id)
    return paginate(session, statement, page, StockTransferPage, StockTransfer.id.desc())
