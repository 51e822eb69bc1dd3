"""Products, their stock adjustments and their movement ledger."""

import re
from typing import Annotated

from fastapi import Header, Query, Request, Response
from pydantic import Field

from inventory import product_queries, products, stock
from inventory.auth import AdminDep, CurrentUser, ManagerDep
from inventory.db import SessionDep
from inventory.errors import ErrorBody, PreconditionFailed, error_doc, invalid_doc
from inventory.idempotency import IdempotencyKeyHeader
from inventory.models import (
    Product,
    ProductCreate,
    ProductPage,
    ProductRead,
    ProductUpdate,
    StockAdjustment,
    StockMovementPage,
)
from inventory.pagination import PageDep
from inventory.product_json import page_response, product_response, read_product
from inventory.routing import ApiRouter, IdPath

router = ApiRouter("/products", tag="products")

ETAG_VERSION_PATTERN = re.compile(r"[0-9]{1,10}")
NO_PRODUCT = error_doc(404, "No such product.", "product 42 not found")
SKU_TAKEN = error_doc(409, "The sku is taken by another product.", "sku 'HOSE-25' already exists")
UNKNOWN_CATEGORY = invalid_doc(
    "The request does not fit the schema, or names a category that does not exist.",
    "unknown category id: 7",
)


class StockConflictBody(ErrorBody):
    """A refused adjustment: why, and how many units there are."""

    available: int = Field(
        description="The units available at the location right now.", examples=[2]
    )


def parse_if_match(if_match: str | None) -> int | None:
    """The version an `If-Match` header asks for (None for absent or `*`); 412 if unreadable."""
    if if_match is None or if_match.strip() == "*":
        return None
    value = if_match.strip().removeprefix("W/").strip('"')
    # ASCII digits only (isdigit() alone accepts "²", which int() refuses), and no more than a
    # version can have (int() refuses over 4,300 digits).
    if not ETAG_VERSION_PATTERN.fullmatch(value):
        raise PreconditionFailed(f"If-Match {if_match!r} is not a product ETag")
    return int(value)


@router.post(
    "",
    status_code=201,
    summary="Create a product",
    response_model=ProductRead,
    responses=SKU_TAKEN | UNKNOWN_CATEGORY,
)
def create_product(
    body: ProductCreate, session: SessionDep, user: ManagerDep, request: Request
) -> Response:
    """Add a product, optionally in some categories (unknown ids are a 422 naming them).
    Its opening stock is the first entry of its ledger; a product created at or below its
    threshold opens a low-stock alert. A taken `sku` is a 409."""
    product = products.create_product(session, body.model_dump(), user.id)
    location = request.app.url_path_for("get_product", product_id=product.id)
    return product_response(product.json, product.version, status_code=201, Location=location)


@router.get(
    "",
    summary="List and search products",
    response_model=ProductPage,
    responses=product_queries.EMBEDDINGS_UNFIT,
)
def list_products(
    session: SessionDep,
    _: CurrentUser,
    page: PageDep,
    filters: Annotated[product_queries.ProductFilters, Query()],
) -> Response:
    """Products matching all the filters given, sorted by `sort` (ties broken by id); or,
    with `search=semantic` or `hybrid`, every product passing the filters other than `q`,
    most relevant to `q` first."""
    items, total = product_queries.list_products(session, filters, page)
    return page_response(items, total, page)


@router.get(
    "/{product_id}", summary="Get a product", response_model=ProductRead, responses=NO_PRODUCT
)
def get_product(product_id: IdPath, session: SessionDep, _: CurrentUser) -> Response:
    """One product with its categories; the `ETag` header carries its version."""
    product = read_product(session, product_id)
    return product_response(product.json, product.version)


@router.get(
    "/{product_id}/similar",
    summary="Products similar to this one",
    response_model=ProductPage,
    responses=NO_PRODUCT | product_queries.EMBEDDINGS_UNFIT,
)
def list_similar_products(
    product_id: IdPath, session: SessionDep, _: CurrentUser, page: PageDep
) -> Response:
    """Every other product, the closest in meaning to this one (its name, description and
    categories) first; the product itself is left out."""
    items, total = product_queries.similar_products(session, product_id, page)
    return page_response(items, total, page)


@router.patch(
    "/{product_id}",
    summary="Change a product",
    response_model=ProductRead,
    responses=NO_PRODUCT
    | SKU_TAKEN
    | UNKNOWN_CATEGORY
    | error_doc(
        412,
        "`If-Match` no longer matches the product's version; nothing changed.",
        "product 42 is at version 4, not 3; reload it and try again",
    ),
)
def update_product(
    product_id: IdPath,
    body: ProductUpdate,
    session: SessionDep,
    user: ManagerDep,
    if_match: Annotated[
        str | None,
        Header(description="The product's ETag; if it changed meanwhile, 412 and nothing changes."),
    ] = None,
) -> Response:
    """Change only the fields sent. A new `stock_quantity` changes the default location's
    on-hand by the difference, recorded in the ledger (409 if the default location cannot
    give that many units: it lacks them, or they are reserved); `category_ids` replaces the
    product's categories."""
    product = products.update_product(
        session, product_id, body.model_dump(), user.id, expected_version=parse_if_match(if_match)
    )
    return product_response(product.json, product.version)


@router.delete("/{product_id}", status_code=204, summary="Delete a product", responses=NO_PRODUCT)
def delete_product(product_id: IdPath, session: SessionDep, user: AdminDep) -> Response:
    """Delete a product with its ledger and alerts; its categories stay."""
    products.delete_by_id(session, Product, product_id, user.id)
    return Response(status_code=204)


@router.post(
    "/{product_id}/stock",
    summary="Adjust the stock",
    response_model=ProductRead,
    responses=NO_PRODUCT
    | error_doc(
        409,
        "Fewer units are available at the location (reserved units are never taken); "
        "nothing changed.",
        "not enough stock: 2 available, 5 requested",
        StockConflictBody,
        available=2,
    )
    | invalid_doc(
        "The request does not fit the schema, or its Idempotency-Key was used for another request.",
        "this Idempotency-Key was used for a different request",
    ),
)
def adjust_stock(
    product_id: IdPath,
    body: StockAdjustment,
    session: SessionDep,
    user: ManagerDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Add (positive `delta`) or take (negative) units at one location (`location_id`; the
    default location when left out) in one atomic step. Units reserved there are never taken:
    what remains available can never go below zero (409 with the `available` quantity). The
    change is recorded in the ledger and may open or resolve a low-stock alert."""
    if idempotency_key is None:
        product = stock.adjust_stock(session, product_id, body.model_dump(), user.id)
        return product_response(product.json, product.version)
    result = stock.adjust_stock_once(
        session, product_id, body.model_dump(), user.id, idempotency_key
    )
    replayed = {"Idempotent-Replayed": "true"} if result.replayed else {}
    return product_response(result.product.json, result.product.version, **replayed)


@router.get(
    "/{product_id}/stock-movements", summary="The product's stock ledger", responses=NO_PRODUCT
)
def list_stock_movements(
    product_id: IdPath, session: SessionDep, _: CurrentUser, page: PageDep
) -> StockMovementPage:
    """Every change of the product's stock, newest first. The deltas sum to its stock."""
    return stock.list_movements(session, product_id, page)
