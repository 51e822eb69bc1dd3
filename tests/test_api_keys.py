"""API keys (issue 16 point 8): an admin makes a key with a role, sees the secret once, lists and
revokes keys; a system sends it as a bearer token or X-API-Key."""

import hashlib
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text

from inventory.models import Role
from tests.conftest import auth_headers

KEYS = "/api/v1/api-keys"
ME = "/api/v1/auth/me"


@pytest.fixture
def make_key(client, admin):
    """Create a key through the API: make_key("manager") → the 201 body."""

    def make(role: str = "viewer", name: str = "storefront") -> dict:
        response = client.post(KEYS, json={"name": name, "role": role}, headers=admin)
        assert response.status_code == 201, response.text
        return response.json()

    return make


def stored_keys(db) -> list[dict]:
    rows = db.execute(text("SELECT * FROM api_keys ORDER BY id")).mappings().all()
    return [dict(row) for row in rows]


def test_creating_a_key_answers_201_with_the_secret_and_stores_only_its_hash(
    client, admin, admin_user, db
):
    response = client.post(KEYS, json={"name": "storefront", "role": "manager"}, headers=admin)

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {
        "id",
        "name",
        "role",
        "prefix",
        "key",
        "user_id",
        "created_at",
        "last_used_at",
        "revoked_at",
    }
    assert (body["name"], body["role"], body["user_id"]) == ("storefront", "manager", admin_user.id)
    assert body["key"].startswith(body["prefix"]) and body["key"].startswith("inv_")
    assert len(body["key"]) > 40
    assert (body["last_used_at"], body["revoked_at"]) == (None, None)
    assert response.headers["Location"].endswith(f"{KEYS}/{body['id']}")
    [row] = stored_keys(db)
    assert row["key_hash"] == hashlib.sha256(body["key"].encode()).hexdigest()
    assert body["key"] not in str(row)


def test_the_secret_is_never_shown_again(client, admin, make_key):
    created = make_key()

    listed = client.get(KEYS, headers=admin)
    one = client.get(f"{KEYS}/{created['id']}", headers=admin)

    assert listed.status_code == one.status_code == 200
    assert created["key"] not in listed.text + one.text
    assert "key" not in listed.json()["items"][0]
    assert listed.json()["total"] == 1
    assert one.json()["prefix"] == created["prefix"]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "", "role": "viewer"},
        {"name": "x" * 101, "role": "viewer"},
        {"name": "storefront", "role": "owner"},
        {"name": "storefront"},
        {"name": "storefront", "role": "viewer", "key": "inv_mine"},
    ],
    ids=["empty name", "name over 100", "unknown role", "no role", "own key"],
)
def test_a_bad_key_request_is_a_422_and_creates_nothing(client, admin, db, body):
    response = client.post(KEYS, json=body, headers=admin)

    assert response.status_code == 422, response.text
    assert stored_keys(db) == []


def test_a_manager_may_not_create_a_key(client, manager, db):
    response = client.post(KEYS, json={"name": "mine", "role": "admin"}, headers=manager)

    assert response.status_code == 403
    assert stored_keys(db) == []


@pytest.mark.parametrize("send", ["bearer", "x-api-key"])
def test_a_key_works_as_a_bearer_token_or_x_api_key(client, make_key, admin_user, send):
    key = make_key("viewer")["key"]
    headers = {"Authorization": f"Bearer {key}"} if send == "bearer" else {"X-API-Key": key}

    response = client.get(ME, headers=headers)

    assert response.status_code == 200, response.text
    assert response.json()["username"] == admin_user.username
    assert response.json()["role"] == "viewer"


def test_a_viewer_key_cannot_write(client, make_key, db):
    key = make_key("viewer")["key"]

    response = client.post(
        "/api/v1/categories", json={"name": "Kitchen"}, headers={"X-API-Key": key}
    )

    assert response.status_code == 403
    assert db.execute(text("SELECT count(*) FROM categories")).scalar_one() == 0


def test_a_manager_key_writes_with_a_managers_rights_and_no_more(client, make_key, product):
    key = {"X-API-Key": make_key("manager")["key"]}

    adjusted = client.post(
        f"/api/v1/products/{product['id']}/stock",
        json={"delta": -5, "reason": "order 7"},
        headers=key,
    )
    deleted = client.delete(f"/api/v1/products/{product['id']}", headers=key)

    assert adjusted.status_code == 200, adjusted.text
    assert adjusted.json()["stock_quantity"] == 45
    assert deleted.status_code == 403


