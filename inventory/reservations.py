"""Reservations: stock held for a cart or an order, all lines or none, until it is committed
(the goods left), released (the cart was abandoned) or expires.

A reservation row says `active` until a commit, a release or the sweep changes it; once its
`expires_at` has passed it reads `expired` and holds nothing (see inventory/stock_levels.py for
how writers and readers make that exact without waiting for the sweep).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ARRAY,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    exists,
    func,
    or_,
    select,
    text,
)
from sqlmodel import Session

from inventory import idempotency, low_stock
from inventory.errors import Conflict, Invalid, NotFound
from inventory.events import record_event
from inventory.locations import known_locations
from inventory.models import (
    Reservation,
    ReservationLine,
    ReservationPage,
    ReservationRead,
    ReservationStatus,
)
from inventory.pagination import PageParams
from inventory.stock_levels import Movement, lock_products, product_stock, record_movements

INT_ARRAY = ARRAY(Integer)
HOLD = text(
    """
    UPDATE stock_levels SET reserved = stock_levels.reserved + line.quantity
    FROM unnest(CAST(:product_ids AS integer[]), CAST(:location_ids AS integer[]),
        CAST(:quantities AS integer[])) AS line(product_id, location_id, quantity)
    WHERE stock_levels.product_id = line.product_id
        AND stock_levels.location_id = line.location_id
        AND stock_levels.on_hand - stock_levels.reserved >= line.quantity
    RETURNING stock_levels.product_id, stock_levels.location_id
    """
)
SHORTAGES = text(
    """
    SELECT line.product_id, line.location_id, line.quantity AS requested,
        COALESCE(stock_levels.on_hand - stock_levels.reserved, 0) AS available
    FROM unnest(CAST(:product_ids AS integer[]), CAST(:location_ids AS integer[]),
        CAST(:quantities AS integer[])) AS line(product_id, location_id, quantity)
    LEFT JOIN stock_levels
        ON stock_levels.product_id = line.product_id
        AND stock_levels.location_id = line.location_id
    WHERE COALESCE(stock_levels.on_hand - stock_levels.reserved, 0) < line.quantity
    ORDER BY line.product_id, line.location_id
    """
)
CREATE = text(
    """
    INSERT INTO reservations (status, reference, user_id, expires_at)
    VALUES ('active', :reference, :user_id, now() + make_interval(secs => :ttl_seconds))
    RETURNING id, expires_at
    """
)
CREATE_LINES = text(
    """
    INSERT INTO reservation_lines (reservation_id, product_id, location_id, quantity, expires_at)
    SELECT :reservation_id, line.product_id, line.location_id, line.quantity, :expires_at
    FROM unnest(CAST(:product_ids AS integer[]), CAST(:location_ids AS integer[]),
        CAST(:quantities AS integer[])) AS line(product_id, location_id, quantity)
    """
)
LOCK = text(
    """
    SELECT status, expires_at <= now() AS due, reference FROM reservations
    WHERE id = :reservation_id FOR UPDATE
    """
)
TAKE_HELD = text(
    """
    WITH taken AS (
        UPDATE reservation_lines SET holding = false
        WHERE reservation_id = :reservation_id AND holding
        RETURNING product_id, location_id, quantity
    ), changed AS (
        UPDATE stock_levels
        SET on_hand = stock_levels.on_hand - taken.quantity,
            reserved = stock_levels.reserved - taken.quantity
        FROM taken
        WHERE stock_levels.product_id = taken.product_id
            AND stock_levels.location_id = taken.location_id
    )
    SELECT count(*) FROM taken
    """
)
"""A commit's lines stop holding and leave the levels' on-hand and reserved stock; how many
lines still held."""
FREE_HELD = text(
    """
    WITH freed AS (
        UPDATE reservation_lines SET holding = false
        WHERE reservation_id = :reservation_id AND holding
        RETURNING product_id, location_id, quantity
    ), changed AS (
        UPDATE stock_levels SET reserved = stock_levels.reserved - freed.quantity
        FROM freed
        WHERE stock_levels.product_id = freed.product_id
            AND stock_levels.location_id = freed.location_id
    )
    SELECT count(*) FROM freed
    """
)
"""A release's lines stop holding and their units are available again."""
FINISH = text(
    """
    UPDATE reservations
    SET status = CAST(:status AS varchar),
        committed_at = CASE WHEN CAST(:status AS varchar) = 'committed' THEN now() END,
        released_at = CASE WHEN CAST(:status AS varchar) = 'released' THEN now() END
    WHERE id = ANY(:reservation_ids)
    """
).bindparams(bindparam("reservation_ids", type_=INT_ARRAY))
DUE = text(
    """
    SELECT id FROM reservations
    WHERE status = 'active' AND expires_at <= now()
    ORDER BY id LIMIT :batch FOR UPDATE SKIP LOCKED
    """
)
PRODUCTS_HELD_BY = text(
    "SELECT DISTINCT product_id FROM reservation_lines "
    "WHERE reservation_id = ANY(:reservation_ids) AND holding"
).bindparams(bindparam("reservation_ids", type_=INT_ARRAY))

