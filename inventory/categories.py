"""Category reads and writes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlmodel import Session

from inventory import product_search
from inventory.errors import NotFound, commit_or_conflict, flush_or_conflict
from inventory.events import changes, record_event
from inventory.models import Category, CategoryPage
from inventory.pagination import PageParams, paginate
from inventory.product_queries import CategorySort, like_pattern, order_by


def list_categories(
    session: Session, q: str | None, sort: CategorySort, page: PageParams
) -> CategoryPage:
    """A page of categories, optionally those whose name or description contains `q`."""
    statement = select(Category)
    if q:
        pattern = like_pattern(q)
        statement = statement.where(
            or_(
                Category.name.ilike(pattern, escape="\\"),
                Category.description.ilike(pattern, escape="\\"),
            )
        )
    return paginate(session, statement, page, CategoryPage, *order_by(Category, sort))


def get_category(session: Session, category_id: int) -> Category:
    """The category, or NotFound."""
    category = session.get(Category, category_id)
    if category is None:
        raise NotFound("category", category_id)
    return category


def _event_fields(category: Category) -> dict[str, Any]:
    return {"name": category.name, "description": category.description}


def create_category(session: Session, fields: dict[str, Any], user_id: int) -> Category:
    """Add a category; a name taken (ignoring case) is a Conflict."""
    category = Category(**fields)
    session.add(category)
    flush_or_conflict(session, f"category {category.name!r} already exists")
    record_event(
        session, "category.created", "category", category.id, _event_fields(category), user_id
    )
    session.commit()
    return category


def update_category(
    session: Session, category_id: int, fields: dict[str, Any], user_id: int
) -> Category:
    """Change name or description; a name taken (ignoring case) is a Conflict. A new name
    goes into the embeddings of the category's products in the same transaction."""
    category = get_category(session, category_id)
    before = _event_fields(category)
    renamed = "name" in fields and fields["name"] != category.name
    for name, value in fields.items():
        setattr(category, name, value)
    changed = {"changes": changes(before, _event_fields(category))}
    record_event(session, "category.updated", "category", category_id, changed, user_id)
    taken = f"category {category.name!r} already exists"
    if renamed:
        flush_or_conflict(session, taken)
        product_search.refresh_embeddings(
            session, product_search.products_in_category(session, category_id)
        )
    commit_or_conflict(session, taken)
    return category
