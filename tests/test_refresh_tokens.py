"""Refresh tokens (issue 16 point 8): login returns one, refresh rotates it, logout revokes it, and
a used one presented again revokes its whole family."""

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from tests.conftest import PASSWORD

LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/auth/me"


@pytest.fixture
def alice(make_user):
    return make_user(username="alice")


def log_in(client) -> dict:
    response = client.post(LOGIN, data={"username": "alice", "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()


def refresh(client, token: str):
    return client.post(REFRESH, json={"refresh_token": token})


def stored_tokens(db) -> list[dict]:
    rows = db.execute(text("SELECT * FROM refresh_tokens ORDER BY id")).mappings().all()
    return [dict(row) for row in rows]


def test_login_returns_a_refresh_token_stored_only_as_a_hash(client, alice, db):
    body = log_in(client)

    [row] = stored_tokens(db)
    assert row["token_hash"] == hashlib.sha256(body["refresh_token"].encode()).hexdigest()
    assert body["refresh_token"] not in str(row)
    assert row["user_id"] == alice.id
    assert row["expires_at"] > datetime.now(UTC) + timedelta(days=13)


def test_refresh_gives_a_new_access_token_and_a_new_refresh_token(client, alice):
    first = log_in(client)

    response = refresh(client, first["refresh_token"])

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert body["refresh_token"] != first["refresh_token"]
    me = client.get(ME, headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["username"] == "alice"
    assert refresh(client, body["refresh_token"]).status_code == 200


def test_a_used_refresh_token_presented_again_revokes_its_whole_family(client, alice, db):
    stolen = log_in(client)["refresh_token"]
    owners_next = refresh(client, stolen).json()["refresh_token"]

    replayed = refresh(client, stolen)
    owner_after = refresh(client, owners_next)

    assert replayed.status_code == 401
    assert replayed.headers["WWW-Authenticate"] == "Bearer"
    assert owner_after.status_code == 401
    assert all(row["revoked_at"] is not None for row in stored_tokens(db))


def test_reuse_revokes_only_its_own_family(client, alice):
    laptop = log_in(client)["refresh_token"]
    phone = log_in(client)["refresh_token"]
    refresh(client, laptop)

    assert refresh(client, laptop).status_code == 401
    assert refresh(client, phone).status_code == 200


def test_logout_answers_204_and_the_token_stops_working(client, alice, db):
    token = log_in(client)["refresh_token"]

    response = client.post(LOGOUT, json={"refresh_token": token})

    assert response.status_code == 204
    assert refresh(client, token).status_code == 401
    assert stored_tokens(db)[0]["revoked_at"] is not None


def test_logout_with_an_unknown_token_is_a_204_that_changes_nothing(client, alice, db):
    token = log_in(client)["refresh_token"]

    response = client.post(LOGOUT, json={"refresh_token": "not-a-token"})

    assert response.status_code == 204
    assert stored_tokens(db)[0]["revoked_at"] is None
    assert refresh(client, token).status_code == 200


def test_the_refresh_token_of_a_disabled_user_is_refused(client, alice, db):
    token = log_in(client)["refresh_token"]
    db.execute(text("UPDATE users SET is_active = false WHERE id = :id"), {"id": alice.id})
    db.commit()

    response = refresh(client, token)

    assert response.status_code == 401
    assert stored_tokens(db)[0]["used_at"] is None


def test_the_refresh_token_of_a_deleted_user_is_refused(client, alice, db):
    token = log_in(client)["refresh_token"]
    db.execute(text("DELETE FROM users WHERE id = :id"), {"id": alice.id})
    db.commit()

    assert refresh(client, token).status_code == 401


def test_a_password_change_ends_the_refresh_tokens_issued_before(client, alice, admin):
    token = log_in(client)["refresh_token"]

    changed = client.patch(
        f"/api/v1/users/{alice.id}", json={"password": "a-new-password-9"}, headers=admin
    )

    assert changed.status_code == 200
    assert refresh(client, token).status_code == 401


def test_an_expired_refresh_token_is_refused(client, alice, db):
    token = log_in(client)["refresh_token"]
    db.execute(text("UPDATE refresh_tokens SET expires_at = now() - interval '1 second'"))
    db.commit()

    assert refresh(client, token).status_code == 401


@pytest.mark.parametrize(
    "body",
    [{}, {"refresh_token": ""}, {"refresh_token": 5}, {"refresh_token": "x" * 201}],
    ids=["missing", "empty", "not a string", "too long"],
)
def test_a_malformed_refresh_request_is_a_422(client, body):
    assert client.post(REFRESH, json=body).status_code == 422


def test_an_unknown_refresh_token_is_a_401(client):
    response = refresh(client, "never-issued")

    assert response.status_code == 401
    assert response.json()["detail"] == "invalid, expired or reused refresh token"