STATUS = case(
    (
        and_(Reservation.status == ReservationStatus.active, Reservation.expires_at <= func.now()),
        ReservationStatus.expired.value,
    ),
    else_=Reservation.status,
).label("status")
"""The status as it reads now: an active reservation past its `expires_at` is expired."""


@dataclass(frozen=True)
class Line:
    """One line of a reservation, its location resolved."""

    product_id: int
    location_id: int
    quantity: int


def _arrays(lines: list[Line]) -> dict[str, list[int]]:
    return {
        "product_ids": [line.product_id for line in lines],
        "location_ids": [line.location_id for line in lines],
        "quantities": [line.quantity for line in lines],
    }


@dataclass(frozen=True)
class Answer:
    """A reservation as its JSON body, and whether it is the stored answer of a retry."""

    body: dict[str, Any]
    replayed: bool = False


def create_reservation(
    session: Session,
    *,
    items: list[dict[str, Any]],
    ttl_seconds: int,
    reference: str | None,
    user_id: int,
    idempotency_key: str | None = None,
) -> Answer:
    """Hold every line or none: a line that cannot be held is a 409 listing the `shortages`.

    With an `idempotency_key`, a retry answers with the first result and holds nothing more."""
    if idempotency_key is not None:
        request = idempotency.fingerprint("reservation", items, ttl_seconds, reference)
        stored = idempotency.claim(session, user_id, idempotency_key, request)
        if stored is not None:
            return Answer(json.loads(stored.body_json), replayed=True)
    lines = _resolve_lines(session, items)
    found = lock_products(session, [line.product_id for line in lines])
    missing = sorted({line.product_id for line in lines} - found)
    if missing:
        session.rollback()
        plural = "s" if len(missing) > 1 else ""
        raise Invalid(
            f"unknown product id{plural}: " + ", ".join(map(str, missing)), loc=("body", "items")
        )
    held = session.execute(HOLD, _arrays(lines)).all()
    if len(held) < len(lines):
        _refuse_shortages(session, lines)
    created = session.execute(
        CREATE, {"reference": reference, "user_id": user_id, "ttl_seconds": ttl_seconds}
    ).one()
    session.execute(
        CREATE_LINES,
        {"reservation_id": created.id, "expires_at": created.expires_at, **_arrays(lines)},
    )
    product_stock(session, found)
    opened = low_stock.sync_alerts(session, found, user_id)
    body = get_reservation(session, created.id).model_dump(mode="json")
    held = {name: body[name] for name in ("items", "reference", "expires_at")}
    record_event(session, "reservation.created", "reservation", created.id, held, user_id)
    if idempotency_key is not None:
        idempotency.remember(session, user_id, idempotency_key, 201, json.dumps(body))
    session.commit()
    low_stock.log_opened(opened)
    return Answer(body)


