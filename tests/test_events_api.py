"""GET /events: every change through the API leaves its event, in its transaction, and the list
filters and polls as documented."""

from sqlalchemy import select, text
from sqlmodel import Session

from inventory.models import Event, Role
from tests.factories import PASSWORD, count, product_url, stock_url

EVENTS = "/api/v1/events"


def events_of(db: Session, request_id: str) -> list[Event]:
    db.expire_all()
    statement = select(Event).where(Event.request_id == request_id).order_by(Event.id)
    return list(db.scalars(statement))


def types_of(db: Session, response) -> list[str]:
    return [event.type for event in events_of(db, response.headers["X-Request-ID"])]


def test_creating_a_product_records_its_creation_and_opening_stock(
    client, db, admin, admin_user, category
):
    response = client.post(
        "/api/v1/products",
        json={
            "name": "Rake",
            "price": "9.50",
            "stock_quantity": 20,
            "category_ids": [category["id"]],
        },
        headers=admin,
    )

    assert response.status_code == 201
    created, stocked = events_of(db, response.headers["X-Request-ID"])
    product_id = response.json()["id"]
    assert (created.type, created.entity_type, created.entity_id) == (
        "product.created",
        "product",
        product_id,
    )
    assert created.actor_user_id == admin_user.id
    assert created.data == {
        "name": "Rake",
        "description": None,
        "price": "9.50",
        "stock_quantity": 20,
        "low_stock_threshold": 10,
        "sku": None,
        "category_ids": [category["id"]],
    }
    assert (stocked.type, stocked.entity_id) == ("stock.adjusted", product_id)
    assert stocked.data == {
        "product_id": product_id,
        "location_id": 1,  # the default location
        "delta": 20,
        "quantity_after": 20,
        "reason": "initial stock",
        "reference": None,
    }


def test_an_update_records_each_changed_field_as_old_and_new(client, db, manager, product):
    response = client.patch(
        product_url(product["id"]),
        json={"price": "17.50", "name": "Garden hose", "category_ids": []},
        headers=manager,
    )

    assert response.status_code == 200
    [updated] = events_of(db, response.headers["X-Request-ID"])
    assert updated.type == "product.updated"
    assert updated.data == {
        "changes": {
            "price": ["19.99", "17.50"],
            "category_ids": [[product["categories"][0]["id"]], []],
        }
    }


def test_a_stock_change_across_the_threshold_records_the_alert_opening_and_resolving(
    client, db, manager, product
):
    url = stock_url(product["id"])
    down = client.post(url, json={"delta": -45, "reason": "sold"}, headers=manager)
    up = client.post(url, json={"delta": 30, "reason": "delivery"}, headers=manager)

    assert types_of(db, down) == ["stock.adjusted", "low_stock.opened"]
    assert types_of(db, up) == ["stock.adjusted", "low_stock.resolved"]
    opened = events_of(db, down.headers["X-Request-ID"])[1]
    assert opened.entity_type == "low_stock_alert"
    assert opened.data == {"product_id": product["id"], "quantity": 5, "threshold": 10}


def test_a_refused_change_records_no_event(client, db, manager, product):
    before = count(db, Event)

    taken = client.post(
        "/api/v1/products", json={"name": "Other", "price": "1", "sku": "HOSE-25"}, headers=manager
    )
    too_much = client.post(
        stock_url(product["id"]),
        json={"delta": -51, "reason": "x"},
        headers=manager,
    )

    assert (taken.status_code, too_much.status_code) == (409, 409)
    assert count(db, Event) == before


def test_category_changes_are_recorded(client, db, admin, category):
    renamed = client.patch(
        f"/api/v1/categories/{category['id']}", json={"name": "Yard"}, headers=admin
    )
    deleted = client.delete(f"/api/v1/categories/{category['id']}", headers=admin)

    [update] = events_of(db, renamed.headers["X-Request-ID"])
    assert update.data == {"changes": {"name": ["Garden", "Yard"]}}
    [deletion] = events_of(db, deleted.headers["X-Request-ID"])
    assert (deletion.type, deletion.entity_id, deletion.data) == (
        "category.deleted",
        category["id"],
        {"name": "Yard"},
    )


def test_no_event_ever_holds_a_password_or_its_hash(client, db, admin, admin_user):
    created = client.post(
        "/api/v1/users",
        json={"username": "bob", "password": "first-password-1", "role": "viewer"},
        headers=admin,
    )
    user_id = created.json()["id"]
    changed = client.patch(
        f"/api/v1/users/{user_id}",
        json={"password": "second-password-2", "role": "manager"},
        headers=admin,
    )
    client.post("/api/v1/auth/register", json={"username": "carol", "password": PASSWORD})

    [update] = events_of(db, changed.headers["X-Request-ID"])
    assert update.data == {"changes": {"role": ["viewer", "manager"]}, "credentials_changed": True}
    assert update.actor_user_id == admin_user.id
    everything = db.scalar(text("SELECT string_agg(data::text, ' ') FROM events"))
    stored_hashes = db.scalars(text("SELECT password_hash FROM users")).all()
    for secret in ("first-password-1", "second-password-2", PASSWORD, "$2b$", *stored_hashes):
        assert secret not in everything


