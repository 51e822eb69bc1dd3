"""Products, their stock adjustments and their movement ledger."""

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import Field
from sqlalchemy import func, select

from inventory import catalog, stock
from inventory.auth import AdminDep, CurrentUser, ManagerDep
from inventory.db import SessionDep
from inventory.http import (
    API_PREFIX,
    CONFLICT,
    NOT_FOUND,
    PRECONDITION_FAILED,
    PROTECTED,
    ApiRoute,
    ErrorBody,
    IdPath,
    PageDep,
    json_page_response,
    json_response,
    page_body,
    page_of,
)
from inventory.models import (
    Product,
    ProductCreate,
    ProductRead,
    ProductUpdate,
    StockAdjustment,
    StockMovement,
    StockMovementRead,
)

router = APIRouter(
    prefix=f"{API_PREFIX}/products",
    tags=["products"],
    route_class=ApiRoute,
    responses=PROTECTED,
)
ProductPage = page_of(ProductRead)
StockMovementPage = page_of(StockMovementRead)
IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9._:-]{1,200}$"
ETAG_VERSION_PATTERN = re.compile(r"[0-9]{1,10}")


class StockConflictBody(ErrorBody):
    """A refused adjustment: why, and how many units there are."""

    available: int = Field(description="The stock right now.", examples=[2])


def etag(version: int) -> str:
    """The ETag of a product version."""
    return f'"{version}"'


def parse_if_match(if_match: str | None) -> int | None:
    """The version an `If-Match` header asks for (None for absent or `*`); 412 if unreadable."""
    if if_match is None or if_match.strip() == "*":
        return None
    value = if_match.strip().removeprefix("W/").strip('"')
    # ASCII digits only (isdigit() alone accepts "²", which int() refuses), and no more than a
    # version can have (int() refuses over 4,300 digits).
    if not ETAG_VERSION_PATTERN.fullmatch(value):
        raise HTTPException(status_code=412, detail=f"If-Match {if_match!r} is not a product ETag")
    return int(value)


@router.post("", status_code=201, summary="Create a product", responses=CONFLICT)
def create_product(
    body: ProductCreate, session: SessionDep, user: ManagerDep, request: Request
) -> ProductRead:
    """Add a product, optionally in some categories (unknown ids are a 422 naming them).
    Its opening stock is the first entry of its ledger; a product created at or below its
    threshold opens a low-stock alert. A taken `sku` is a 409."""
    product = catalog.create_product(session, body.model_dump(), user.id)
    location = str(request.url_for("get_product", product_id=product.id))
    headers = {"Location": location, "ETag": etag(product.version)}
    return json_response(ProductRead, product, status_code=201, headers=headers)


@router.get("", summary="List and search products")
def list_products(
    session: SessionDep,
    _: CurrentUser,
    page: PageDep,
    filters: Annotated[catalog.ProductFilters, Depends(catalog.product_filters)],
) -> ProductPage:
    """Products matching all the filters given, sorted by `sort` (ties broken by id)."""
    items, total = catalog.list_products(session, filters, page)
    return json_page_response(items, total, page)


@router.get("/{product_id}", summary="Get a product", responses=NOT_FOUND)
def get_product(product_id: IdPath, session: SessionDep, _: CurrentUser) -> ProductRead:
    """One product with its categories; the `ETag` header carries its version."""
    product = catalog.get_product_json(session, product_id)
    headers = {"ETag": etag(product.version)}
    return Response(product.json, headers=headers, media_type="application/json")


@router.patch(
    "/{product_id}",
    summary="Change a product",
    responses=NOT_FOUND | CONFLICT | PRECONDITION_FAILED,
)
def update_product(
    product_id: IdPath,
    body: ProductUpdate,
    session: SessionDep,
    user: ManagerDep,
    response: Response,
    if_match: Annotated[
        str | None,
        Header(description="The product's ETag; if it changed meanwhile, 412 and nothing changes."),
    ] = None,
) -> ProductRead:
    """Change only the fields sent. A new `stock_quantity` is recorded in the ledger as the
    difference; `category_ids` replaces the product's categories."""
    product = catalog.update_product(
        session,
        product_id,
        body.model_dump(exclude_unset=True),
        user.id,
        expected_version=parse_if_match(if_match),
    )
    response.headers["ETag"] = etag(product.version)
    return product


@router.delete("/{product_id}", status_code=204, summary="Delete a product", responses=NOT_FOUND)
def delete_product(product_id: IdPath, session: SessionDep, _: AdminDep) -> Response:
    """Delete a product with its ledger and alerts; its categories stay."""
    catalog.delete_by_id(session, Product, product_id)
    return Response(status_code=204)


@router.post(
    "/{product_id}/stock",
    summary="Adjust the stock",
    responses=NOT_FOUND
    | {
        409: {
            "model": StockConflictBody,
            "description": "The stock would fall below zero; nothing changed.",
            "content": {
                "application/json": {
                    "example": {
                        "detail": "not enough stock: 2 available, 5 requested",
                        "available": 2,
                    }
                }
            },
        }
    },
)
def adjust_stock(
    product_id: IdPath,
    body: StockAdjustment,
    session: SessionDep,
    user: ManagerDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            pattern=IDEMPOTENCY_KEY_PATTERN,
            description="Any unique string per change; a retry with the same key returns the "
            "first result instead of applying the change again (kept 24 hours, per user).",
        ),
    ] = None,
) -> ProductRead:
    """Add (positive `delta`) or take (negative) units in one atomic step. The result can
    never go below zero (409 with the available quantity). The change is recorded in the ledger
    and may open or resolve a low-stock alert."""
    if body.delta == 0:
        raise HTTPException(status_code=422, detail="delta must not be 0")
    if idempotency_key is None:
        product = stock.adjust_stock(
            session, product_id, body.delta, body.reason, body.reference, user.id
        )
        return json_response(ProductRead, product, headers={"ETag": etag(product.version)})
    result = stock.adjust_stock_once(
        session, product_id, body.model_dump(), user.id, idempotency_key
    )
    headers = {"ETag": etag(result.body["version"])}
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(result.body, headers=headers)


@router.get(
    "/{product_id}/stock-movements",
    summary="The product's stock ledger",
    responses=NOT_FOUND,
)
def list_stock_movements(
    product_id: IdPath, session: SessionDep, _: CurrentUser, page: PageDep
) -> StockMovementPage:
    """Every change of the product's stock, newest first. The deltas sum to its stock."""
    stock.reload_product(session, product_id)
    of_product = StockMovement.product_id == product_id
    total = session.scalar(select(func.count()).select_from(StockMovement).where(of_product))
    items = session.scalars(
        select(StockMovement)
        .where(of_product)
        .order_by(StockMovement.id.desc())
        .limit(page.limit)
        .offset(page.offset)
    )
    return page_body(list(items), total or 0, page)
