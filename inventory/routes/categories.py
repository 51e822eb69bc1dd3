"""Categories: a product may belong to many."""

from typing import Annotated

from fastapi import Query, Request, Response

from inventory import categories, product_queries, products
from inventory.auth import AdminDep, CurrentUser, ManagerDep
from inventory.db import SessionDep
from inventory.errors import error_doc
from inventory.models import (
    Category,
    CategoryCreate,
    CategoryPage,
    CategoryRead,
    CategoryUpdate,
    ProductPage,
)
from inventory.pagination import PageDep
from inventory.product_json import page_response
from inventory.routing import ApiRouter, IdPath

router = ApiRouter("/categories", tag="categories")

NO_CATEGORY = error_doc(404, "No such category.", "category 7 not found")
NAME_TAKEN = error_doc(
    409, "Another category has this name (ignoring case).", "category 'Garden' already exists"
)


@router.post("", status_code=201, summary="Create a category", responses=NAME_TAKEN)
def create_category(
    body: CategoryCreate,
    session: SessionDep,
    user: ManagerDep,
    request: Request,
    response: Response,
) -> CategoryRead:
    """Add a category. Names are unique ignoring case (409)."""
    category = categories.create_category(session, body.model_dump(), user.id)
    response.headers["Location"] = request.app.url_path_for("get_category", category_id=category.id)
    return CategoryRead.model_validate(category, from_attributes=True)


@router.get("", summary="List categories")
def list_categories(
    session: SessionDep,
    _: CurrentUser,
    page: PageDep,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Case-insensitive substring of name or description."),
    ] = None,
    sort: Annotated[
        product_queries.CategorySort,
        Query(description="`name` or `id`, `-` prefix for descending."),
    ] = product_queries.CategorySort.id,
) -> CategoryPage:
    """Categories, a page at a time."""
    return categories.list_categories(session, q, sort, page)


@router.get("/{category_id}", summary="Get a category", responses=NO_CATEGORY)
def get_category(category_id: IdPath, session: SessionDep, _: CurrentUser) -> CategoryRead:
    """One category."""
    category = categories.get_category(session, category_id)
    return CategoryRead.model_validate(category, from_attributes=True)


@router.get(
    "/{category_id}/products",
    summary="List a category's products",
    response_model=ProductPage,
    responses=NO_CATEGORY | product_queries.EMBEDDINGS_UNFIT,
)
def list_category_products(
    category_id: IdPath,
    session: SessionDep,
    _: CurrentUser,
    page: PageDep,
    query: Annotated[product_queries.ProductQuery, Query()],
) -> Response:
    """The products in this category, with the same filters and sorting as `GET /products`."""
    categories.get_category(session, category_id)
    filters = product_queries.ProductFilters(
        **query.model_dump(exclude_unset=True), category_id=category_id
    )
    items, total = product_queries.list_products(session, filters, page)
    return page_response(items, total, page)


@router.patch("/{category_id}", summary="Change a category", responses=NO_CATEGORY | NAME_TAKEN)
def update_category(
    category_id: IdPath, body: CategoryUpdate, session: SessionDep, user: ManagerDep
) -> CategoryRead:
    """Change name or description; fields left out stay as they are."""
    category = categories.update_category(session, category_id, body.model_dump(), user.id)
    return CategoryRead.model_validate(category, from_attributes=True)


@router.delete(
    "/{category_id}", status_code=204, summary="Delete a category", responses=NO_CATEGORY
)
def delete_category(category_id: IdPath, session: SessionDep, user: AdminDep) -> Response:
    """Delete a category. Its products stay; they only lose this category."""
    products.delete_by_id(session, Category, category_id, user.id)
    return Response(status_code=204)
