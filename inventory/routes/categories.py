"""Categories: a product may belong to many."""

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from inventory import catalog
from inventory.auth import AdminDep, CurrentUser, ManagerDep
from inventory.db import SessionDep
from inventory.http import (
    API_PREFIX,
    CONFLICT,
    NOT_FOUND,
    PROTECTED,
    ApiRoute,
    IdPath,
    PageDep,
    commit_or_conflict,
    json_page_response,
    page_body,
    page_of,
)
from inventory.models import (
    Category,
    CategoryCreate,
    CategoryRead,
    CategoryUpdate,
    ProductRead,
)

router = APIRouter(
    prefix=f"{API_PREFIX}/categories",
    tags=["categories"],
    route_class=ApiRoute,
    responses=PROTECTED,
)
CategoryPage = page_of(CategoryRead)
ProductPage = page_of(ProductRead)


@router.post("", status_code=201, summary="Create a category", responses=CONFLICT)
def create_category(
    body: CategoryCreate,
    session: SessionDep,
    _: ManagerDep,
    request: Request,
    response: Response,
) -> CategoryRead:
    """Add a category. Names are unique ignoring case (409)."""
    category = Category.model_validate(body.model_dump())
    session.add(category)
    commit_or_conflict(session, f"category {body.name!r} already exists")
    response.headers["Location"] = str(request.url_for("get_category", category_id=category.id))
    return category


@router.get("", summary="List categories")
def list_categories(
    session: SessionDep,
    _: CurrentUser,
    page: PageDep,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Case-insensitive substring of name or description.",
        ),
    ] = None,
    sort: Annotated[
        catalog.CategorySort,
        Query(description="`name` or `id`, `-` prefix for descending."),
    ] = "id",
) -> CategoryPage:
    """Categories, a page at a time."""
    items, total = catalog.list_categories(session, q, sort, page)
    return page_body(items, total, page)


@router.get("/{category_id}", summary="Get a category", responses=NOT_FOUND)
def get_category(category_id: IdPath, session: SessionDep, _: CurrentUser) -> CategoryRead:
    """One category."""
    return catalog.get_category(session, category_id)


@router.get("/{category_id}/products", summary="List a category's products", responses=NOT_FOUND)
def list_category_products(
    category_id: IdPath,
    session: SessionDep,
    _: CurrentUser,
    page: PageDep,
    filters: Annotated[catalog.ProductFilters, Depends(catalog.product_query)],
) -> ProductPage:
    """The products in this category, with the same filters and sorting as `GET /products`."""
    catalog.get_category(session, category_id)
    items, total = catalog.list_products(session, replace(filters, category_id=category_id), page)
    return json_page_response(items, total, page)


@router.patch("/{category_id}", summary="Change a category", responses=NOT_FOUND | CONFLICT)
def update_category(
    category_id: IdPath, body: CategoryUpdate, session: SessionDep, _: ManagerDep
) -> CategoryRead:
    """Change name or description; fields left out stay as they are."""
    category = catalog.get_category(session, category_id)
    for name, value in body.model_dump(exclude_unset=True).items():
        setattr(category, name, value)
    commit_or_conflict(session, f"category {category.name!r} already exists")
    return category


@router.delete("/{category_id}", status_code=204, summary="Delete a category", responses=NOT_FOUND)
def delete_category(category_id: IdPath, session: SessionDep, _: AdminDep) -> Response:
    """Delete a category. Its products stay; they only lose this category."""
    catalog.delete_by_id(session, Category, category_id)
    return Response(status_code=204)
