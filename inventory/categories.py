"""Category reads and writes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlmodel import Session

from inventory.errors import NotFound, commit_or_conflict
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


def create_category(session: Session, fields: dict[str, Any]) -> Category:
    """Add a category; a name taken (ignoring case) is a Conflict."""
    category = Category(**fields)
    session.add(category)
    commit_or_conflict(session, f"category {category.name!r} already exists")
    return category


def update_category(session: Session, category_id: int, changes: dict[str, Any]) -> Category:
    """Change name or description; a name taken (ignoring case) is a Conflict."""
    category = get_category(session, category_id)
    for name, value in changes.items():
        setattr(category, name, value)
    commit_or_conflict(session, f"category {category.name!r} already exists")
    return category