def test_a_revoked_key_is_refused_at_once_with_www_authenticate(client, admin, make_key, db):
    created = make_key("manager")
    headers = {"X-API-Key": created["key"]}
    assert client.get(ME, headers=headers).status_code == 200

    revoked = client.delete(f"{KEYS}/{created['id']}", headers=admin)
    refused = client.get(ME, headers=headers)

    assert revoked.status_code == 204
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == "Bearer"
    assert refused.json()["detail"] == "invalid or revoked API key"
    [row] = stored_keys(db)
    assert row["revoked_at"] is not None


def test_revoking_twice_is_a_204_and_keeps_the_first_time(client, admin, make_key, db):
    created = make_key()
    client.delete(f"{KEYS}/{created['id']}", headers=admin)
    [first] = stored_keys(db)

    again = client.delete(f"{KEYS}/{created['id']}", headers=admin)

    assert again.status_code == 204
    assert stored_keys(db)[0]["revoked_at"] == first["revoked_at"]
    listed = client.get(KEYS, headers=admin).json()["items"]
    assert listed[0]["revoked_at"] is not None


def test_revoking_an_unknown_key_is_a_404(client, admin):
    response = client.delete(f"{KEYS}/999", headers=admin)

    assert response.status_code == 404
    assert response.json()["detail"] == "API key 999 not found"


def test_an_unknown_key_is_a_401(client):
    response = client.get(ME, headers={"X-API-Key": "inv_" + "x" * 43})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_key_stops_working_when_its_admin_is_disabled(client, make_key, db, admin_user):
    key = {"X-API-Key": make_key("viewer")["key"]}
    db.execute(text("UPDATE users SET is_active = false WHERE id = :id"), {"id": admin_user.id})
    db.commit()

    assert client.get(ME, headers=key).status_code == 401


def test_a_key_never_has_more_than_its_admins_current_role(client, make_key, db, admin_user):
    key = {"X-API-Key": make_key("admin")["key"]}
    db.execute(text("UPDATE users SET role = 'manager' WHERE id = :id"), {"id": admin_user.id})
    db.commit()

    assert client.get(ME, headers=key).json()["role"] == "manager"
    assert client.get("/api/v1/users", headers=key).status_code == 403


def test_use_is_recorded_in_last_used_at_at_most_once_a_minute(client, admin, make_key, db):
    created = make_key()
    headers = {"X-API-Key": created["key"]}

    client.get(ME, headers=headers)
    [first] = stored_keys(db)
    client.get(ME, headers=headers)
    [second] = stored_keys(db)
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    db.execute(text("UPDATE api_keys SET last_used_at = :t"), {"t": an_hour_ago})
    db.commit()
    client.get(ME, headers=headers)
    [third] = stored_keys(db)

    assert first["last_used_at"] is not None
    assert second["last_used_at"] == first["last_used_at"]
    assert third["last_used_at"] > an_hour_ago + timedelta(minutes=59)
    listed = client.get(f"{KEYS}/{created['id']}", headers=admin).json()
    assert listed["last_used_at"] is not None


def test_every_admin_sees_every_key_with_its_maker(client, make_user, make_key, admin_user):
    other = make_user(Role.admin, "other-admin")
    client.post(KEYS, json={"name": "orders", "role": "viewer"}, headers=auth_headers(other))
    make_key(name="storefront")

    listed = client.get(KEYS, headers=auth_headers(other)).json()

    assert [(item["name"], item["user_id"]) for item in listed["items"]] == [
        ("orders", other.id),
        ("storefront", admin_user.id),
    ]


@pytest.mark.live
def test_a_key_works_and_is_revoked_on_every_worker_of_a_real_server(
    live_server, client, admin, make_key
):
    created = make_key("viewer")
    headers = {"X-API-Key": created["key"]}

    def statuses() -> set[int]:
        # A new connection each time, so the kernel spreads them over the two workers.
        with ThreadPoolExecutor(max_workers=8) as pool:
            return set(
                pool.map(
                    lambda _: httpx.get(f"{live_server}{ME}", headers=headers).status_code,
                    range(100),
                )
            )

    before = statuses()
    client.delete(f"{KEYS}/{created['id']}", headers=admin)
    log_start = len(live_server.log.read_text())
    after = statuses()

    assert (before, after) == ({200}, {401})
    log = live_server.log.read_text()[log_start:]
    refusing_pids = set(re.findall(r"pid=(\d+) inventory.requests .* GET /api/v1/auth/me 401", log))
    assert len(refusing_pids) == 2
