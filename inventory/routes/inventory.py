"""Stock overview: products running low, and the low-stock alerts."""

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from inventory import catalog
from inventory.auth import CurrentUser
from inventory.db import SessionDep
from inventory.http import (
    API_PREFIX,
    PROTECTED,
    ApiRoute,
    PageDep,
    json_page_response,
    page_body,
    page_of,
)
from inventory.models import LowStockAlert, LowStockAlertRead, ProductRead

router = APIRouter(prefix=API_PREFIX, tags=["inventory"], route_class=ApiRoute, responses=PROTECTED)
ProductPage = page_of(ProductRead)
AlertPage = page_of(LowStockAlertRead)


@router.get("/inventory/low-stock", summary="Products at or below their threshold")
def low_stock(session: SessionDep, _: CurrentUser, page: PageDep) -> ProductPage:
    """Products whose stock is at or below their low-stock threshold, most urgent first
    (lowest stock first, then the largest shortfall below the threshold)."""
    items, total = catalog.list_low_stock(session, page)
    return json_page_response(items, total, page)


@router.get("/alerts", summary="Low-stock alerts")
def list_alerts(
    session: SessionDep,
    _: CurrentUser,
    page: PageDep,
    active: Annotated[
        bool | None, Query(description="true: open alerts only; false: resolved only.")
    ] = None,
) -> AlertPage:
    """Low-stock alerts, newest first."""
    statement = select(LowStockAlert)
    if active is not None:
        statement = statement.where(LowStockAlert.active == active)
    total = session.scalar(select(func.count()).select_from(statement.subquery()))
    items = session.scalars(
        statement.order_by(LowStockAlert.created_at.desc(), LowStockAlert.id.desc())
        .limit(page.limit)
        .offset(page.offset)
    )
    return page_body(list(items), total or 0, page)
