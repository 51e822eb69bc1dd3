"""Catalogue operations beyond a single query: product writes with their categories and stock,
and the list queries with their filters and sorting."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import Depends, HTTPException, Query
from sqlalchemy import (
    JSON,
    Row,
    Select,
    Text,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from inventory.config import get_settings
from inventory.http import PageParams, conflict, not_found
from inventory.models import (
    MAX_DB_INT,
    Category,
    CategoryRef,
    Product,
    ProductCategory,
    ProductCount,
    ProductRead,
)
from inventory.stock import (
    INITIAL_STOCK_REASON,
    log_low_stock,
    record_movement,
    reload_product,
    set_stock,
    sync_low_stock_alert,
)

PRODUCT_SORT_KEYS = ("name", "price", "stock_quantity", "created_at", "id")
CATEGORY_SORT_KEYS = ("name", "id")


def sort_choices(keys: tuple[str, ...]) -> Any:
    """The allowed `sort` values (each key, ascending or `-` descending) as an enum type."""
    return Literal[tuple(value for key in keys for value in (key, f"-{key}"))]


ProductSort = sort_choices(PRODUCT_SORT_KEYS)
CategorySort = sort_choices(CATEGORY_SORT_KEYS)


def like_pattern(text: str) -> str:
    """A case-insensitive substring pattern in which `%`, `_` and `\\` match themselves."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def sort_clause(model: type, sort: str, allowed: tuple[str, ...]) -> list[Any]:
    """ORDER BY for `sort` (`-` prefix for descending), with id as the tie-breaker."""
    descending = sort.startswith("-")
    key = sort.removeprefix("-")
    if key not in allowed:
        choices = ", ".join(allowed)
        raise HTTPException(
            status_code=422,
            detail=f"sort must be one of {choices} (with - for descending)",
        )
    columns = [getattr(model, key)] if key == "id" else [getattr(model, key), model.id]
    return [column.desc() if descending else column.asc() for column in columns]


def _page(session: Session, statement: Select, order: list[Any], page: PageParams):
    """One page of `statement` and the total count of its rows."""
    total = _count(session, statement)
    items = session.scalars(statement.order_by(*order).limit(page.limit).offset(page.offset)).all()
    return list(items), total or 0


def _count(session: Session, statement: Select) -> int:
    return session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))


WHOLE_SECONDS = 'YYYY-MM-DD"T"HH24:MI:SS"Z"'
WITH_MICROSECONDS = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'


