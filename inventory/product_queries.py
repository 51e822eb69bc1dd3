"""Product lists: the query string, its filters and sort orders, and the statements that
answer it quickly at a million products."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field, GetJsonSchemaHandler, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema
from sqlalchemy import Integer, Select, and_, bindparam, func, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Session

from inventory import product_search
from inventory.errors import error_doc
from inventory.models import MAX_DB_INT, Product, ProductCategory, ProductCount
from inventory.pagination import PageParams
from inventory.product_json import RESERVED_NOW, product_rows


class SortOrder(StrEnum):
    """A sort order whose member names reach the OpenAPI document (`x-enum-varnames`), so a
    generated client calls `-name` `NAME_DESC`, not `VALUE_3`."""

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler.resolve_ref_schema(handler(core_schema))
        schema["x-enum-varnames"] = [member.name for member in cls]
        return schema


class ProductSort(SortOrder):
    """A product list's order: a key, ascending, or descending with a `-` prefix."""

    id = "id"
    id_desc = "-id"
    name = "name"
    name_desc = "-name"
    price = "price"
    price_desc = "-price"
    stock_quantity = "stock_quantity"
    stock_quantity_desc = "-stock_quantity"
    created_at = "created_at"
    created_at_desc = "-created_at"


class CategorySort(SortOrder):
    """A category list's order."""

    id = "id"
    id_desc = "-id"
    name = "name"
    name_desc = "-name"


EMBEDDINGS_UNFIT = error_doc(
    503,
    "search=semantic or hybrid (or similar products) while the stored embeddings do not fit "
    "EMBEDDING_MODEL.",
    "EMBEDDING_MODEL openai:big makes 1536-dimensional vectors but the products' embeddings "
    "have 256: run `python -m inventory reindex`",
)
"""The answer a search by meaning may add to a product list's documented ones."""


class SearchMode(StrEnum):
    """How `q` finds products."""

    text = "text"
    semantic = "semantic"
    hybrid = "hybrid"


Price = Annotated[Decimal, Field(ge=0, lt=10**10)]


class ProductQuery(BaseModel):
    """The query string of a product list within a category."""

    q: str | None = Field(
        default=None,
        max_length=200,
        description="With `search=text`: a case-insensitive substring of name, description or "
        "sku (`%`, `_` and `\\` match themselves). With `semantic` or `hybrid`: what the "
        "shopper is looking for, in their words.",
        examples=["something to water the lawn"],
    )
    search: SearchMode = Field(
        default=SearchMode.text,
        description="`text`: substring match, in `sort` order. `semantic`: every product "
        "passing the other filters, closest in meaning to `q` first. `hybrid`: the text and "
        "semantic rankings fused (reciprocal-rank fusion). With `semantic` or `hybrid`, `q` is "
        "required and the order is relevance, so `sort` may not be given.",
    )
    min_price: Price | None = Field(default=None, description="Lowest price, inclusive.")
    max_price: Price | None = Field(default=None, description="Highest price, inclusive.")
    in_stock: bool | None = Field(
        default=None, description="true: stock above 0; false: out of stock."
    )
    low_stock: bool | None = Field(
        default=None,
        description="true: available stock (in stock less reserved) at or below the "
        "low-stock threshold.",
    )
    sort: ProductSort = Field(
        default=ProductSort.id,
        description="One of id, name, price, stock_quantity, created_at; "
        "`-` prefix for descending.",
        examples=["-created_at"],
    )

    @model_validator(mode="after")
    def _price_range_is_ordered(self) -> ProductQuery:
        if (
            self.min_price is not None
            and self.max_price is not None
            and self.min_price > self.max_price
        ):
            raise ValueError("min_price must not be above max_price")
        return self

    @model_validator(mode="after")
    def _ranked_search_has_a_query_and_no_sort(self) -> ProductQuery:
        if self.search is SearchMode.text:
            return self
        if not self.q or not self.q.strip():
            raise ValueError(f"search={self.search.value} needs q: what to look for")
        if "sort" in self.model_fields_set:
            raise ValueError(
                f"sort cannot be combined with search={self.search.value}: "
                "its results come most relevant first"
            )
        return self


