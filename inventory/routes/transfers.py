"""Stock transfers between locations."""

from typing import Annotated

from fastapi import Query
from pydantic import Field

from inventory import transfers
from inventory.auth import CurrentUser, ManagerDep
from inventory.db import SessionDep
from inventory.errors import ErrorBody, error_doc, invalid_doc
from inventory.models import MAX_DB_INT, StockTransferCreate, StockTransferPage, StockTransferRead
from inventory.pagination import PageDep
from inventory.routing import ApiRouter

router = ApiRouter("/stock-transfers", tag="stock transfers")


class TransferConflictBody(ErrorBody):
    """A refused transfer: the source does not have the units available."""

    available: int = Field(description="Units available at the source now.", examples=[2])


@router.post(
    "",
    status_code=201,
    summary="Move stock between locations",
    responses=error_doc(
        409,
        "The source location lacks the units (reserved units stay put); nothing changed.",
        "not enough stock: 2 available, 5 requested",
        TransferConflictBody,
        available=2,
    )
    | invalid_doc(
        "The request does not fit the schema, names the same location twice, or names an "
        "unknown product or location.",
        "unknown location id: 9",
    ),
)
def create_transfer(
    body: StockTransferCreate, session: SessionDep, user: ManagerDep
) -> StockTransferRead:
    """Move `quantity` units of a product from one location to another, atomically: the
    source's on-hand falls and the destination's rises, with one ledger row each, or nothing
    happens. Only available units move (409 with `available`). The product's total stock does
    not change."""
    return transfers.create_transfer(session, **body.model_dump(), user_id=user.id)


@router.get("", summary="List stock transfers")
def list_transfers(
    session: SessionDep,
    _: CurrentUser,
    page: PageDep,
    product_id: Annotated[
        int | None, Query(ge=1, le=MAX_DB_INT, description="Only transfers of this product.")
    ] = None,
) -> StockTransferPage:
    """Transfers, newest first."""
    return transfers.list_transfers(session, product_id, page)