def _as_json_value(column: Any, annotation: Any) -> Any:
    """`column` as the response models write it in JSON: a time in UTC with a `Z` (and
    microseconds only when it has any), money as its NUMERIC(12,2) text ("5.00"), anything
    else as it is. `tests/test_product_json.py` holds this to the models' own output."""
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
    categories table once for every product of the page: half of a page's time in the
    database."""
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


PRODUCT_JSON = (
    select(
        *(
            _as_json_value(getattr(Product, name), info.annotation).label(name)
            for name, info in ProductRead.model_fields.items()
            if name != "categories"
        ),
        _category_refs(),
    )
    .correlate(Product)
    .lateral("product_json")
)
"""A product as the JSON of a ProductRead, written by PostgreSQL: a read builds no ORM
objects and no models, and parses and serialises nothing (for a page of 50 products, that
was most of the request's time)."""


def product_json_rows(session: Session, statement: Select, **extra: Any) -> list[Row]:
    """The products `statement` selects, each as ProductRead JSON text in `.json` (plus the
    `extra` columns, by name)."""
    columns = [_json_object(PRODUCT_JSON).label("json")]
    columns += [value.label(name) for name, value in extra.items()]
    joined = statement.with_only_columns(*columns).join_from(Product, PRODUCT_JSON, true())
    return list(session.execute(joined))


PRODUCT_BY_ID = (
    select(_json_object(PRODUCT_JSON).label("json"), Product.version)
    .join_from(Product, PRODUCT_JSON, true())
    .where(Product.id == bindparam("product_id"))
)
"""Built once: SQLAlchemy then reuses its compiled form without re-deriving its cache key."""


def get_product_json(session: Session, product_id: int) -> Row:
    """One product as ProductRead JSON text (`.json`) and its `.version` (404 if none)."""
    row = session.execute(PRODUCT_BY_ID, {"product_id": product_id}).first()
    if row is None:
        raise not_found("product", product_id)
    return row


@dataclass(frozen=True)
class ProductFilters:
    """The query string of a product list."""

    q: str | None = None
    category_id: int | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    in_stock: bool | None = None
    low_stock: bool | None = None
    sort: str = "id"

    @property
    def narrows(self) -> bool:
        """Whether any filter is set (else every product matches)."""
        others = (self.category_id, self.min_price, self.max_price, self.in_stock, self.low_stock)
        return bool(self.q) or any(value is not None for value in others)


ALL_PRODUCTS_COUNT = select(func.coalesce(func.sum(ProductCount.products), 0))
"""How many products there are, from the counts the triggers keep (see ProductCount)."""


async def product_query(
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Case-insensitive substring of name, description or sku; "
            "`%`, `_` and `\\` match themselves.",
        ),
    ] = None,
    min_price: Annotated[
        Decimal | None, Query(ge=0, lt=10**10, description="Lowest price, inclusive.")
    ] = None,
    max_price: Annotated[
        Decimal | None, Query(ge=0, lt=10**10, description="Highest price, inclusive.")
    ] = None,
    in_stock: Annotated[
        bool | None, Query(description="true: stock above 0; false: out of stock.")
    ] = None,
    low_stock: Annotated[
        bool | None, Query(description="true: at or below the low-stock threshold.")
    ] = None,
    sort: Annotated[
        ProductSort,
        Query(
            description="One of " + ", ".join(PRODUCT_SORT_KEYS) + "; `-` prefix for descending.",
            examples=["-created_at"],
        ),
    ] = "id",
) -> ProductFilters:
    """The product list's query string, but for the category."""
    return ProductFilters(
        q=q,
        min_price=min_price,
        max_price=max_price,
        in_stock=in_stock,
        low_stock=low_stock,
        sort=sort,
    )


async def product_filters(
    query: Annotated[ProductFilters, Depends(product_query)],
    category_id: Annotated[
        int | None,
        Query(ge=1, le=MAX_DB_INT, description="Only products in this category."),
    ] = None,
) -> ProductFilters:
    """The product list's whole query string."""
    return replace(query, category_id=category_id)


def _in_category(category_id: int, *, one_by_one: bool) -> Any:
    """Products linked to the category.

    Alone, the filter reads the category's links by their index. After a text search, it
    looks each match up by its key instead, with OFFSET 0 so the planner cannot turn it back
    into a join: once a pooled connection reuses the prepared statement, PostgreSQL's generic
    plan cannot tell that the search matches a few rows, and hashed every link of the category
    (13,000 at a million products: 10–15 ms a search instead of under 1).
    """
    linked = select(ProductCategory.product_id).where(ProductCategory.category_id == category_id)
    if not one_by_one:
        return Product.id.in_(linked)
    return linked.where(ProductCategory.product_id == Product.id).offset(0).exists()


