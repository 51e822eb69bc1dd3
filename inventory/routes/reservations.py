"""Reservations: stock held for a cart or an order until it ships, is abandoned or expires."""

from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import JSONResponse
from pydantic import Field

from inventory import reservations
from inventory.auth import CurrentUser, ManagerDep
from inventory.db import SessionDep
from inventory.errors import ErrorBody, error_doc, invalid_doc
from inventory.idempotency import IdempotencyKeyHeader
from inventory.models import (
    MAX_DB_INT,
    ReservationCreate,
    ReservationPage,
    ReservationRead,
    ReservationStatus,
    Shortage,
)
from inventory.pagination import PageDep
from inventory.routing import ApiRouter, IdPath

router = ApiRouter("/reservations", tag="reservations")

NO_RESERVATION = error_doc(404, "No such reservation.", "reservation 12 not found")


class ShortageBody(ErrorBody):
    """A refused reservation: the lines that could not be held. Nothing was held."""

    shortages: list[Shortage] = Field(description="Each line short of stock.")


@router.post(
    "",
    status_code=201,
    summary="Reserve stock",
    response_model=ReservationRead,
    responses=error_doc(
        409,
        "Some line cannot be held; nothing was held.",
        "not enough stock for 1 of 2 lines; nothing was reserved",
        ShortageBody,
        shortages=[{"product_id": 42, "location_id": 1, "requested": 3, "available": 1}],
    )
    | invalid_doc(
        "The request does not fit the schema, names a product twice at one location, names an "
        "unknown product or location, or reuses an Idempotency-Key for another request.",
        "unknown product id: 42",
    ),
)
def create_reservation(
    body: ReservationCreate,
    session: SessionDep,
    user: ManagerDep,
    request: Request,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    """Hold stock for a cart or an order: every line, or none (409 listing the `shortages`).
    A line without `location_id` is held at the default location. Held units stay on hand but
    no other reservation, adjustment or transfer can take them until the reservation is
    committed, released or expires (`ttl_seconds` from now).

    With an `Idempotency-Key`, a retry answers with the first result (and the header
    `Idempotent-Replayed: true`) and holds nothing more."""
    answer = reservations.create_reservation(
        session,
        items=[item.model_dump() for item in body.items],
        ttl_seconds=body.ttl_seconds,
        reference=body.reference,
        user_id=user.id,
        idempotency_key=idempotency_key,
    )
    location = request.app.url_path_for("get_reservation", reservation_id=answer.body["id"])
    headers = {"Location": location}
    if answer.replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(answer.body, status_code=201, headers=headers)


@router.get("", summary="List reservations")
def list_reservations(
    session: SessionDep,
    _: CurrentUser,
    page: PageDep,
    status: Annotated[
        ReservationStatus | None,
        Query(description="Only reservations in this state, as they read now."),
    ] = None,
    product_id: Annotated[
        int | None,
        Query(ge=1, le=MAX_DB_INT, description="Only reservations with a line of this product."),
    ] = None,
    reference: Annotated[
        str | None, Query(max_length=200, description="Only reservations with this reference.")
    ] = None,
) -> ReservationPage:
    """Reservations matching all the filters given, newest first."""
    return reservations.list_reservations(session, page, status, product_id, reference)


@router.get("/{reservation_id}", summary="Get a reservation", responses=NO_RESERVATION)
def get_reservation(reservation_id: IdPath, session: SessionDep, _: CurrentUser) -> ReservationRead:
    """One reservation with its lines. Past `expires_at` an unfinished one reads `expired`."""
    return reservations.get_reservation(session, reservation_id)


@router.post(
    "/{reservation_id}/commit",
    summary="Commit a reservation: the goods left",
    responses=NO_RESERVATION
    | error_doc(
        409,
        "The reservation was released or has expired; nothing changed.",
        "reservation 12 is released; it cannot commit",
    ),
)
def commit_reservation(
    reservation_id: IdPath, session: SessionDep, user: ManagerDep
) -> ReservationRead:
    """The order shipped: each line's units leave its location (on hand and reserved fall
    together), one ledger row per line, and the reservation is `committed`. Committing again
    answers the same and changes nothing."""
    return reservations.commit_reservation(session, reservation_id, user.id)


@router.post(
    "/{reservation_id}/release",
    summary="Release a reservation: the cart was abandoned",
    responses=NO_RESERVATION
    | error_doc(
        409,
        "The reservation was committed or has expired; nothing changed.",
        "reservation 12 is committed; it cannot release",
    ),
)
def release_reservation(
    reservation_id: IdPath, session: SessionDep, user: ManagerDep
) -> ReservationRead:
    """The cart was abandoned: the held units are available again and the reservation is
    `released`. Releasing again answers the same and changes nothing."""
    return reservations.release_reservation(session, reservation_id, user.id)
