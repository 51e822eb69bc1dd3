"""Test factories: plain functions that make things through the API and read rows back from the
database, shared by every test file. Set-up and fixtures live in conftest.py.

`client` is anything with httpx's request methods: the in-process TestClient or an httpx.Client
on a live server.
"""

from typing import TypeVar

from sqlalchemy import func, select
from sqlmodel import Session, SQLModel

from inventory.models import Category, LowStockAlert, Product, StockMovement, User

PASSWORD = "correct-horse-42"
PRODUCTS = "/api/v1/products"
CATEGORIES = "/api/v1/categories"
LOGIN = "/api/v1/auth/login"

Row = TypeVar("Row", bound=SQLModel)


# --- addresses -----------------------------------------------------------------------------------


def product_url(product_id: int) -> str:
    return f"{PRODUCTS}/{product_id}"


def stock_url(product_id: int) -> str:
    return f"{PRODUCTS}/{product_id}/stock"


def movements_url(product_id: int) -> str:
    return f"{PRODUCTS}/{product_id}/stock-movements"


# --- through the API -----------------------------------------------------------------------------


def create_product(client, headers: dict[str, str], name: str = "Watering can", **fields) -> dict:
    """A product made through the API (price 7.50 unless given); its JSON."""
    body = {"name": name, "price": "7.50", **fields}
    response = client.post(PRODUCTS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def create_category(
    client, headers: dict[str, str], name: str, description: str | None = None
) -> dict:
    """A category made through the API; its JSON."""
    body = {"name": name, "description": description}
    response = client.post(CATEGORIES, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def log_in(client, username: str, password: str = PASSWORD):
    """POST the OAuth2 password form; the response, whatever it is."""
    return client.post(LOGIN, data={"username": username, "password": password})


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for a raw token."""
    return {"Authorization": f"Bearer {token}"}


# --- from the database ---------------------------------------------------------------------------


def count(db: Session, model: type[SQLModel]) -> int:
    """How many rows the table of `model` holds right now."""
    return db.scalar(select(func.count()).select_from(model))


def stored_product(db: Session, product_id: int) -> Product | None:
    """The product row as the database has it now (None once it is gone)."""
    return db.get(Product, product_id, populate_existing=True)


def stored_category(db: Session, category_id: int) -> Category | None:
    """The category row as the database has it now (None once it is gone)."""
    return db.get(Category, category_id, populate_existing=True)


def stored_user(db: Session, user_id: int) -> User | None:
    """The user row as the database has it now (None once it is gone)."""
    return db.get(User, user_id, populate_existing=True)


def stock_of(db: Session, product_id: int) -> int:
    """The product's stock as the database has it now."""
    return db.scalar(select(Product.stock_quantity).where(Product.id == product_id))


def ledger(db: Session, product_id: int) -> list[StockMovement]:
    """The product's stock movements, oldest first, as the database has them."""
    return _rows_of_product(db, StockMovement, product_id)


def ledger_sum(db: Session, product_id: int) -> int:
    """The sum of the product's stock movements (0 for none)."""
    return db.scalar(
        select(func.coalesce(func.sum(StockMovement.delta), 0)).where(
            StockMovement.product_id == product_id
        )
    )


def alerts(db: Session, product_id: int) -> list[LowStockAlert]:
    """The product's low-stock alerts, oldest first, as the database has them."""
    return _rows_of_product(db, LowStockAlert, product_id)


def active_alerts(db: Session, product_id: int) -> list[LowStockAlert]:
    """The product's alerts that are still open."""
    return [alert for alert in alerts(db, product_id) if alert.active]


def _rows_of_product(db: Session, model: type[Row], product_id: int) -> list[Row]:
    return list(
        db.scalars(
            select(model)
            .where(model.product_id == product_id)
            .order_by(model.id)
            .execution_options(populate_existing=True)
        )
    )
