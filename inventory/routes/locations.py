"""Locations (warehouses, stores) and each product's stock per location."""

from fastapi import Request, Response

from inventory import locations, stock_levels
from inventory.auth import AdminDep, CurrentUser, ManagerDep
from inventory.db import SessionDep
from inventory.errors import error_doc, invalid_doc
from inventory.models import (
    LocationCreate,
    LocationPage,
    LocationRead,
    LocationUpdate,
    StockLevelPage,
)
from inventory.pagination import PageDep
from inventory.routing import ApiRouter, IdPath

router = ApiRouter("", tag="locations")

NO_LOCATION = error_doc(404, "No such location.", "location 7 not found")
NAME_TAKEN = error_doc(
    409,
    "Another location has this name (ignoring case) or this code.",
    "location 'Leeds warehouse' already exists",
)


@router.post("/locations", status_code=201, summary="Create a location", responses=NAME_TAKEN)
def create_location(
    body: LocationCreate,
    session: SessionDep,
    user: ManagerDep,
    request: Request,
    response: Response,
) -> LocationRead:
    """Add a warehouse, store or other place that holds stock. Names are unique ignoring case,
    codes exactly (409). With `is_default: true` it becomes the default location at once."""
    location = locations.create_location(session, body.model_dump(), user.id)
    response.headers["Location"] = request.app.url_path_for("get_location", location_id=location.id)
    return LocationRead.model_validate(location, from_attributes=True)


@router.get("/locations", summary="List locations")
def list_locations(session: SessionDep, _: CurrentUser, page: PageDep) -> LocationPage:
    """Every location, oldest first."""
    return locations.list_locations(session, page)


@router.get("/locations/{location_id}", summary="Get a location", responses=NO_LOCATION)
def get_location(location_id: IdPath, session: SessionDep, _: CurrentUser) -> LocationRead:
    """One location."""
    location = locations.get_location(session, location_id)
    return LocationRead.model_validate(location, from_attributes=True)


@router.patch(
    "/locations/{location_id}",
    summary="Change a location or make it the default",
    responses=NO_LOCATION
    | NAME_TAKEN
    | invalid_doc(
        "The request does not fit the schema, or unsets the default directly.",
        "a location stops being the default only when another becomes it: "
        "send is_default=true to that one",
    ),
)
def update_location(
    location_id: IdPath, body: LocationUpdate, session: SessionDep, user: ManagerDep
) -> LocationRead:
    """Change only the fields sent. `is_default: true` moves the default here (the former
    default stops being it in the same transaction); `is_default: false` on the default is a
    422, since there is always exactly one default."""
    location = locations.update_location(session, location_id, body.model_dump(), user.id)
    return LocationRead.model_validate(location, from_attributes=True)


@router.delete(
    "/locations/{location_id}",
    status_code=204,
    summary="Delete a location",
    responses=NO_LOCATION
    | error_doc(
        409,
        "The location is the default, or holds stock (reserved stock included).",
        "location 2 holds stock; move it elsewhere (POST /stock-transfers) before deleting it",
    ),
)
def delete_location(location_id: IdPath, session: SessionDep, user: AdminDep) -> Response:
    """Delete a location that is not the default and holds no stock. Its ledger rows, past
    transfers and reservation lines stay, without the location."""
    locations.delete_location(session, location_id, user.id)
    return Response(status_code=204)


@router.get(
    "/products/{product_id}/stock-levels",
    summary="A product's stock per location",
    responses=error_doc(404, "No such product.", "product 42 not found"),
)
def list_stock_levels(
    product_id: IdPath, session: SessionDep, _: CurrentUser, page: PageDep
) -> StockLevelPage:
    """On hand, reserved and available at each location that holds or held the product, by
    location id. The product's `stock_quantity`, `reserved` and `available` are their sums."""
    return stock_levels.list_levels(session, product_id, page)
