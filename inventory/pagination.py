"""Lists: every list answers one page, `{items, total, limit, offset}`.

`Page[T]` is that envelope, `PageDep` reads `limit` and `offset`, and `paginate` fills a page
from a query. Product lists are written by PostgreSQL in the same envelope
(`inventory.product_json.page_response`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, func, select
from sqlmodel import Session

from inventory.models import MAX_DB_INT

Item = TypeVar("Item")


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


class Page(BaseModel, Generic[Item]):
    """One page of a list."""

    model_config = ConfigDict(from_attributes=True)

    items: list[Item] = Field(description="This page's items.")
    total: int = Field(description="How many items match, over all pages.", examples=[120])
    limit: int = Field(description="The page size asked for.", examples=[50])
    offset: int = Field(description="How many matching items were skipped.", examples=[0])

    @classmethod
    def model_parametrized_name(cls, params: tuple[type[Any], ...]) -> str:
        """`Page[ProductRead]` is called `ProductPage` in the OpenAPI document."""
        return params[0].__name__.removesuffix("Read") + "Page"


def paginate(
    session: Session,
    statement: Select,
    page: PageParams,
    item_shape: type[Item],
    *order_by: Any,
) -> Page[Item]:
    """One page of the rows `statement` selects, in `order_by` order, each read as
    `item_shape`, and how many rows it selects in all."""
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    rows = session.scalars(statement.order_by(*order_by).limit(page.limit).offset(page.offset))
    items = [item_shape.model_validate(row, from_attributes=True) for row in rows]
    return Page[item_shape](items=items, total=total or 0, limit=page.limit, offset=page.offset)