class ProductFilters(ProductQuery):
    """The whole query string of a product list."""

    category_id: int | None = Field(
        default=None, ge=1, le=MAX_DB_INT, description="Only products in this category."
    )

    def narrows(self) -> bool:
        """Whether any filter is set (else every product matches)."""
        return bool(self.model_dump(exclude_defaults=True, exclude={"sort"}))


def like_pattern(text: str) -> str:
    """A case-insensitive substring pattern in which `%`, `_` and `\\` match themselves."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def order_by(columns: Any, sort: StrEnum) -> list[Any]:
    """ORDER BY for `sort` over `columns` (a table or a subquery's columns), id breaking ties."""
    key = sort.value.removeprefix("-")
    keys = [columns.id] if key == "id" else [getattr(columns, key), columns.id]
    descending = sort.value.startswith("-")
    return [column.desc() if descending else column.asc() for column in keys]


ALL_PRODUCTS_COUNT = select(func.coalesce(func.sum(ProductCount.products), 0))
"""How many products there are, from the counts the triggers keep (see ProductCount)."""


def _in_category(category_id: int, *, after_text_search: bool) -> Any:
    """Products linked to the category.

    Alone, the filter reads the category's links by their index. After a text search, it
    looks each match up by its key instead, with OFFSET 0 so the planner cannot turn it back
    into a join: once a pooled connection reuses the prepared statement, PostgreSQL's generic
    plan cannot tell that the search matches a few rows, and hashed every link of the category.
    """
    linked = select(ProductCategory.product_id).where(ProductCategory.category_id == category_id)
    if not after_text_search:
        return Product.id.in_(linked)
    return linked.where(ProductCategory.product_id == Product.id).offset(0).exists()


def text_match(q: str) -> Any:
    """The text search: q as a case-insensitive substring of name, description or sku."""
    pattern = like_pattern(q)
    return or_(
        Product.name.ilike(pattern, escape="\\"),
        Product.description.ilike(pattern, escape="\\"),
        Product.sku.ilike(pattern, escape="\\"),
    )


def filtered(filters: ProductFilters) -> Select:
    """The products matching every filter given."""
    statement = select(Product)
    if filters.q:
        statement = statement.where(text_match(filters.q))
    if filters.category_id is not None:
        statement = statement.where(
            _in_category(filters.category_id, after_text_search=bool(filters.q))
        )
    if filters.min_price is not None:
        statement = statement.where(Product.price >= filters.min_price)
    if filters.max_price is not None:
        statement = statement.where(Product.price <= filters.max_price)
    if filters.in_stock is not None:
        in_stock = Product.stock_quantity > 0
        statement = statement.where(in_stock if filters.in_stock else ~in_stock)
    if filters.low_stock is not None:
        statement = statement.where(LOW_STOCK if filters.low_stock else ~AVAILABLE_AT_THRESHOLD)
    return statement


STORED_AVAILABLE = Product.stock_quantity - Product.reserved
AVAILABLE_AT_THRESHOLD = Product.stock_quantity - RESERVED_NOW <= Product.low_stock_threshold
# Written as the index's predicate is (ruff reads the upper-case name as a constant).
LOW_STOCK = and_(STORED_AVAILABLE <= Product.low_stock_threshold, AVAILABLE_AT_THRESHOLD)  # noqa: SIM300
"""Available stock at or below the threshold. The stored test finds the candidates by the
partial index `ix_products_low_stock`; the second leaves out those that due holds, not yet
released, make look low (availability only grows when a hold is due)."""


def list_products(
    session: Session, filters: ProductFilters, page: PageParams
) -> tuple[list[str], int]:
    """A page of products matching `filters` (each as ProductRead JSON text), and how many
    match in all."""
    if filters.search is not SearchMode.text:
        return _ranked_page(session, filters, page)
    statement = filtered(filters)
    if filters.q:
        return _page_of_matches(session, statement, filters.sort, page)
    order = order_by(Product, filters.sort)
    if filters.narrows():
        return _product_page(session, statement, order, page)
    paged = statement.order_by(*order).limit(page.limit).offset(page.offset)
    # Every product matches: the page brings the kept count along, saving a statement.
    return _with_total(session, paged, ALL_PRODUCTS_COUNT)


def list_low_stock(session: Session, page: PageParams) -> tuple[list[str], int]:
    """Products whose available stock is at or below their threshold, most urgent first (least
    available, then the largest shortfall), each as ProductRead JSON text, and how many there
    are."""
    statement = select(Product).where(LOW_STOCK)
    shortfall = STORED_AVAILABLE - Product.low_stock_threshold
    return _product_page(session, statement, [STORED_AVAILABLE, shortfall, Product.id], page)


def _count(session: Session, statement: Select) -> int:
    return session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))


