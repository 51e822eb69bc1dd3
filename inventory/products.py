"""Product writes: create, change and delete a product with its categories and stock."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from inventory import low_stock, product_search
from inventory.config import get_settings
from inventory.errors import Conflict, Invalid, NotFound, PreconditionFailed
from inventory.events import changes, record_event
from inventory.models import Category, Product, ProductCategory, ProductCreate
from inventory.stock import ChangedProduct, commit_change, open_stock, set_stock

EMBEDDED_FIELDS = frozenset({"name", "description"})
"""The product's own fields its embedding is made of (with its category names)."""


def _check_categories_exist(session: Session, category_ids: list[int]) -> None:
    found = set(session.scalars(select(Category.id).where(Category.id.in_(category_ids))))
    missing = sorted(set(category_ids) - found)
    if missing:
        plural = "s" if len(missing) > 1 else ""
        raise Invalid(
            f"unknown category id{plural}: " + ", ".join(map(str, missing)),
            loc=("body", "category_ids"),
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


def _flush(session: Session, product: Product) -> None:
    """Write the product's row now, so a taken sku is a 409 naming it (not a generic conflict)."""
    sku = product.sku
    try:
        session.flush()
    except IntegrityError as error:
        session.rollback()
        raise Conflict(f"sku {sku!r} already exists") from error


EVENT_FIELDS = tuple(ProductCreate.model_fields)
"""What a product's events say of it: its writable fields."""


def _event_fields(product: Product, category_ids: list[int]) -> dict[str, Any]:
    values = {name: getattr(product, name) for name in EVENT_FIELDS if name != "category_ids"}
    return values | {"category_ids": sorted(set(category_ids))}


def _category_ids(session: Session, product_id: int) -> list[int]:
    statement = select(ProductCategory.category_id).where(ProductCategory.product_id == product_id)
    return sorted(session.scalars(statement))


def create_product(session: Session, fields: dict[str, Any], user_id: int) -> ChangedProduct:
    """Insert a product with its categories, its opening stock movement and, if low, its alert."""
    category_ids = fields.pop("category_ids", None) or []
    if fields.get("low_stock_threshold") is None:
        fields["low_stock_threshold"] = get_settings().low_stock_threshold
    # The stock arrives through the default location's level, whose trigger sums it here.
    quantity = fields.pop("stock_quantity", 0)
    product = Product(**fields)
    names = product_search.category_names(session, sorted(set(category_ids)))
    product_search.embed_written_product(session, product, names)
    session.add(product)
    _flush(session, product)
    _set_categories(session, product.id, category_ids)
    # The product row holds 0 until its opening stock reaches it through the level.
    created = _event_fields(product, category_ids) | {"stock_quantity": quantity}
    record_event(session, "product.created", "product", product.id, created, user_id)
    open_stock(session, product.id, quantity, user_id)
    opened = low_stock.sync_alerts(session, [product.id], user_id)
    return commit_change(session, product.id, opened)


def _lock(session: Session, product_id: int) -> Product:
    """The product, its row locked (FOR UPDATE) until the transaction ends; NotFound if none."""
    product = session.get(Product, product_id, with_for_update=True, populate_existing=True)
    if product is None:
        raise NotFound("product", product_id)
    return product


def update_product(
    session: Session,
    product_id: int,
    fields: dict[str, Any],
    user_id: int,
    expected_version: int | None = None,
) -> ChangedProduct:
    """Apply a partial change under a row lock; stock edits are recorded as movements.

    With `expected_version`, a product changed meanwhile is refused (PreconditionFailed).
    """
    product = _lock(session, product_id)
    if expected_version is not None and product.version != expected_version:
        session.rollback()
        raise PreconditionFailed(
            f"product {product_id} is at version {product.version}, "
            f"not {expected_version}; reload it and try again"
        )
    old_category_ids = _category_ids(session, product_id) if "category_ids" in fields else []
    before = _event_fields(product, old_category_ids)
    category_ids = fields.pop("category_ids", None)
    new_quantity = fields.pop("stock_quantity", None)
    for name, value in fields.items():
        setattr(product, name, value)
    if category_ids is not None or EMBEDDED_FIELDS & fields.keys():
        names = (
            [category.name for category in product.categories]
            if category_ids is None
            else product_search.category_names(session, sorted(set(category_ids)))
        )
        product_search.embed_written_product(session, product, names)
    product.version += 1
    product.updated_at = func.now()
    _flush(session, product)
    if new_quantity is not None:
        set_stock(session, product, new_quantity, user_id)
    if category_ids is not None:
        _set_categories(session, product_id, category_ids)
    after = _event_fields(product, old_category_ids if category_ids is None else category_ids)
    if new_quantity is not None:
        after["stock_quantity"] = new_quantity  # set through the default location's level
    changed = {"changes": changes(before, after)}
    record_event(session, "product.updated", "product", product_id, changed, user_id)
    opened = low_stock.sync_alerts(session, [product_id], user_id)
    return commit_change(session, product_id, opened)


def delete_by_id(
    session: Session, model: type[Product | Category], row_id: int, user_id: int
) -> None:
    """Delete one product or category (NotFound if none). The foreign keys cascade: a product
    takes its links, ledger and alerts along; a category only its links, never a product,
    whose embeddings are then made again without the category's name."""
    kind = model.__name__.lower()
    unlinked = product_search.products_in_category(session, row_id) if model is Category else []
    deleted = session.execute(
        delete(model).where(model.id == row_id).returning(model.id, model.name)
    ).first()
    if deleted is None:
        session.rollback()
        raise NotFound(kind, row_id)
    record_event(session, f"{kind}.deleted", kind, row_id, {"name": deleted.name}, user_id)
    product_search.refresh_embeddings(session, unlinked)
    session.commit()
