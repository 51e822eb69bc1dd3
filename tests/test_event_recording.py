"""record_event: events commit with their change or not at all, hold no secrets, and a poller
resuming after an id never misses an event committed late with a smaller id."""

import threading
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from inventory.events import _write_pending_events, changes, committed_horizon, record_event
from inventory.logs import request_id_var
from inventory.models import Event


def _events(db: Session) -> list[Event]:
    db.expire_all()
    return list(db.scalars(select(Event).order_by(Event.id)))


def test_an_event_is_written_when_its_transaction_commits(engine: Engine, db: Session):
    token = request_id_var.set("req-42")
    try:
        with Session(engine) as session:
            record_event(session, "product.created", "product", 7, {"name": "Hose"}, 3)
            assert _events(db) == []
            session.commit()
    finally:
        request_id_var.reset(token)

    [event] = _events(db)
    assert (event.type, event.entity_type, event.entity_id) == ("product.created", "product", 7)
    assert (event.actor_user_id, event.request_id) == (3, "req-42")
    assert event.data == {"name": "Hose"}
    assert event.created_at is not None


def test_a_transaction_that_rolls_back_leaves_no_event(engine: Engine, db: Session):
    with Session(engine) as session:
        record_event(session, "product.created", "product", 7, {}, None)
        session.rollback()
        session.commit()

    assert _events(db) == []


def test_a_change_whose_commit_fails_leaves_neither_change_nor_event(engine: Engine, db: Session):
    with Session(engine) as session:
        session.execute(text("INSERT INTO categories (name) VALUES ('Tools')"))
        record_event(session, "Not A Type", "category", 1, {}, None)
        with pytest.raises(Exception, match="ck_events_type_format"):
            session.commit()

    assert _events(db) == []
    assert db.scalar(text("SELECT count(*) FROM categories")) == 0


@pytest.mark.parametrize(
    "data",
    [
        {"password": "hunter22"},
        {"changes": {"password_hash": ["$2b$old", "$2b$new"]}},
        {"items": [{"api_token": "x"}]},
        {"Secret": "whsec_abc"},
    ],
)
def test_an_event_never_holds_a_password_hash_secret_or_token(engine: Engine, db: Session, data):
    with Session(engine) as session:
        with pytest.raises(ValueError, match="must not carry a secret"):
            record_event(session, "user.updated", "user", 1, data, None)
        session.commit()

    assert _events(db) == []


def test_money_and_times_are_written_as_exact_json(engine: Engine, db: Session):
    with Session(engine) as session:
        record_event(session, "product.updated", "product", 1, {"price": Decimal("5.1")}, None)
        session.commit()

    assert _events(db)[0].data == {"price": "5.10"}


def test_changes_maps_each_changed_field_to_old_and_new():
    before = {"name": "Hose", "price": "19.99", "sku": "H-1"}
    after = {"name": "Hose", "price": "17.50", "sku": None}

    assert changes(before, after) == {"price": ["19.99", "17.50"], "sku": ["H-1", None]}


def test_events_of_one_transaction_get_increasing_ids_in_the_order_recorded(
    engine: Engine, db: Session
):
    with Session(engine) as session:
        for entity_id in (5, 3, 9):
            record_event(session, "product.deleted", "product", entity_id, {}, None)
        session.commit()

    assert [event.entity_id for event in _events(db)] == [5, 3, 9]


def test_a_poller_waits_for_an_event_in_flight_with_a_smaller_id(engine: Engine, db: Session):
    """Transaction A draws id 1 and is still open when B draws id 2 and commits: a poller that
    handed out 2 now would resume after it and miss 1 forever."""
    slow = Session(engine)
    record_event(slow, "category.created", "category", 1, {}, None)
    slow.flush()
    # Run A's commit-time insert without committing: it holds id 1 and the shared lock.
    _write_pending_events(slow)
    with Session(engine) as fast:
        record_event(fast, "category.created", "category", 2, {}, None)
        fast.commit()
    assert [event.id for event in _events(db)] == [2]  # what a naive poller would see

    horizons: list[int] = []
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        poller = threading.Thread(
            target=lambda: horizons.append(committed_horizon(Session(connection)))
        )
        poller.start()
        poller.join(timeout=0.5)
        assert poller.is_alive() and horizons == []  # it waits for A rather than hand out 2

        slow.commit()
        slow.close()
        poller.join(timeout=10)

    assert horizons == [2]
    assert [event.id for event in _events(db)] == [1, 2]


def test_a_poller_gives_up_rather_than_stall_writes_behind_a_stuck_transaction(
    engine: Engine, db: Session
):
    stuck = Session(engine)
    record_event(stuck, "category.created", "category", 1, {}, None)
    _write_pending_events(stuck)  # inserted, holding the shared lock, never committed
    try:
        autocommit = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        with autocommit as connection, pytest.raises(OperationalError, match="lock timeout"):
            committed_horizon(Session(connection), wait_seconds=0.2)
    finally:
        stuck.rollback()
        stuck.close()

    with Session(engine) as writer:  # and writes go on
        record_event(writer, "category.created", "category", 2, {}, None)
        writer.commit()
    assert [event.entity_id for event in _events(db)] == [2]


def test_a_session_closed_without_committing_keeps_no_event_for_later(engine: Engine, db: Session):
    session = Session(engine)
    record_event(session, "product.created", "product", 1, {}, None)
    session.close()
    session.execute(text("SELECT 1"))
    session.commit()

    assert _events(db) == []
