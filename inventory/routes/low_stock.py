"""Stock overview: products running low, and the low-stock alerts."""

from typing import Annotated

from fastapi import Query, Response
from sqlalchemy import select

from inventory import product_queries
from inventory.auth import CurrentUser
from inventory.db import SessionDep
from inventory.models import LowStockAlert, LowStockAlertPage, ProductPage
from inventory.pagination import PageDep, paginate
from inventory.product_json import page_response
from inventory.routing import ApiRouter

router = ApiRouter(tag="inventory")


@router.get(
    "/inventory/low-stock",
    summary="Products at or below their threshold",
    response_model=ProductPage,
)
def list_low_stock(session: SessionDep, _: CurrentUser, page: PageDep) -> Response:
    """Products whose stock is at or below their low-stock threshold, most urgent first
    (lowest stock first, then the largest shortfall below the threshold)."""
    items, total = product_queries.list_low_stock(session, page)
    return page_response(items, total, page)


@router.get("/alerts", summary="Low-stock alerts")
def list_alerts(
    session: SessionDep,
    _: CurrentUser,
    page: PageDep,
    active: Annotated[
        bool | None, Query(description="true: open alerts only; false: resolved only.")
    ] = None,
) -> LowStockAlertPage:
    """Low-stock alerts, newest first."""
    statement = select(LowStockAlert)
    if active is not None:
        statement = statement.where(LowStockAlert.active == active)
    newest_first = (LowStockAlert.created_at.desc(), LowStockAlert.id.desc())
    return paginate(session, statement, page, LowStockAlertPage, *newest_first)
