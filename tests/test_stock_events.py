"""Locations, transfers and reservations leave their events in the audit trail, in the same
transaction as the change; a refused change leaves none."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text
from sqlmodel import Session

from inventory import jobs
from inventory.models import Event
from inventory.reservations import expire_due_reservations
from tests.stock_setup import MAIN, make_location, make_product, put_stock


def events(db: Session, *types: str) -> list[Event]:
    db.expire_all()
    rows = db.scalars(select(Event).where(Event.type.in_(types)).order_by(Event.id)).all()
    db.commit()
    return list(rows)


def test_creating_changing_and_deleting_a_location_are_events(client, admin, admin_user, db):
    leeds = make_location(client, admin, "Leeds", code="LDS")
    client.patch(f"/api/v1/locations/{leeds['id']}", json={"name": "Leeds 2"}, headers=admin)
    client.delete(f"/api/v1/locations/{leeds['id']}", headers=admin)

    created, updated, deleted = events(
        db, "location.created", "location.updated", "location.deleted"
    )
    assert (created.type, created.entity_id, created.actor_user_id) == (
        "location.created",
        leeds["id"],
        admin_user.id,
    )
    assert created.data == {
        "name": "Leeds",
        "code": "LDS",
        "description": None,
        "is_default": False,
    }
    assert updated.data == {"changes": {"name": ["Leeds", "Leeds 2"]}}
    assert (deleted.type, deleted.data) == ("location.deleted", {"name": "Leeds 2"})


def test_moving_the_default_records_both_locations_changes(client, manager, db):
    leeds = make_location(client, manager, "Leeds")
    client.patch(f"/api/v1/locations/{leeds['id']}", json={"is_default": True}, headers=manager)

    changed = {(event.entity_id, str(event.data)) for event in events(db, "location.updated")}

    assert changed == {
        (MAIN, str({"changes": {"is_default": [True, False]}})),
        (leeds["id"], str({"changes": {"is_default": [False, True]}})),
    }


def test_a_transfer_is_a_stock_transferred_event(client, manager, manager_user, db):
    leeds = make_location(client, manager, "Leeds")
    product = make_product(client, manager)
    put_stock(db, product["id"], MAIN, 5)
    body = {
        "product_id": product["id"],
        "from_location_id": MAIN,
        "to_location_id": leeds["id"],
        "quantity": 2,
        "reason": "rebalance",
    }
    transfer = client.post("/api/v1/stock-transfers", json=body, headers=manager).json()

    [event] = events(db, "stock.transferred")

    assert (event.entity_type, event.entity_id) == ("stock_transfer", transfer["id"])
    assert event.actor_user_id == manager_user.id
    assert event.data == {**body, "reference": None}


def test_a_refused_transfer_leaves_no_event(client, manager, db):
    leeds = make_location(client, manager, "Leeds")
    product = make_product(client, manager)
    body = {
        "product_id": product["id"],
        "from_location_id": MAIN,
        "to_location_id": leeds["id"],
        "quantity": 2,
        "reason": "rebalance",
    }
    assert client.post("/api/v1/stock-transfers", json=body, headers=manager).status_code == 409
    assert events(db, "stock.transferred", "stock.adjusted") == []


def test_a_reservations_life_is_in_its_events(client, manager, db):
    product = make_product(client, manager)
    put_stock(db, product["id"], MAIN, 5)
    items = [{"product_id": product["id"], "quantity": 2}]
    first = client.post(
        "/api/v1/reservations", json={"items": items, "reference": "cart-1"}, headers=manager
    ).json()
    second = client.post("/api/v1/reservations", json={"items": items}, headers=manager).json()
    client.post(f"/api/v1/reservations/{first['id']}/commit", headers=manager)
    client.post(f"/api/v1/reservations/{second['id']}/release", headers=manager)

    kinds = ("reservation.created", "reservation.committed", "reservation.released")
    recorded = [(event.type, event.entity_id) for event in events(db, *kinds)]

    assert recorded == [
        ("reservation.created", first["id"]),
        ("reservation.created", second["id"]),
        ("reservation.committed", first["id"]),
        ("reservation.released", second["id"]),
    ]
    committed = events(db, "reservation.committed")[0]
    line = {"product_id": product["id"], "location_id": MAIN, "quantity": 2}
    assert committed.data == {"items": [line], "reference": "cart-1"}


def _past_due_reservation(client, manager, db: Session, product_id: int) -> dict:
    """A reservation of 2 units of the product, made through the API, whose hold ended a
    second ago (no sweep has run)."""
    made = client.post(
        "/api/v1/reservations",
        json={"items": [{"product_id": product_id, "quantity": 2}]},
        headers=manager,
    ).json()
    past = {"id": made["id"], "at": datetime.now(UTC) - timedelta(seconds=1)}
    db.execute(text("UPDATE reservations SET expires_at = :at WHERE id = :id"), past)
    db.execute(
        text("UPDATE reservation_lines SET expires_at = :at WHERE reservation_id = :id"), past
    )
    db.commit()
    return made


def test_the_sweep_records_each_expired_reservation_by_the_system(client, manager, db):
    product = make_product(client, manager)
    put_stock(db, product["id"], MAIN, 5)
    made = _past_due_reservation(client, manager, db, product["id"])

    assert expire_due_reservations(db) == 1

    [event] = events(db, "reservation.expired")
    assert (event.entity_id, event.actor_user_id) == (made["id"], None)


def test_a_reservation_that_takes_available_to_the_threshold_records_low_stock_opened(
    client, manager, db
):
    product = make_product(client, manager, low_stock_threshold=3, stock_quantity=5)
    client.post(
        "/api/v1/reservations",
        json={"items": [{"product_id": product["id"], "quantity": 2}]},
        headers=manager,
    )
    [event] = events(db, "low_stock.opened")
    assert event.data == {"product_id": product["id"], "quantity": 3, "threshold": 3}


def test_the_worker_sweeps_expired_reservations_as_a_periodic_task(client, manager, db):
    product = make_product(client, manager, stock_quantity=5)
    made = _past_due_reservation(client, manager, db, product["id"])

    periodic = {task_id for _, task_id in jobs.app.periodic_registry.periodic_tasks}
    assert "expire_reservations" in periodic
    jobs.expire_reservations(timestamp=0)

    status = db.execute(
        text("SELECT status FROM reservations WHERE id = :id"), {"id": made["id"]}
    ).scalar_one()
    db.commit()
    assert status == "expired"