def _resolve_lines(session: Session, items: list[dict[str, Any]]) -> list[Line]:
    """The lines with the default location filled in; 422 for unknown locations or a product
    named twice at one location."""
    named = {item["location_id"] for item in items if item.get("location_id") is not None}
    default = known_locations(session, named, ("body", "items"))
    lines = [
        Line(item["product_id"], item.get("location_id") or default, item["quantity"])
        for item in items
    ]
    keys = [(line.product_id, line.location_id) for line in lines]
    if len(set(keys)) < len(keys):
        raise Invalid("each product may appear at most once per location", loc=("body", "items"))
    return lines


def _refuse_shortages(session: Session, lines: list[Line]) -> None:
    shortages = [dict(row._mapping) for row in session.execute(SHORTAGES, _arrays(lines))]
    session.rollback()
    raise Conflict(
        f"not enough stock for {len(shortages)} of {len(lines)} lines; nothing was reserved",
        shortages=shortages,
    )


def commit_reservation(session: Session, reservation_id: int, user_id: int) -> ReservationRead:
    """The goods left: each line's units leave on-hand and reserved stock, with a ledger row.
    Repeating it changes nothing; a released or expired reservation is a 409."""
    state = _lock(session, reservation_id, ReservationStatus.committed)
    if state is None:
        return get_reservation(session, reservation_id)
    lines = _lines(session, reservation_id)
    lock_products(session, {line.product_id for line in lines})
    taken = session.scalar(TAKE_HELD, {"reservation_id": reservation_id})
    if taken < len(lines):
        # A writer whose clock had passed `expires_at` released some lines first.
        session.rollback()
        raise Conflict(f"reservation {reservation_id} has expired; it holds nothing")
    session.execute(
        FINISH, {"status": ReservationStatus.committed.value, "reservation_ids": [reservation_id]}
    )
    products = {line.product_id for line in lines}
    record_movements(
        session,
        [Movement(line.product_id, line.location_id, -line.quantity) for line in lines],
        product_stock(session, products),
        reason=f"reservation {reservation_id} committed",
        reference=state.reference,
        user_id=user_id,
    )
    opened = low_stock.sync_alerts(session, products, user_id)
    reservation = get_reservation(session, reservation_id)
    _record(session, "reservation.committed", reservation, user_id)
    session.commit()
    low_stock.log_opened(opened)
    return reservation


def release_reservation(session: Session, reservation_id: int, user_id: int) -> ReservationRead:
    """The cart was abandoned: the held units are available again. Repeating it changes
    nothing; a committed or expired reservation is a 409."""
    state = _lock(session, reservation_id, ReservationStatus.released)
    if state is None:
        return get_reservation(session, reservation_id)
    lines = _lines(session, reservation_id)
    lock_products(session, {line.product_id for line in lines})
    # Lines a writer already released as due stay released; the rest are freed now.
    session.execute(FREE_HELD, {"reservation_id": reservation_id})
    session.execute(
        FINISH, {"status": ReservationStatus.released.value, "reservation_ids": [reservation_id]}
    )
    products = {line.product_id for line in lines}
    product_stock(session, products)
    low_stock.sync_alerts(session, products, user_id)  # more available: alerts can only resolve
    reservation = get_reservation(session, reservation_id)
    _record(session, "reservation.released", reservation, user_id)
    session.commit()
    return reservation


def _record(session: Session, kind: str, reservation: ReservationRead, user_id: int | None) -> None:
    """The event of a reservation's change of state: its lines and reference."""
    lines = [line.model_dump() for line in reservation.items]
    details = {"items": lines, "reference": reservation.reference}
    record_event(session, kind, "reservation", reservation.id, details, user_id)


def _lock(session: Session, reservation_id: int, goal: ReservationStatus) -> Any:
    """Lock the reservation; its row when it is active and not due, None when it is already
    in `goal` (the transaction is then over). 404 if none; 409 in any other final state."""
    state = session.execute(LOCK, {"reservation_id": reservation_id}).first()
    if state is None:
        session.rollback()
        raise NotFound("reservation", reservation_id)
    status = ReservationStatus.expired if state.status == "active" and state.due else state.status
    if status == goal:
        session.rollback()
        return None
    if status != ReservationStatus.active:
        session.rollback()
        action = "commit" if goal == ReservationStatus.committed else "release"
        raise Conflict(f"reservation {reservation_id} is {status}; it cannot {action}")
    return state


