"""The database keeps the stock-per-location rules, even for writes behind the API's back."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tests.stock_setup import MAIN, make_location, make_product, put_stock, totals


def execute(db, sql: str, **parameters) -> None:
    db.execute(text(sql), parameters)
    db.commit()


def test_a_level_change_reaches_the_products_sums(client, manager, db):
    leeds = make_location(client, manager, "Leeds")
    product = make_product(client, manager)
    put_stock(db, product["id"], MAIN, 5)
    put_stock(db, product["id"], leeds["id"], 7)
    execute(
        db,
        "UPDATE stock_levels SET reserved = 3 WHERE product_id = :id AND location_id = :at",
        id=product["id"],
        at=leeds["id"],
    )
    assert totals(db, product["id"]) == (12, 3)
    execute(
        db,
        "DELETE FROM stock_levels WHERE product_id = :id AND location_id = :at",
        id=product["id"],
        at=MAIN,
    )
    assert totals(db, product["id"]) == (7, 3)


def test_the_database_refuses_more_reserved_than_on_hand_at_a_location(client, manager, db):
    product = make_product(client, manager)
    put_stock(db, product["id"], MAIN, 5)
    with pytest.raises(IntegrityError, match="ck_stock_levels_reserved_within_on_hand"):
        execute(db, "UPDATE stock_levels SET reserved = 6 WHERE product_id = :id", id=product["id"])
    db.rollback()
    assert totals(db, product["id"]) == (5, 0)


def test_the_database_refuses_negative_on_hand_at_a_location(client, manager, db):
    product = make_product(client, manager)
    put_stock(db, product["id"], MAIN, 5)
    with pytest.raises(IntegrityError, match="ck_stock_levels_on_hand_non_negative"):
        execute(
            db,
            "UPDATE stock_levels SET on_hand = on_hand - 6 WHERE product_id = :id",
            id=product["id"],
        )
    db.rollback()
    assert totals(db, product["id"]) == (5, 0)


def test_the_database_refuses_a_second_default_location(client, manager, db):
    with pytest.raises(IntegrityError, match="ux_locations_one_default"):
        execute(db, "INSERT INTO locations (name, is_default) VALUES ('Leeds', true)")
    db.rollback()
    assert db.execute(text("SELECT count(*) FROM locations")).scalar_one() == 1


def test_the_database_refuses_to_delete_a_location_that_holds_stock(client, manager, db):
    leeds = make_location(client, manager, "Leeds")
    product = make_product(client, manager)
    put_stock(db, product["id"], leeds["id"], 2)
    with pytest.raises(IntegrityError):
        execute(db, "DELETE FROM locations WHERE id = :id", id=leeds["id"])
    db.rollback()
    assert totals(db, product["id"]) == (2, 0)