def list_products(session: Session, filters: ProductFilters, page: PageParams):
    """A page of products matching `filters` (each as ProductRead JSON text), and how many
    match in all."""
    if (
        filters.min_price is not None
        and filters.max_price is not None
        and filters.min_price > filters.max_price
    ):
        raise HTTPException(status_code=422, detail="min_price must not be above max_price")
    order = sort_clause(Product, filters.sort, PRODUCT_SORT_KEYS)
    statement = select(Product)
    if filters.q:
        pattern = like_pattern(filters.q)
        statement = statement.where(
            or_(
                Product.name.ilike(pattern, escape="\\"),
                Product.description.ilike(pattern, escape="\\"),
                Product.sku.ilike(pattern, escape="\\"),
            )
        )
    if filters.category_id is not None:
        statement = statement.where(_in_category(filters.category_id, one_by_one=bool(filters.q)))
    if filters.min_price is not None:
        statement = statement.where(Product.price >= filters.min_price)
    if filters.max_price is not None:
        statement = statement.where(Product.price <= filters.max_price)
    if filters.in_stock is not None:
        in_stock = Product.stock_quantity > 0
        statement = statement.where(in_stock if filters.in_stock else ~in_stock)
    if filters.low_stock is not None:
        low = Product.stock_quantity <= Product.low_stock_threshold
        statement = statement.where(low if filters.low_stock else ~low)
    if filters.q:
        return _page_of_matches(session, statement, filters.sort, page)
    if filters.narrows:
        return _product_page(session, statement, order, page)
    paged = statement.order_by(*order).limit(page.limit).offset(page.offset)
    # Every product matches: the page brings the kept count along, saving a statement.
    return _with_total(session, paged, ALL_PRODUCTS_COUNT)


def list_low_stock(session: Session, page: PageParams):
    """Products at or below their threshold, most urgent first (lowest stock, then the largest
    shortfall), each as ProductRead JSON text, and how many there are."""
    statement = select(Product).where(Product.stock_quantity <= Product.low_stock_threshold)
    shortfall = Product.stock_quantity - Product.low_stock_threshold
    return _product_page(session, statement, [Product.stock_quantity, shortfall, Product.id], page)


def _product_page(session: Session, statement: Select, order: list[Any], page: PageParams):
    """One page of the products `statement` selects, as ProductRead JSON text, and how many
    it selects in all."""
    paged = statement.order_by(*order).limit(page.limit).offset(page.offset)
    return [row.json for row in product_json_rows(session, paged)], _count(session, statement)


def _page_of_matches(session: Session, statement: Select, sort: str, page: PageParams):
    """A page of a text search: its matches found first, then sorted, then read.

    PostgreSQL cannot tell how many rows a substring matches. When it guessed many, it walked
    the sort key's index in order and tested every row until the page was full: 900,000 rows
    (a second) for a search at a million products whose matches sat at the end. Found by the
    trigram indexes and materialised, the matches cost what counting them costs, which the
    total needs anyway; the page is then sorted from them alone.
    """
    key = sort.removeprefix("-")
    key_columns = [Product.id] if key == "id" else [Product.id, getattr(Product, key)]
    matched = statement.with_only_columns(*key_columns).cte("matched").prefix_with("MATERIALIZED")
    page_keys = (
        select(matched)
        .order_by(*sort_clause(matched.c, sort, PRODUCT_SORT_KEYS))
        .limit(page.limit)
        .offset(page.offset)
        .subquery("page_keys")
    )
    paged = (
        select(Product)
        .join(page_keys, page_keys.c.id == Product.id)
        .order_by(*sort_clause(page_keys.c, sort, PRODUCT_SORT_KEYS))
    )
    return _with_total(session, paged, select(func.count()).select_from(matched))


def _with_total(session: Session, paged: Select, count: Select):
    """The page's rows with the total that `count` counts, in one statement (a page past the
    end has no row to carry it: then it is counted on its own)."""
    rows = product_json_rows(session, paged, total=count.scalar_subquery())
    total = rows[0].total if rows else session.scalar(count)
    return [row.json for row in rows], int(total or 0)


def list_categories(session: Session, q: str | None, sort: str, page: PageParams):
    """A page of categories, optionally those whose name or description contains `q`."""
    order = sort_clause(Category, sort, CATEGORY_SORT_KEYS)
    statement = select(Category)
    if q:
        pattern = like_pattern(q)
        statement = statement.where(
            or_(
                Category.name.ilike(pattern, escape="\\"),
                Category.description.ilike(pattern, escape="\\"),
            )
        )
    return _page(session, statement, order, page)


