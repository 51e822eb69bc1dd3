"""The database itself keeps the rules, even for writes that go behind the API's back."""

from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DataError, IntegrityError
from sqlmodel import Session

from inventory.models import Category, LowStockAlert, Product, ProductCategory, User
from tests.factories import count


def insert_product(db: Session, **columns) -> int:
    """Insert a product with raw SQL (sensible defaults for what is not given); its id."""
    values = {
        "name": "Hose",
        "price": Decimal("19.99"),
        "stock_quantity": 5,
        "low_stock_threshold": 2,
        "sku": None,
        **columns,
    }
    product_id = db.execute(
        text(
            "INSERT INTO products (name, price, stock_quantity, low_stock_threshold, sku) "
            "VALUES (:name, :price, :stock_quantity, :low_stock_threshold, :sku) RETURNING id"
        ),
        values,
    ).scalar_one()
    db.commit()
    return product_id


def insert_category(db: Session, name: str) -> int:
    category_id = db.execute(
        text("INSERT INTO categories (name) VALUES (:name) RETURNING id"), {"name": name}
    ).scalar_one()
    db.commit()
    return category_id


def insert_user(db: Session, username: str, role: str = "viewer") -> None:
    db.execute(
        text("INSERT INTO users (username, password_hash, role) VALUES (:username, 'x', :role)"),
        {"username": username, "role": role},
    )
    db.commit()


def insert_alert(db: Session, product_id: int, active: bool) -> None:
    db.execute(
        text(
            "INSERT INTO low_stock_alerts (product_id, quantity, threshold, active) "
            "VALUES (:product_id, 1, 2, :active)"
        ),
        {"product_id": product_id, "active": active},
    )
    db.commit()


def test_the_database_refuses_a_negative_stock_quantity(db):
    product_id = insert_product(db, stock_quantity=5)
    with pytest.raises(IntegrityError, match="ck_products_stock_non_negative"):
        db.execute(
            text("UPDATE products SET stock_quantity = stock_quantity - 6 WHERE id = :id"),
            {"id": product_id},
        )
    db.rollback()
    assert (
        db.execute(
            text("SELECT stock_quantity FROM products WHERE id = :id"), {"id": product_id}
        ).scalar_one()
        == 5
    )


def test_the_database_refuses_to_insert_a_product_with_negative_stock(db):
    with pytest.raises(IntegrityError, match="ck_products_stock_non_negative"):
        insert_product(db, stock_quantity=-1)
    db.rollback()
    assert count(db, Product) == 0


def test_the_database_refuses_a_negative_price(db):
    with pytest.raises(IntegrityError, match="ck_products_price_non_negative"):
        insert_product(db, price=Decimal("-0.01"))
    db.rollback()
    assert count(db, Product) == 0


def test_the_database_refuses_a_negative_low_stock_threshold(db):
    with pytest.raises(IntegrityError, match="ck_products_threshold_non_negative"):
        insert_product(db, low_stock_threshold=-1)
    db.rollback()
    assert count(db, Product) == 0


def test_the_database_refuses_a_product_without_a_name(db):
    with pytest.raises(IntegrityError):
        insert_product(db, name=None)
    db.rollback()
    assert count(db, Product) == 0


def test_the_database_refuses_a_duplicate_sku(db):
    insert_product(db, sku="HOSE-25")
    with pytest.raises(IntegrityError):
        insert_product(db, sku="HOSE-25")
    db.rollback()
    assert count(db, Product) == 1


def test_many_products_may_have_no_sku(db):
    insert_product(db, sku=None)
    insert_product(db, sku=None)
    assert count(db, Product) == 2


def test_the_database_refuses_category_names_that_differ_only_in_case(db):
    insert_category(db, "Garden")
    with pytest.raises(IntegrityError, match="ux_categories_name_lower"):
        insert_category(db, "gARDEN")
    db.rollback()
    assert count(db, Category) == 1