def test_a_self_sign_up_is_recorded_as_done_by_the_new_user(client, db):
    response = client.post("/api/v1/auth/register", json={"username": "dave", "password": PASSWORD})

    [created] = events_of(db, response.headers["X-Request-ID"])
    assert created.type == "user.created"
    assert created.actor_user_id == response.json()["id"]
    assert created.data == {"username": "dave", "role": "viewer", "is_active": True}


def test_every_write_through_the_api_leaves_at_least_one_event(
    client, db, admin, make_user, product, category
):
    target = make_user(Role.viewer, "target")
    pid, cid = product["id"], category["id"]
    writes = [
        ("POST", "/api/v1/categories", {"name": "Tools"}),
        ("PATCH", f"/api/v1/categories/{cid}", {"description": "Outside"}),
        ("POST", "/api/v1/products", {"name": "Spade", "price": "12"}),
        ("PATCH", product_url(pid), {"stock_quantity": 40}),
        ("POST", stock_url(pid), {"delta": 2, "reason": "found"}),
        ("POST", "/api/v1/users", {"username": "erin", "password": PASSWORD, "role": "viewer"}),
        ("PATCH", f"/api/v1/users/{target.id}", {"is_active": False}),
        ("DELETE", f"/api/v1/users/{target.id}", None),
        ("POST", "/api/v1/api-keys", {"name": "storefront", "role": "viewer"}),
        ("DELETE", "/api/v1/api-keys/1", None),
        ("POST", "/api/v1/webhooks", {"url": "https://93.184.216.34/h", "event_types": ["*"]}),
        ("PATCH", "/api/v1/webhooks/1", {"description": "storefront"}),
        ("DELETE", "/api/v1/webhooks/1", None),
        ("DELETE", product_url(pid), None),
        ("DELETE", f"/api/v1/categories/{cid}", None),
    ]
    for method, url, body in writes:
        response = client.request(method, url, json=body, headers=admin)
        assert response.status_code < 300, (method, url, response.text)
        assert events_of(db, response.headers["X-Request-ID"]), (method, url)


def test_the_list_is_newest_first_and_filters_by_type_and_entity(client, db, admin, product):
    client.patch(product_url(product["id"]), json={"name": "Hose"}, headers=admin)

    everything = client.get(EVENTS, headers=admin).json()
    updates = client.get(
        EVENTS,
        params={"type": "product.updated", "entity_type": "product", "entity_id": product["id"]},
        headers=admin,
    ).json()

    ids = [event["id"] for event in everything["items"]]
    assert ids == sorted(ids, reverse=True)
    assert everything["total"] == count(db, Event)
    assert [event["type"] for event in updates["items"]] == ["product.updated"]
    assert updates["items"][0]["data"] == {"changes": {"name": ["Garden hose", "Hose"]}}
    assert set(updates["items"][0]) == {
        "id",
        "type",
        "entity_type",
        "entity_id",
        "actor_user_id",
        "request_id",
        "data",
        "created_at",
    }


def test_after_id_gives_the_later_events_oldest_first(client, db, admin, product):
    seen = client.get(EVENTS, params={"limit": 1}, headers=admin).json()["items"][0]["id"]
    for name in ("A", "B", "C"):
        client.patch(product_url(product["id"]), json={"name": name}, headers=admin)

    page = client.get(EVENTS, params={"after_id": seen, "limit": 2}, headers=admin).json()
    rest = client.get(EVENTS, params={"after_id": page["items"][-1]["id"]}, headers=admin).json()

    names = [e["data"]["changes"]["name"][1] for e in page["items"] + rest["items"]]
    assert names == ["A", "B", "C"]
    assert page["total"] == 3
    assert rest["total"] == 1


def test_a_bad_filter_is_a_422(client, admin):
    response = client.get(EVENTS, params={"after_id": -1}, headers=admin)

    assert response.status_code == 422
    assert "after_id" in response.text


def test_an_api_key_event_never_holds_the_key_and_a_second_revocation_records_nothing(
    client, db, admin
):
    created = client.post(
        "/api/v1/api-keys", json={"name": "storefront", "role": "viewer"}, headers=admin
    ).json()
    first = client.delete(f"/api/v1/api-keys/{created['id']}", headers=admin)
    again = client.delete(f"/api/v1/api-keys/{created['id']}", headers=admin)

    assert [e.type for e in events_of(db, first.headers["X-Request-ID"])] == ["api_key.revoked"]
    assert events_of(db, again.headers["X-Request-ID"]) == []
    everything = db.scalar(text("SELECT string_agg(data::text, ' ') FROM events"))
    assert created["key"] not in everything
    assert created["prefix"] in everything