def get_category(session: Session, category_id: int) -> Category:
    """The category, or 404."""
    category = session.get(Category, category_id)
    if category is None:
        raise not_found("category", category_id)
    return category


def _check_categories_exist(session: Session, category_ids: list[int]) -> None:
    found = set(session.scalars(select(Category.id).where(Category.id.in_(category_ids))))
    missing = sorted(set(category_ids) - found)
    if missing:
        raise HTTPException(
            status_code=422,
            detail=f"unknown category id{'s' if len(missing) > 1 else ''}: "
            + ", ".join(map(str, missing)),
        )


def _set_categories(session: Session, product_id: int, category_ids: list[int]) -> None:
    unique_ids = sorted(set(category_ids))
    _check_categories_exist(session, unique_ids)
    session.execute(delete(ProductCategory).where(ProductCategory.product_id == product_id))
    if unique_ids:
        session.execute(
            insert(ProductCategory),
            [{"product_id": product_id, "category_id": cid} for cid in unique_ids],
        )


def _flush_product(session: Session, product: Product) -> None:
    """Write the product's row now, so a taken sku is a 409 naming it (not a generic conflict)."""
    sku = product.sku
    try:
        session.flush()
    except IntegrityError as error:
        session.rollback()
        raise conflict(f"sku {sku!r} already exists") from error


def create_product(session: Session, fields: dict[str, Any], user_id: int) -> Product:
    """Insert a product with its categories, its opening stock movement and, if low, its alert."""
    category_ids = fields.pop("category_ids", None) or []
    if fields.get("low_stock_threshold") is None:
        fields["low_stock_threshold"] = get_settings().low_stock_threshold
    product = Product(**fields)
    session.add(product)
    _flush_product(session, product)
    _set_categories(session, product.id, category_ids)
    record_movement(
        session,
        product.id,
        product.stock_quantity,
        product.stock_quantity,
        reason=INITIAL_STOCK_REASON,
        user_id=user_id,
    )
    opened = sync_low_stock_alert(
        session, product.id, product.stock_quantity, product.low_stock_threshold
    )
    product = reload_product(session, product.id)
    session.commit()
    if opened:
        log_low_stock(product)
    return product


def update_product(
    session: Session,
    product_id: int,
    changes: dict[str, Any],
    user_id: int,
    expected_version: int | None = None,
) -> Product:
    """Apply a partial change under a row lock; stock edits are recorded as movements.

    With `expected_version`, a product changed meanwhile is refused with 412.
    """
    product = reload_product(session, product_id, lock=True)
    if expected_version is not None and product.version != expected_version:
        session.rollback()
        raise HTTPException(
            status_code=412,
            detail=f"product {product_id} is at version {product.version}, "
            f"not {expected_version}; reload it and try again",
        )
    category_ids = changes.pop("category_ids", None)
    new_quantity = changes.pop("stock_quantity", None)
    for name, value in changes.items():
        setattr(product, name, value)
    if new_quantity is not None:
        set_stock(session, product, new_quantity, user_id)
    product.version += 1
    product.updated_at = func.now()
    _flush_product(session, product)
    if category_ids is not None:
        _set_categories(session, product_id, category_ids)
    opened = sync_low_stock_alert(
        session, product_id, product.stock_quantity, product.low_stock_threshold
    )
    # Read back before the commit releases the row lock: the answer is this change's result.
    product = reload_product(session, product_id)
    session.commit()
    if opened:
        log_low_stock(product)
    return product


def delete_by_id(session: Session, model: type[Product | Category], row_id: int) -> None:
    """Delete one product or category (404 if none). The foreign keys cascade: a product takes
    its links, ledger and alerts along; a category only its links, never a product."""
    deleted = session.execute(delete(model).where(model.id == row_id).returning(model.id)).first()
    if deleted is None:
        session.rollback()
        raise not_found(model.__name__.lower(), row_id)
    session.commit()