def test_the_database_refuses_usernames_that_differ_only_in_case(db):
    insert_user(db, "alice")
    with pytest.raises(IntegrityError, match="ux_users_username_lower"):
        insert_user(db, "ALICE")
    db.rollback()
    assert count(db, User) == 1


def test_the_database_refuses_an_unknown_role(db):
    with pytest.raises(IntegrityError, match="ck_users_role"):
        insert_user(db, "mallory", role="superuser")
    db.rollback()
    assert count(db, User) == 0


def test_deleting_a_product_deletes_its_category_links_movements_and_alerts(db):
    product_id = insert_product(db)
    other_id = insert_product(db, name="Rake")
    category_id = insert_category(db, "Garden")
    for linked in (product_id, other_id):
        db.execute(
            text("INSERT INTO product_categories VALUES (:p, :c)"),
            {"p": linked, "c": category_id},
        )
        db.execute(
            text(
                "INSERT INTO stock_movements (product_id, delta, quantity_after, reason) "
                "VALUES (:p, 5, 5, 'delivery')"
            ),
            {"p": linked},
        )
    db.commit()
    insert_alert(db, product_id, active=True)

    db.execute(text("DELETE FROM products WHERE id = :id"), {"id": product_id})
    db.commit()

    assert db.execute(text("SELECT product_id FROM product_categories")).scalars().all() == [
        other_id
    ]
    assert db.execute(text("SELECT product_id FROM stock_movements")).scalars().all() == [other_id]
    assert count(db, LowStockAlert) == 0
    assert count(db, Category) == 1


def test_deleting_a_category_removes_its_links_but_not_its_products(db):
    product_id = insert_product(db)
    garden = insert_category(db, "Garden")
    tools = insert_category(db, "Tools")
    db.execute(
        text("INSERT INTO product_categories VALUES (:p, :garden), (:p, :tools)"),
        {"p": product_id, "garden": garden, "tools": tools},
    )
    db.commit()

    db.execute(text("DELETE FROM categories WHERE id = :id"), {"id": garden})
    db.commit()

    assert count(db, Product) == 1
    assert db.execute(text("SELECT category_id FROM product_categories")).scalars().all() == [tools]


def test_a_link_to_a_missing_product_is_refused(db):
    category_id = insert_category(db, "Garden")
    with pytest.raises(IntegrityError):
        db.execute(text("INSERT INTO product_categories VALUES (999999, :c)"), {"c": category_id})
    db.rollback()
    assert count(db, ProductCategory) == 0


def test_a_product_cannot_have_two_active_low_stock_alerts(db):
    product_id = insert_product(db)
    insert_alert(db, product_id, active=True)
    with pytest.raises(IntegrityError, match="ux_low_stock_alerts_active_product"):
        insert_alert(db, product_id, active=True)
    db.rollback()
    assert count(db, LowStockAlert) == 1


def test_resolved_alerts_do_not_block_a_new_active_alert(db):
    product_id = insert_product(db)
    insert_alert(db, product_id, active=False)
    insert_alert(db, product_id, active=False)
    insert_alert(db, product_id, active=True)
    assert db.execute(text("SELECT active FROM low_stock_alerts ORDER BY id")).scalars().all() == [
        False,
        False,
        True,
    ]


@pytest.mark.parametrize("price", ["0.10", "0.00", "19.99", "9999999999.99"])
def test_prices_are_stored_exactly(db, price):
    product_id = insert_product(db, price=Decimal(price))
    stored = db.execute(
        text("SELECT price FROM products WHERE id = :id"), {"id": product_id}
    ).scalar_one()
    assert stored == Decimal(price)
    assert str(stored) == price


def test_a_price_of_ten_billion_does_not_fit(db):
    with pytest.raises(DataError):
        insert_product(db, price=Decimal("10000000000.00"))
    db.rollback()
    assert count(db, Product) == 0
