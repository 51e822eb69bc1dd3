"""Lists: every list answers one page, `{items, total, limit, offset}` (`models.Page`).

`PageDep` reads `limit` and `offset`; `paginate` fills a page of a list's `...Page` shape from a
query. Product lists are written by PostgreSQL in the same shape
(`inventory.product_json.page_response`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, TypeVar, get_args

from fastapi import Depends, Query
from sqlalchemy import Select, func, select
from sqlmodel import Session

from inventory.models import MAX_DB_INT, Page

PageShape = TypeVar("PageShape", bound=Page)


@dataclass(frozen=True)
class PageParams:
    """Which slice of a list to return."""

    limit: int
    offset: int


async def page_params(
    limit: Annotated[int, Query(ge=1, le=200, description="Items per page, 1–200.")] = 50,
    offset: Annotated[
        int, Query(ge=0, le=MAX_DB_INT, description="How many matching items to skip.")
    ] = 0,
) -> PageParams:
    """Read `limit` and `offset`; out-of-range values are a 422, never clamped."""
    return PageParams(limit=limit, offset=offset)


PageDep = Annotated[PageParams, Depends(page_params)]


def paginate(
    session: Session,
    statement: Select,
    page: PageParams,
    page_shape: type[PageShape],
    *order_by: Any,
) -> PageShape:
    """One page of the rows `statement` selects, in `order_by` order, as `page_shape` (e.g.
    `UserPage`, whose items are `UserRead`), with how many rows it selects in all."""
    (item_shape,) = get_args(page_shape.model_fields["items"].annotation)
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    rows = session.scalars(statement.order_by(*order_by).limit(page.limit).offset(page.offset))
    items = [item_shape.model_validate(row, from_attributes=True) for row in rows]
    return page_shape(items=items, total=total or 0, limit=page.limit, offset=page.offset)