def _product_page(
    session: Session, statement: Select, order: list[Any], page: PageParams
) -> tuple[list[str], int]:
    """One page of the products `statement` selects, and how many it selects in all."""
    paged = statement.order_by(*order).limit(page.limit).offset(page.offset)
    return [row.json for row in product_rows(session, paged)], _count(session, statement)


def _page_of_matches(
    session: Session, statement: Select, sort: ProductSort, page: PageParams
) -> tuple[list[str], int]:
    """A page of a text search: its matches found first, then sorted, then read.

    PostgreSQL cannot tell how many rows a substring matches. When it guessed many, it walked
    the sort key's index in order and tested every row until the page was full: most of the
    table for a search whose matches sat at the end. Found by the trigram indexes and
    materialised, the matches cost what counting them costs, which the total needs anyway;
    the page is then sorted from them alone.
    """
    key = sort.value.removeprefix("-")
    key_columns = [Product.id] if key == "id" else [Product.id, getattr(Product, key)]
    matched = statement.with_only_columns(*key_columns).cte("matched").prefix_with("MATERIALIZED")
    page_keys = (
        select(matched)
        .order_by(*order_by(matched.c, sort))
        .limit(page.limit)
        .offset(page.offset)
        .subquery("page_keys")
    )
    paged = (
        select(Product)
        .join(page_keys, page_keys.c.id == Product.id)
        .order_by(*order_by(page_keys.c, sort))
    )
    return _with_total(session, paged, select(func.count()).select_from(matched))


def _with_total(session: Session, paged: Select, count: Select) -> tuple[list[str], int]:
    """The page's rows with the total that `count` counts, in one statement (a page past the
    end has no row to carry it: then it is counted on its own)."""
    rows = product_rows(session, paged, total=count.scalar_subquery())
    total = rows[0].total if rows else session.scalar(count)
    return [row.json for row in rows], int(total or 0)


def _ranked_page(
    session: Session, filters: ProductFilters, page: PageParams
) -> tuple[list[str], int]:
    """A page of a semantic or hybrid search: every product that passes the filters other
    than `q`, most relevant to `q` first."""
    others = filtered(filters.model_copy(update={"q": None}))
    conditions = [] if others.whereclause is None else [others.whereclause]
    everything = int(session.scalar(ALL_PRODUCTS_COUNT))
    total = _count(session, others) if conditions else everything
    ids = product_search.ranked_ids(
        session,
        conditions,
        filters.q,
        text_match(filters.q) if filters.search is SearchMode.hybrid else None,
        depth=page.offset + page.limit,
        candidates=total,
        everything=everything,
    )
    return _in_order(session, ids[page.offset :]), total


def similar_products(session: Session, product_id: int, page: PageParams) -> tuple[list[str], int]:
    """A page of the products closest in meaning to this one (itself left out), and how many
    there are (every other product)."""
    everything = int(session.scalar(ALL_PRODUCTS_COUNT))
    ids = product_search.similar_ids(
        session, product_id, depth=page.offset + page.limit, everything=everything
    )
    return _in_order(session, ids[page.offset :]), max(everything - 1, 0)


def _in_order(session: Session, product_ids: list[int]) -> list[str]:
    """These products as ProductRead JSON texts, in the order given."""
    if not product_ids:
        return []
    ranked = (
        func.unnest(bindparam("ids", product_ids, type_=ARRAY(Integer)))
        .table_valued("id", with_ordinality="rank")
        .render_derived()
    )
    statement = select(Product).join(ranked, ranked.c.id == Product.id).order_by(ranked.c.rank)
    return [row.json for row in product_rows(session, statement)]
