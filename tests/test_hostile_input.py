"""Hostile input: server-owned fields are never taken from a body, and SQL or LIKE syntax in any
string is stored and matched as plain data."""

import pytest
from sqlalchemy import select, text

from inventory.models import Category, Product, StockMovement, User
from tests.factories import count

SERVER_OWNED = {
    "id": 999,
    "role": "admin",
    "is_active": False,
    "password_hash": "$2b$12$forgedforgedforgedforgedforgedforgedforgedforgedforged",
    "created_at": "2000-01-01T00:00:00Z",
    "updated_at": "2000-01-01T00:00:00Z",
    "quantity_after": 1000,
    "version": 99,
}
HOSTILE_TEXT = [
    "'; DROP TABLE products; --",
    "x' OR '1'='1",
    "%",
    "_",
    "\\",
    "100% _off_ \\o/",
    'Robert"); DELETE FROM users; --',
]


def _writable_bodies(product_id: int, category_id: int, user_id: int):
    """Each writable endpoint with a valid body and the fields that body may legitimately hold."""
    return [
        ("post", "/api/v1/auth/register", {"username": "eve", "password": "long-enough"}, {"role"}),
        (
            "post",
            "/api/v1/users",
            {"username": "frank", "password": "long-enough", "role": "viewer"},
            {"role", "is_active"},
        ),
        ("patch", f"/api/v1/users/{user_id}", {"password": "another-one"}, {"role", "is_active"}),
        ("post", "/api/v1/products", {"name": "Rake", "price": "9.99"}, set()),
        ("patch", f"/api/v1/products/{product_id}", {"name": "Renamed"}, set()),
        ("post", f"/api/v1/products/{product_id}/stock", {"delta": 1, "reason": "count"}, set()),
        ("post", "/api/v1/categories", {"name": "Tools"}, set()),
        ("patch", f"/api/v1/categories/{category_id}", {"name": "Renamed"}, set()),
    ]


def _snapshot(db) -> tuple:
    counts = tuple(count(db, model) for model in (User, Product, Category, StockMovement))
    product = db.execute(text("SELECT name, stock_quantity, version FROM products")).all()
    users = db.execute(text("SELECT username, role, is_active, password_hash FROM users")).all()
    categories = db.execute(text("SELECT name FROM categories")).all()
    db.rollback()
    return counts, product, users, categories


@pytest.mark.parametrize("field", sorted(SERVER_OWNED))
def test_no_writable_body_takes_a_server_owned_field(
    client, admin, admin_user, make_user, product, category, db, field
):
    target = make_user(username="target")
    before = _snapshot(db)
    for method, path, body, allowed in _writable_bodies(product["id"], category["id"], target.id):
        if field in allowed:
            continue
        response = client.request(
            method, path, json={**body, field: SERVER_OWNED[field]}, headers=admin
        )
        assert response.status_code == 422, (method, path, field, response.text)
        assert field in response.json()["detail"]
    assert _snapshot(db) == before


@pytest.mark.parametrize("hostile", HOSTILE_TEXT)
def test_sql_and_like_syntax_in_names_sku_and_reason_is_stored_as_data(
    client, manager, db, hostile
):
    category = client.post("/api/v1/categories", json={"name": hostile}, headers=manager)
    assert category.status_code == 201
    created = client.post(
        "/api/v1/products",
        json={
            "name": hostile,
            "description": hostile,
            "sku": hostile,
            "price": "1.00",
            "category_ids": [category.json()["id"]],
        },
        headers=manager,
    )
    assert created.status_code == 201
    product_id = created.json()["id"]
    adjusted = client.post(
        f"/api/v1/products/{product_id}/stock",
        json={"delta": 5, "reason": hostile, "reference": hostile},
        headers=manager,
    )
    assert adjusted.status_code == 200

    assert db.scalar(select(Product.name).where(Product.id == product_id)) == hostile
    assert db.scalar(select(Product.sku).where(Product.id == product_id)) == hostile
    assert db.scalar(select(Category.name)) == hostile
    assert db.scalar(select(StockMovement.reason)) == hostile
    assert count(db, User) == 1  # the manager, untouched


@pytest.mark.parametrize("hostile", HOSTILE_TEXT)
def test_sql_and_like_syntax_in_search_matches_only_literally(client, manager, hostile):
    client.post("/api/v1/products", json={"name": "Plain rake", "price": "1.00"}, headers=manager)
    client.post(
        "/api/v1/products", json={"name": f"Odd {hostile} name", "price": "1.00"}, headers=manager
    )
    for path in ("/api/v1/products", "/api/v1/categories"):
        response = client.get(path, params={"q": hostile}, headers=manager)
        assert response.status_code == 200
    names = [
        item["name"]
        for item in client.get("/api/v1/products", params={"q": hostile}, headers=manager).json()[
            "items"
        ]
    ]
    assert names == [f"Odd {hostile} name"]


@pytest.mark.parametrize("hostile", ["name; DROP TABLE products", "-id,name", "price desc", "%"])
def test_a_sort_that_is_not_a_known_key_is_refused_and_never_reaches_sql(client, viewer, hostile):
    response = client.get("/api/v1/products", params={"sort": hostile}, headers=viewer)
    assert response.status_code == 422
    assert "sort" in response.json()["detail"]
