"""Products as JSON, written by PostgreSQL: the one way the API answers with a product.

Every product answer (get, list, create, change, stock adjustment, low-stock list) selects
each product as the JSON text of a `ProductRead`, so a read builds no ORM objects or models and
parses and serialises nothing in Python (for a page of 50 products that was most of the
request's time). `tests/test_product_json.py` holds these bytes to `ProductRead`'s own.

For one product the statement reads, in short:

    SELECT row_to_json(product_json)::text AS json, products.version, ...
    FROM products JOIN LATERAL (
        SELECT products.id, products.name, products.description,
               products.price::text AS price, ...,
               CASE WHEN date_trunc('second', products.created_at) = products.created_at
                    THEN to_char(timezone('UTC', products.created_at), 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                    ELSE to_char(..., 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') END AS created_at, ...,
               (SELECT CAST('[' || coalesce(string_agg(row_to_json(category)::text, ','
                                                       ORDER BY category.id), '') || ']' AS JSON)
                FROM (SELECT product_categories.category_id AS id,
                             (SELECT name FROM categories
                              WHERE categories.id = product_categories.category_id) AS name
                      FROM product_categories
                      WHERE product_categories.product_id = products.id) AS category
               ) AS categories
    ) AS product_json ON true
    WHERE products.id = %(product_id)s
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from fastapi import Response
from sqlalchemy import JSON, Row, Select, Text, bindparam, case, cast, func, literal, select, true
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlmodel import Session

from inventory.errors import NotFound
from inventory.models import Category, CategoryRef, Product, ProductCategory, ProductRead
from inventory.pagination import PageParams
from inventory.stock_levels import due_holds

WHOLE_SECONDS = 'YYYY-MM-DD"T"HH24:MI:SS"Z"'
WITH_MICROSECONDS = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'


def _as_json_value(column: Any, annotation: Any) -> Any:
    """`column` as the response models write it in JSON: a time in UTC with a `Z` (and
    microseconds only when it has any), money as its NUMERIC(12,2) text ("5.00"), anything
    else as it is."""
    if annotation is datetime:
        utc = func.timezone("UTC", column)
        return case(
            (func.date_trunc("second", column) == column, func.to_char(utc, WHOLE_SECONDS)),
            else_=func.to_char(utc, WITH_MICROSECONDS),
        )
    if annotation is Decimal:
        return cast(column, Text)
    return column


def _json_object(record: Any) -> Any:
    """A row as compact JSON text, its columns as keys, in order."""
    return cast(func.row_to_json(record.table_valued()), Text)


def _category_refs() -> Any:
    """The product's categories as a JSON array of CategoryRef objects, by id: a correlated
    subquery, so a page of products with their categories is one statement.

    Each link looks its category up by key. Joined instead, PostgreSQL hashed the whole
    categories table once for every product of the page."""
    fields = [
        (
            ProductCategory.category_id
            if name == "id"
            else select(getattr(Category, name))
            .where(Category.id == ProductCategory.category_id)
            .scalar_subquery()
        ).label(name)
        for name in CategoryRef.model_fields
    ]
    refs = (
        select(*fields)
        .where(ProductCategory.product_id == Product.id)
        .correlate(Product)
        .subquery("category")
    )
    joined = func.string_agg(_json_object(refs), aggregate_order_by(literal(","), refs.c.id))
    array = literal("[") + func.coalesce(joined, "") + literal("]")
    return select(cast(array, JSON)).correlate(Product).scalar_subquery().label("categories")


RESERVED_NOW = case((Product.reserved == 0, 0), else_=Product.reserved - due_holds(Product.id))
"""The units reservations hold now: due holds no writer has released yet are left out (see
inventory/stock_levels.py). A product nothing reserves pays no lookup."""
COMPUTED = {"reserved": RESERVED_NOW, "available": Product.stock_quantity - RESERVED_NOW}

PRODUCT_JSON = (
    select(
        *(
            _as_json_value(
                COMPUTED.get(name, getattr(Product, name, None)), field.annotation
            ).label(name)
            for name, field in ProductRead.model_fields.items()
            if name != "categories"
        ),
        _category_refs(),
    )
    .correlate(Product)
    .lateral("product_json")
)
"""A product as the JSON of a ProductRead (see the module docstring)."""

AS_JSON = _json_object(PRODUCT_JSON).label("json")

PRODUCT_BY_ID = (
    select(AS_JSON, Product.version)
    .join_from(Product, PRODUCT_JSON, true())
    .where(Product.id == bindparam("product_id"))
)
"""Built once: SQLAlchemy then reuses its compiled form without re-deriving its cache key."""


def product_rows(session: Session, statement: Select, **extra: Any) -> list[Row]:
    """The products `statement` selects, each as ProductRead JSON text in `.json` (plus the
    `extra` columns, by name)."""
    columns = [AS_JSON, *(value.label(name) for name, value in extra.items())]
    joined = statement.with_only_columns(*columns).join_from(Product, PRODUCT_JSON, true())
    return list(session.execute(joined))


def read_product(session: Session, product_id: int) -> Row:
    """One product as ProductRead JSON text (`.json`) and its `.version`; NotFound if there
    is none."""
    row = session.execute(PRODUCT_BY_ID, {"product_id": product_id}).first()
    if row is None:
        raise NotFound("product", product_id)
    return row


def etag(version: int) -> str:
    """The ETag of a product version."""
    return f'"{version}"'


def product_response(
    product_json: str, version: int, *, status_code: int = 200, **headers: str
) -> Response:
    """A product answer: its JSON and its version as the `ETag`."""
    return Response(
        product_json,
        status_code=status_code,
        headers={"ETag": etag(version), **headers},
        media_type="application/json",
    )


def page_response(items: list[str], total: int, page: PageParams) -> Response:
    """A page of products (`ProductPage`) from their JSON texts."""
    body = (
        f'{{"items":[{",".join(items)}],"total":{total},'
        f'"limit":{page.limit},"offset":{page.offset}}}'
    )
    return Response(body, media_type="application/json")