def _lines(session: Session, reservation_id: int) -> list[Line]:
    rows = session.execute(
        select(ReservationLine.product_id, ReservationLine.location_id, ReservationLine.quantity)
        .where(ReservationLine.reservation_id == reservation_id)
        .order_by(ReservationLine.product_id, ReservationLine.location_id)
    )
    return [Line(*row) for row in rows]


def expire_due_reservations(session: Session, batch: int = 500) -> int:
    """Mark every active reservation past its `expires_at` expired and free what it still
    holds; how many were marked.

    A reservation that a commit or release has locked is skipped (SKIP LOCKED): that action
    decides its fate, and a later sweep finds it if it is still due. Each batch is one
    transaction, so a long sweep never holds many locks for long."""
    marked = 0
    while True:
        due = list(session.scalars(DUE, {"batch": batch}))
        if not due:
            session.rollback()
            return marked
        products = set(session.scalars(PRODUCTS_HELD_BY, {"reservation_ids": due}))
        # Locking the products releases every due hold of theirs, these reservations' included.
        lock_products(session, products)
        session.execute(FINISH, {"status": ReservationStatus.expired.value, "reservation_ids": due})
        # No new product versions: readers already left the due holds out.
        low_stock.sync_alerts(session, products, None)
        for reservation_id in due:
            expired = {"reservation_id": reservation_id}
            record_event(
                session, "reservation.expired", "reservation", reservation_id, expired, None
            )
        session.commit()
        marked += len(due)
        if len(due) < batch:
            return marked


def get_reservation(session: Session, reservation_id: int) -> ReservationRead:
    """The reservation as it reads now (NotFound if none)."""
    found = _read(session, select(Reservation).where(Reservation.id == reservation_id))
    if not found:
        raise NotFound("reservation", reservation_id)
    return found[0]


def _read(session: Session, statement: Select) -> list[ReservationRead]:
    """The reservations `statement` selects, in its order, with their lines."""
    rows = session.execute(statement.with_only_columns(*_READ_COLUMNS)).all()
    items: dict[int, list[ReservationLine]] = {row.id: [] for row in rows}
    lines = session.scalars(
        select(ReservationLine)
        .where(ReservationLine.reservation_id.in_(items))
        .order_by(ReservationLine.id)
    )
    for line in lines:
        items[line.reservation_id].append(line)
    return [
        ReservationRead.model_validate(
            {**row._mapping, "items": items[row.id]}, from_attributes=True
        )
        for row in rows
    ]


_READ_COLUMNS = (
    Reservation.id,
    STATUS,
    Reservation.reference,
    Reservation.user_id,
    Reservation.expires_at,
    Reservation.created_at,
    Reservation.committed_at,
    Reservation.released_at,
)


def list_reservations(
    session: Session,
    page: PageParams,
    status: ReservationStatus | None,
    product_id: int | None,
    reference: str | None,
) -> ReservationPage:
    """A page of reservations matching the filters (the status as it reads now), newest first."""
    statement = select(Reservation)
    now = func.now()
    if status == ReservationStatus.active:
        statement = statement.where(Reservation.status == status, Reservation.expires_at > now)
    elif status == ReservationStatus.expired:
        statement = statement.where(
            or_(
                Reservation.status == status,
                and_(Reservation.status == ReservationStatus.active, Reservation.expires_at <= now),
            )
        )
    elif status is not None:
        statement = statement.where(Reservation.status == status)
    if product_id is not None:
        statement = statement.where(
            exists().where(
                ReservationLine.reservation_id == Reservation.id,
                ReservationLine.product_id == product_id,
            )
        )
    if reference is not None:
        statement = statement.where(Reservation.reference == reference)
    total = session.scalar(select(func.count()).select_from(statement.subquery()))
    paged = statement.order_by(Reservation.id.desc()).limit(page.limit).offset(page.offset)
    return ReservationPage(
        items=_read(session, paged), total=total or 0, limit=page.limit, offset=page.offset
    )
