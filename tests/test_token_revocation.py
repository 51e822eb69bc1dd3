"""A token ends exactly when its user's password or active flag changes (issue 12 finding 6),
even in the same second it was issued; re-enabling a user does not revive it. A role change
applies on the next request of the tokens already issued, which keep working."""

from datetime import UTC, datetime, timedelta

from jose import jwt
from sqlalchemy import text

from inventory.config import get_settings
from inventory.models import Role
from tests.conftest import PASSWORD, auth_headers

ME = "/api/v1/auth/me"
USERS = "/api/v1/users"


def log_in(client, username: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def change(client, admin, user_id: int, **fields) -> None:
    response = client.patch(f"{USERS}/{user_id}", json=fields, headers=admin)
    assert response.status_code == 200, response.text


def test_a_password_change_ends_a_token_issued_the_same_moment(client, admin, make_user):
    user = make_user(Role.manager, "carol")
    # Issued and revoked within a few milliseconds: the same second, almost always.
    for _ in range(3):
        token = log_in(client, "carol")
        change(client, admin, user.id, password="a-brand-new-secret")
        assert client.get(ME, headers=token).status_code == 401
        change(client, admin, user.id, password=PASSWORD)


def test_a_login_after_a_password_change_gets_a_working_token(client, admin, make_user):
    user = make_user(Role.manager, "carol")
    change(client, admin, user.id, password="a-brand-new-secret")
    fresh = log_in(client, "carol", "a-brand-new-secret")
    assert client.get(ME, headers=fresh).status_code == 200


def test_re_enabling_a_user_does_not_revive_the_tokens_issued_before(client, admin, make_user):
    user = make_user(Role.manager, "carol")
    token = log_in(client, "carol")
    change(client, admin, user.id, is_active=False)
    assert client.get(ME, headers=token).status_code == 401
    change(client, admin, user.id, is_active=True)
    assert client.get(ME, headers=token).status_code == 401
    assert client.get(ME, headers=log_in(client, "carol")).status_code == 200


def test_sending_the_active_flag_a_user_already_has_keeps_their_tokens(client, admin, make_user):
    user = make_user(Role.manager, "carol")
    token = log_in(client, "carol")
    change(client, admin, user.id, is_active=True)
    assert client.get(ME, headers=token).status_code == 200


def test_a_role_change_applies_to_tokens_already_issued_on_their_next_request(
    client, admin, make_user, product
):
    user = make_user(Role.manager, "carol")
    token = log_in(client, "carol")
    rename = {"name": "Renamed"}
    url = f"/api/v1/products/{product['id']}"
    assert client.patch(url, json=rename, headers=token).status_code == 200
    change(client, admin, user.id, role="viewer")
    assert client.patch(url, json={"name": "Again"}, headers=token).status_code == 403
    assert client.get(ME, headers=token).json()["role"] == "viewer"


def test_the_token_version_moves_in_the_database_only_on_password_or_active_changes(
    client, admin, make_user, db
):
    user = make_user(Role.manager, "carol")

    def version() -> int:
        return db.execute(
            text("SELECT token_version FROM users WHERE id = :id"), {"id": user.id}
        ).scalar_one()

    start = version()
    change(client, admin, user.id, role="viewer")
    assert version() == start
    change(client, admin, user.id, password="a-brand-new-secret")
    assert version() == start + 1
    change(client, admin, user.id, is_active=False)
    assert version() == start + 2


def test_a_token_without_a_version_is_refused(client, make_user):
    user = make_user(Role.manager, "carol")
    now = datetime.now(UTC)
    claims = {"sub": str(user.id), "iat": now, "exp": now + timedelta(minutes=5)}
    token = jwt.encode(claims, get_settings().secret_key, algorithm="HS256")
    assert client.get(ME, headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert client.get(ME, headers=auth_headers(user)).status_code == 200


def test_re_enabling_a_user_does_not_revive_their_refresh_tokens(client, admin, make_user):
    user = make_user(Role.manager, "carol")
    login = client.post("/api/v1/auth/login", data={"username": "carol", "password": PASSWORD})
    refresh_token = login.json()["refresh_token"]
    change(client, admin, user.id, is_active=False)
    change(client, admin, user.id, is_active=True)
    response = client.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})
    assert response.status_code == 401
    assert "access_token" not in response.text
