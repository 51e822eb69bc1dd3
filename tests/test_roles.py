"""The role matrix (issue 3 point 6): every /api/v1 route has an explicit rule, and keeps it.

The routes come from the app's own route table, so a new route without a rule here fails
`test_every_api_route_has_an_explicit_rule` until someone decides who may call it.
"""

import pytest
from fastapi.routing import iter_route_contexts
from sqlalchemy import select

from inventory.api_keys import create_key
from inventory.main import app
from inventory.models import Event, Role, Webhook, WebhookDelivery
from inventory.webhooks import new_secret
from tests.conftest import PASSWORD, auth_headers

OPEN = frozenset()
"""No token needed."""
ANYONE = frozenset(Role)
WRITERS = frozenset({Role.admin, Role.manager})
ADMIN = frozenset({Role.admin})

RULES: dict[tuple[str, str], frozenset[Role]] = {
    ("POST", "/api/v1/auth/register"): OPEN,
    ("POST", "/api/v1/auth/login"): OPEN,
    ("POST", "/api/v1/auth/refresh"): OPEN,
    ("POST", "/api/v1/auth/logout"): OPEN,
    ("GET", "/api/v1/auth/me"): ANYONE,
    ("GET", "/api/v1/users"): ADMIN,
    ("POST", "/api/v1/users"): ADMIN,
    ("GET", "/api/v1/users/{user_id}"): ADMIN,
    ("PATCH", "/api/v1/users/{user_id}"): ADMIN,
    ("DELETE", "/api/v1/users/{user_id}"): ADMIN,
    ("GET", "/api/v1/api-keys"): ADMIN,
    ("POST", "/api/v1/api-keys"): ADMIN,
    ("GET", "/api/v1/api-keys/{key_id}"): ADMIN,
    ("DELETE", "/api/v1/api-keys/{key_id}"): ADMIN,
    ("GET", "/api/v1/products"): ANYONE,
    ("POST", "/api/v1/products"): WRITERS,
    ("GET", "/api/v1/products/{product_id}"): ANYONE,
    ("PATCH", "/api/v1/products/{product_id}"): WRITERS,
    ("DELETE", "/api/v1/products/{product_id}"): ADMIN,
    ("POST", "/api/v1/products/{product_id}/stock"): WRITERS,
    ("GET", "/api/v1/products/{product_id}/stock-movements"): ANYONE,
    ("GET", "/api/v1/products/{product_id}/similar"): ANYONE,
    ("GET", "/api/v1/categories"): ANYONE,
    ("POST", "/api/v1/categories"): WRITERS,
    ("GET", "/api/v1/categories/{category_id}"): ANYONE,
    ("GET", "/api/v1/categories/{category_id}/products"): ANYONE,
    ("PATCH", "/api/v1/categories/{category_id}"): WRITERS,
    ("DELETE", "/api/v1/categories/{category_id}"): ADMIN,
    ("GET", "/api/v1/inventory/low-stock"): ANYONE,
    ("GET", "/api/v1/alerts"): ANYONE,
    ("GET", "/api/v1/events"): ADMIN,
    ("GET", "/api/v1/webhooks"): ADMIN,
    ("POST", "/api/v1/webhooks"): ADMIN,
    ("GET", "/api/v1/webhooks/{webhook_id}"): ADMIN,
    ("PATCH", "/api/v1/webhooks/{webhook_id}"): ADMIN,
    ("DELETE", "/api/v1/webhooks/{webhook_id}"): ADMIN,
    ("GET", "/api/v1/webhooks/{webhook_id}/deliveries"): ADMIN,
    ("POST", "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): ADMIN,
    ("GET", "/api/v1/locations"): ANYONE,
    ("POST", "/api/v1/locations"): WRITERS,
    ("GET", "/api/v1/locations/{location_id}"): ANYONE,
    ("PATCH", "/api/v1/locations/{location_id}"): WRITERS,
    ("DELETE", "/api/v1/locations/{location_id}"): ADMIN,
    ("GET", "/api/v1/products/{product_id}/stock-levels"): ANYONE,
    ("GET", "/api/v1/stock-transfers"): ANYONE,
    ("POST", "/api/v1/stock-transfers"): WRITERS,
    ("GET", "/api/v1/reservations"): ANYONE,
    ("POST", "/api/v1/reservations"): WRITERS,
    ("GET", "/api/v1/reservations/{reservation_id}"): ANYONE,
    ("POST", "/api/v1/reservations/{reservation_id}/commit"): WRITERS,
    ("POST", "/api/v1/reservations/{reservation_id}/release"): WRITERS,
}
"""(method, path) → the roles that may call it; OPEN needs no token."""

BODIES: dict[tuple[str, str], dict] = {
    ("POST", "/api/v1/users"): {"username": "newcomer", "password": PASSWORD, "role": "viewer"},
    ("PATCH", "/api/v1/users/{user_id}"): {"is_active": True},
    ("POST", "/api/v1/api-keys"): {"name": "storefront", "role": "viewer"},
    ("POST", "/api/v1/products"): {"name": "Rake", "price": "9.99"},
    ("PATCH", "/api/v1/products/{product_id}"): {"description": "Now longer"},
    ("POST", "/api/v1/products/{product_id}/stock"): {"delta": 1, "reason": "recount"},
    ("POST", "/api/v1/categories"): {"name": "Kitchen"},
    ("PATCH", "/api/v1/categories/{category_id}"): {"description": "Outside"},
    ("POST", "/api/v1/webhooks"): {"url": "https://93.184.216.34/hook", "event_types": ["*"]},
    ("PATCH", "/api/v1/webhooks/{webhook_id}"): {"description": "Reorder tool"},
    ("POST", "/api/v1/locations"): {"name": "Leeds"},
    ("PATCH", "/api/v1/locations/{location_id}"): {"description": "North"},
    ("POST", "/api/v1/stock-transfers"): {
        "product_id": 1,
        "from_location_id": 1,
        "to_location_id": 2,
        "quantity": 1,
        "reason": "rebalance",
    },
    ("POST", "/api/v1/reservations"): {"items": [{"product_id": 1, "quantity": 1}]},
}
"""A valid body for each write, so an allowed call gets past validation into the route."""

PROTECTED = sorted(route for route, roles in RULES.items() if roles)


def api_routes() -> set[tuple[str, str]]:
    """Every (method, path) the app serves under /api/v1, from its own route table."""
    found = set()
    for route in iter_route_contexts(app.routes):
        if route.path and route.path.startswith("/api/v1"):
            found.update((method, route.path) for method in route.methods or {"ANY"})
    return found


def route_id(route: tuple[str, str]) -> str:
    return " ".join(route)


@pytest.fixture
def url_for(client, admin, product, category, make_user, admin_user, db):
    """Fills a route's path with real ids: the fixture product (id 1) and category, a target
    user, an API key, a webhook and one of its delivery attempts, a second location (id 2)
    and a reservation of the product."""
    target = make_user(Role.viewer, "target")
    key, _ = create_key(db, "storefront", Role.viewer, admin_user)
    webhook = Webhook(url="https://93.184.216.34/hook", event_types=["*"], secret=new_secret())
    db.add(webhook)
    db.flush()
    event_id = db.scalar(select(Event.id).order_by(Event.id.desc()).limit(1))
    delivery = WebhookDelivery(webhook_id=webhook.id, event_id=event_id, attempt=1)
    db.add(delivery)
    db.commit()
    location = client.post("/api/v1/locations", json={"name": "Spare"}, headers=admin).json()
    reservation = client.post(
        "/api/v1/reservations", json=BODIES[("POST", "/api/v1/reservations")], headers=admin
    ).json()
    ids = {
        "product_id": product["id"],
        "category_id": category["id"],
        "user_id": target.id,
        "key_id": key.id,
        "webhook_id": webhook.id,
        "delivery_id": delivery.id,
        "location_id": location["id"],
        "reservation_id": reservation["id"],
    }
    return lambda path: path.format(**ids)


def call(client, route: tuple[str, str], url_for, headers: dict[str, str] | None = None):
    method, path = route
    return client.request(method, url_for(path), json=BODIES.get(route), headers=headers)


def test_every_api_route_has_an_explicit_rule():
    assert api_routes() == set(RULES)


def test_only_register_login_refresh_and_logout_are_open():
    open_routes = {route for route, roles in RULES.items() if not roles}
    assert open_routes == {
        ("POST", "/api/v1/auth/register"),
        ("POST", "/api/v1/auth/login"),
        ("POST", "/api/v1/auth/refresh"),
        ("POST", "/api/v1/auth/logout"),
    }


def test_register_needs_no_token(client):
    response = client.post(
        "/api/v1/auth/register", json={"username": "alice", "password": PASSWORD}
    )
    assert response.status_code == 201


def test_login_needs_no_token(client, make_user):
    make_user(username="alice")
    response = client.post("/api/v1/auth/login", data={"username": "alice", "password": PASSWORD})
    assert response.status_code == 200


def outcome(response) -> str:
    """What a call came to, as the matrix sees it."""
    if response.status_code == 401 and response.headers.get("WWW-Authenticate") == "Bearer":
        return "401 Bearer"
    if response.status_code == 403 and "admin" in response.json()["detail"]:
        return "403"
    if response.status_code in (401, 403) or response.status_code >= 500:
        return f"unexpected {response.status_code}: {response.text}"
    return "allowed"


@pytest.mark.parametrize("route", PROTECTED, ids=route_id)
def test_each_caller_gets_exactly_the_rule_of_the_route(client, request, url_for, route):
    expected = {"no token": "401 Bearer"} | {
        role.value: "allowed" if role in RULES[route] else "403" for role in Role
    }
    observed = {"no token": outcome(call(client, route, url_for))}
    # Refused roles first: an allowed call (a delete) may change what the next one finds.
    for role in sorted(Role, key=lambda role: role in RULES[route]):
        headers = request.getfixturevalue(role.value)  # the headers fixture
        observed[role.value] = outcome(call(client, route, url_for, headers))
    assert observed == expected


def test_a_user_gets_only_the_rule_of_their_current_role(client, db, manager_user, url_for):
    headers = auth_headers(manager_user)
    route = ("DELETE", "/api/v1/categories/{category_id}")
    assert call(client, route, url_for, headers).status_code == 403
    stored = db.merge(manager_user)
    stored.role = Role.admin
    db.commit()
    assert call(client, route, url_for, headers).status_code == 204
