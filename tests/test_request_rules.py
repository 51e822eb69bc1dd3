"""Rules every request meets: ids are plain numbers, Location never comes from the Host header,
text refuses NUL with a message that says so, and every route is built by the API's router."""

import pytest
from sqlalchemy import func, select

from inventory.main import app
from inventory.models import Category, Product
from inventory.routing import ApiRoute

CREATES = [
    ("/api/v1/products", {"name": "Rake", "price": "9.99"}, "/api/v1/products/"),
    ("/api/v1/categories", {"name": "Tools"}, "/api/v1/categories/"),
    ("/api/v1/users", {"username": "frank", "password": "long-enough"}, "/api/v1/users/"),
]


@pytest.mark.parametrize(("path", "body", "prefix"), CREATES, ids=[c[0] for c in CREATES])
def test_a_location_header_is_a_path_whatever_the_host_header_says(
    client, admin, path, body, prefix
):
    response = client.post(path, json=body, headers={**admin, "Host": "evil.example"})
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == f"{prefix}{response.json()['id']}"


@pytest.mark.parametrize("written", ["1.0", "+1", "1e0", "01.", " 1", "0x1", "١"])
def test_a_path_id_in_anything_but_decimal_digits_is_a_422(client, viewer, product, written):
    response = client.get(f"/api/v1/products/{written}", headers=viewer)
    assert response.status_code == 422
    assert "decimal digits" in response.json()["detail"]


def test_a_path_id_in_decimal_digits_is_read(client, viewer, product):
    response = client.get(f"/api/v1/products/{product['id']}", headers=viewer)
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "model"),
    [
        ("/api/v1/products", {"name": "Ra\u0000ke", "price": "1.00"}, Product),
        ("/api/v1/products", {"name": "Rake", "price": "1.00", "sku": "A\u0000"}, Product),
        ("/api/v1/categories", {"name": "Too\u0000ls"}, Category),
    ],
)
def test_a_nul_character_in_text_is_a_422_that_says_so_and_stores_nothing(
    client, manager, db, path, body, model
):
    response = client.post(path, json=body, headers=manager)
    assert response.status_code == 422
    assert "must not contain NUL characters" in response.json()["detail"]
    assert db.scalar(select(func.count()).select_from(model)) == 0


def test_a_nul_character_in_a_change_is_a_422_and_changes_nothing(client, manager, product):
    url = f"/api/v1/products/{product['id']}"
    response = client.patch(url, json={"description": "bad\u0000"}, headers=manager)
    assert response.status_code == 422
    assert "must not contain NUL characters" in response.json()["detail"]
    assert client.get(url, headers=manager).json() == product


def test_every_api_route_is_built_by_the_api_router():
    routes = [route for route in app.routes if hasattr(route, "endpoint")]
    built_otherwise = [
        route.path
        for route in routes
        if not isinstance(route, ApiRoute) and route.path.startswith("/api/")
    ]
    assert routes
    assert built_otherwise == []


def test_a_rule_422_lists_its_errors_like_a_schema_422(client, manager, product):
    response = client.post(
        "/api/v1/products",
        json={"name": "Rake", "price": "1.00", "category_ids": [999]},
        headers=manager,
    )
    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == "unknown category id: 999"
    assert body["errors"] == [
        {"loc": ["body", "category_ids"], "msg": "unknown category id: 999", "type": "value_error"}
    ]


def test_a_nul_character_in_a_login_username_is_a_422_that_says_so(client):
    response = client.post(
        "/api/v1/auth/login", data={"username": "ad\u0000min", "password": "long-enough"}
    )
    assert response.status_code == 422
    assert "must not contain NUL characters" in response.json()["detail"]


def test_a_short_password_is_refused_in_plain_words(client):
    response = client.post(
        "/api/v1/auth/register", json={"username": "shorty", "password": "short"}
    )
    assert response.status_code == 422
    assert response.json()["detail"] == "body.password: String should have at least 8 characters"
