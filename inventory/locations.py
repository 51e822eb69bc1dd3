"""Locations: exactly one default at any time, and none deleted while it holds stock."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from inventory.errors import Conflict, Invalid, NotFound
from inventory.events import changes, record_event
from inventory.models import Location, LocationPage, StockLevel
from inventory.pagination import PageParams, paginate

EVENT_FIELDS = ("name", "code", "description", "is_default")
"""What a location's events say of it."""


def get_location(session: Session, location_id: int) -> Location:
    """The location, or 404."""
    location = session.get(Location, location_id, populate_existing=True)
    if location is None:
        raise NotFound("location", location_id)
    return location


def list_locations(session: Session, page: PageParams) -> LocationPage:
    """A page of locations, oldest first."""
    return paginate(session, select(Location), page, LocationPage, Location.id)


def known_locations(
    session: Session, location_ids: set[int], loc: tuple[str | int, ...] = ("body",)
) -> int:
    """The default location's id, after checking that `location_ids` are all locations
    (Invalid, 422, naming those that are not); one query."""
    rows = session.execute(
        select(Location.id, Location.is_default).where(
            or_(Location.is_default, Location.id.in_(location_ids))
        )
    ).all()
    missing = sorted(location_ids - {row.id for row in rows})
    if missing:
        session.rollback()
        plural = "s" if len(missing) > 1 else ""
        raise Invalid(f"unknown location id{plural}: " + ", ".join(map(str, missing)), loc=loc)
    default = next((row.id for row in rows if row.is_default), None)
    if default is None:  # only a database edited behind the API's back has none
        session.rollback()
        raise Conflict("no location is the default; make one the default (PATCH is_default)")
    return default


def _make_default(session: Session, location_id: int, user_id: int) -> None:
    """Move the default to the location. The table lock makes concurrent moves take turns, so
    the partial unique index never sees two defaults and there is never none. The former
    default's change is an event of its own."""
    session.execute(text("LOCK TABLE locations IN SHARE ROW EXCLUSIVE MODE"))
    former = session.scalars(
        update(Location)
        .where(Location.is_default, Location.id != location_id)
        .values(is_default=False)
        .returning(Location.id)
    ).all()
    session.execute(update(Location).where(Location.id == location_id).values(is_default=True))
    for former_id in former:
        unset = {"changes": {"is_default": [True, False]}}
        record_event(session, "location.updated", "location", former_id, unset, user_id)


def _event_fields(location: Location) -> dict[str, Any]:
    return {name: getattr(location, name) for name in EVENT_FIELDS}


def _flush_or_conflict(session: Session, location: Location) -> None:
    """Write the location's row now, so a taken name or code is a 409 naming it."""
    name, code = location.name, location.code
    try:
        session.flush()
    except IntegrityError as error:
        session.rollback()
        constraint = getattr(error.orig.diag, "constraint_name", None) or ""
        if "code" in constraint:
            raise Conflict(f"location code {code!r} already exists") from error
        raise Conflict(f"location {name!r} already exists") from error


def create_location(session: Session, fields: dict[str, Any], user_id: int) -> Location:
    """Add a location; with `is_default` it becomes the default."""
    make_default = bool(fields.pop("is_default", False))
    location = Location(**fields)
    session.add(location)
    _flush_or_conflict(session, location)
    if make_default:
        _make_default(session, location.id, user_id)
    created = _event_fields(location) | {"is_default": make_default}
    record_event(session, "location.created", "location", location.id, created, user_id)
    session.commit()
    return get_location(session, location.id)


def update_location(
    session: Session, location_id: int, fields: dict[str, Any], user_id: int
) -> Location:
    """Change the fields sent. `is_default: true` moves the default here; `false` on the
    default is a 422 (another location must become the default instead)."""
    location = get_location(session, location_id)
    before = _event_fields(location)
    make_default = fields.pop("is_default", None)
    if make_default is False and location.is_default:
        session.rollback()
        raise Invalid(
            "a location stops being the default only when another becomes it: "
            "send is_default=true to that one",
            loc=("body", "is_default"),
        )
    for name, value in fields.items():
        setattr(location, name, value)
    after = _event_fields(location) | ({"is_default": True} if make_default else {})
    _flush_or_conflict(session, location)
    if make_default:
        _make_default(session, location_id, user_id)
    if before != after:
        changed = {"changes": changes(before, after)}
        record_event(session, "location.updated", "location", location_id, changed, user_id)
    session.commit()
    return get_location(session, location_id)


def delete_location(session: Session, location_id: int, user_id: int) -> None:
    """Delete a location that holds no stock (and so no reservation: reserved ≤ on hand).

    The location's row is locked first, so no level can be added meanwhile; its empty levels
    go with it, and a level that still holds stock makes the delete fail (no cascade)."""
    location = session.get(Location, location_id, with_for_update=True, populate_existing=True)
    if location is None:
        session.rollback()
        raise NotFound("location", location_id)
    if location.is_default:
        session.rollback()
        raise Conflict(
            f"location {location_id} is the default; make another location the default first"
        )
    session.execute(
        delete(StockLevel).where(StockLevel.location_id == location_id, StockLevel.on_hand == 0)
    )
    record_event(
        session, "location.deleted", "location", location_id, {"name": location.name}, user_id
    )
    try:
        session.delete(location)
        session.commit()
    except IntegrityError as error:
        session.rollback()
        raise Conflict(
            f"location {location_id} holds stock; move it elsewhere "
            "(POST /stock-transfers) before deleting it"
        ) from error
