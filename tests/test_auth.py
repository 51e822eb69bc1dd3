"""Sign-up, login and tokens (issue 3): who may get in, and how strictly tokens are checked."""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from jose import jwt
from sqlmodel import select

from inventory.config import get_settings
from inventory.models import Role, User
from tests.conftest import PASSWORD, auth_headers
from tests.factories import LOGIN, bearer, log_in

REGISTER = "/api/v1/auth/register"
ME = "/api/v1/auth/me"
USER_FIELDS = {"id", "username", "role", "is_active", "created_at"}


def usernames(db) -> list[str]:
    """Every username in the database, in id order."""
    db.expire_all()
    return list(db.exec(select(User.username).order_by(User.id)).all())


def signed_token(**claims) -> str:
    """A token signed with the app's own key, with `claims` over the usual ones."""
    now = datetime.now(UTC)
    body = {"sub": "1", "iat": now, "exp": now + timedelta(minutes=5), **claims}
    return jwt.encode(body, get_settings().secret_key, algorithm="HS256")


def _b64(part: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def assert_unauthorized(response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["detail"]


# --- registration ----------------------------------------------------------------------------


def test_open_sign_up_creates_a_viewer(client, db):
    response = client.post(REGISTER, json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == USER_FIELDS
    assert body["username"] == "alice"
    assert body["role"] == "viewer"
    assert body["is_active"] is True
    assert body["created_at"]
    assert response.headers["Location"].endswith(f"/api/v1/users/{body['id']}")
    stored = db.get(User, body["id"])
    assert stored.role == Role.viewer
    assert stored.password_hash.startswith("$2b$")


def test_sign_up_never_returns_the_password_or_its_hash(client, db):
    response = client.post(REGISTER, json={"username": "alice", "password": PASSWORD})
    stored_hash = db.get(User, response.json()["id"]).password_hash
    assert "password" not in response.text
    assert PASSWORD not in response.text
    assert stored_hash not in response.text


def test_a_new_user_can_log_in_at_once(client):
    client.post(REGISTER, json={"username": "alice", "password": PASSWORD})
    assert log_in(client, "alice").status_code == 200


@pytest.mark.parametrize("role", ["admin", "manager", "viewer"])
def test_an_anonymous_caller_cannot_choose_a_role(client, db, role):
    response = client.post(
        REGISTER, json={"username": "mallory", "password": PASSWORD, "role": role}
    )
    assert response.status_code == 403
    assert "admin" in response.json()["detail"]
    assert usernames(db) == []


@pytest.mark.parametrize("caller", ["manager", "viewer"])
def test_only_an_admin_may_choose_a_role(client, db, request, caller):
    headers = request.getfixturevalue(caller)
    response = client.post(
        REGISTER,
        json={"username": "mallory", "password": PASSWORD, "role": "admin"},
        headers=headers,
    )
    assert response.status_code == 403
    assert usernames(db) == [caller]


def test_an_admin_may_register_a_user_with_a_role(client, db, admin):
    response = client.post(
        REGISTER, json={"username": "bob", "password": PASSWORD, "role": "manager"}, headers=admin
    )
    assert response.status_code == 201, response.text
    assert response.json()["role"] == "manager"
    assert db.get(User, response.json()["id"]).role == Role.manager


def test_a_bad_token_on_sign_up_is_refused_not_ignored(client, db):
    response = client.post(
        REGISTER, json={"username": "alice", "password": PASSWORD}, headers=bearer("garbage")
    )
    assert_unauthorized(response)
    assert usernames(db) == []


def test_a_taken_username_ignoring_case_is_a_conflict(client, db, make_user):
    make_user(username="alice")
    response = client.post(REGISTER, json={"username": "ALICE", "password": PASSWORD})
    assert response.status_code == 409
    assert "taken" in response.json()["detail"]
    assert usernames(db) == ["alice"]


@pytest.mark.parametrize(
    "username",
    [
        "ab",
        "a" * 51,
        "al ice",
        "alice@example.com",
        "alicé",
        "аlice",  # Cyrillic а
        "alice\n",
        "",
        "al/ice",
    ],
)
def test_a_username_outside_the_rules_is_refused(client, db, username):
    response = client.post(REGISTER, json={"username": username, "password": PASSWORD})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("body.username:")
    assert usernames(db) == []


@pytest.mark.parametrize("username", ["abc", "a" * 50, "Al.ice_B-2"])
def test_a_username_inside_the_rules_is_accepted(client, username):
    response = client.post(REGISTER, json={"username": username, "password": PASSWORD})
    assert response.status_code == 201, response.text
    assert response.json()["username"] == username


def test_a_password_under_8_characters_is_refused(client, db):
    response = client.post(REGISTER, json={"username": "alice", "password": "1234567"})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("body.password:")
    assert usernames(db) == []


def test_a_password_of_8_characters_is_accepted(client):
    response = client.post(REGISTER, json={"username": "alice", "password": "12345678"})
    assert response.status_code == 201


@pytest.mark.parametrize("password", ["é" * 37, "a" * 73])
def test_a_password_over_72_bytes_is_refused_not_truncated(client, db, password):
    response = client.post(REGISTER, json={"username": "alice", "password": password})
    assert response.status_code == 422
    assert "72 bytes" in response.json()["detail"]
    assert usernames(db) == []


@pytest.mark.parametrize("password", ["é" * 36, "a" * 72])
def test_a_password_of_exactly_72_bytes_is_accepted_and_logs_in(client, password):
    response = client.post(REGISTER, json={"username": "alice", "password": password})
    assert response.status_code == 201, response.text
    assert log_in(client, "alice", password).status_code == 200


def test_a_72_byte_password_does_not_accept_a_longer_one(client):
    client.post(REGISTER, json={"username": "alice", "password": "a" * 72})
    assert log_in(client, "alice", "a" * 72 + "b").status_code == 401


def test_sign_up_without_a_password_is_refused(client, db):
    response = client.post(REGISTER, json={"username": "alice"})
    assert response.status_code == 422
    assert usernames(db) == []


# --- login -----------------------------------------------------------------------------------


def test_login_with_the_form_returns_a_bearer_token(client, make_user):
    make_user(username="alice")
    response = log_in(client, "alice")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == get_settings().access_token_expire_minutes * 60
    assert client.get(ME, headers=bearer(body["access_token"])).json()["username"] == "alice"


def test_login_with_a_json_body_says_that_it_takes_a_form(client, make_user):
    make_user(username="alice")
    response = client.post(LOGIN, json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 422
    body = response.json()
    assert "application/x-www-form-urlencoded" in body["detail"]
    assert "username and password" in body["detail"]
    assert body["errors"][0]["loc"] == ["body"]
    assert "access_token" not in response.text


def test_a_wrong_password_and_an_unknown_user_get_the_same_401(client, make_user):
    make_user(username="alice")
    wrong_password = log_in(client, "alice", "wrong-password")
    unknown_user = log_in(client, "nobody", "wrong-password")
    for response in (wrong_password, unknown_user):
        assert_unauthorized(response)
    assert wrong_password.json()["detail"] == unknown_user.json()["detail"]
    assert set(wrong_password.json()) == set(unknown_user.json())


def test_a_disabled_user_cannot_log_in(client, make_user):
    make_user(username="alice", is_active=False)
    assert_unauthorized(log_in(client, "alice"))


def test_login_finds_the_username_ignoring_case(client, make_user):
    make_user(username="alice")
    assert log_in(client, "ALICE").status_code == 200


def test_the_password_is_case_sensitive(client, make_user):
    make_user(username="alice")
    assert log_in(client, "alice", PASSWORD.upper()).status_code == 401


# --- tokens ----------------------------------------------------------------------------------


def test_the_token_is_hs256_with_sub_iat_and_exp(client, make_user):
    user = make_user(username="alice")
    token = log_in(client, "alice").json()["access_token"]
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(token, get_settings().secret_key, algorithms=["HS256"])
    assert claims["sub"] == str(user.id)
    assert claims["exp"] - claims["iat"] == get_settings().access_token_expire_minutes * 60
    assert abs(claims["iat"] - datetime.now(UTC).timestamp()) < 60


def test_me_returns_the_caller_without_a_password(client, viewer_user, viewer):
    response = client.get(ME, headers=viewer)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == USER_FIELDS
    assert body["id"] == viewer_user.id
    assert body["role"] == "viewer"


def test_me_without_a_token_is_401(client):
    assert_unauthorized(client.get(ME))


def test_me_with_another_auth_scheme_is_401(client):
    assert_unauthorized(client.get(ME, headers={"Authorization": "Basic YWxpY2U6c2VjcmV0"}))


def _forged_tokens(user_id: int) -> dict[str, str]:
    now = datetime.now(UTC)
    claims = {"sub": str(user_id), "iat": now, "exp": now + timedelta(minutes=5)}
    timestamps = {
        "sub": str(user_id),
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + 300,
    }
    return {
        "garbage": "garbage",
        "empty": "",
        "three garbage parts": "a.b.c",
        "other key": jwt.encode(claims, "another-key-" + "x" * 40, algorithm="HS256"),
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(timestamps)}.",
        "HS512 with the right key": jwt.encode(
            claims, get_settings().secret_key, algorithm="HS512"
        ),
        "expired": signed_token(
            sub=str(user_id), iat=now - timedelta(hours=2), exp=now - timedelta(hours=1)
        ),
        "no exp": jwt.encode(
            {"sub": str(user_id), "iat": now}, get_settings().secret_key, algorithm="HS256"
        ),
        "no sub": jwt.encode(
            {"iat": now, "exp": now + timedelta(minutes=5)},
            get_settings().secret_key,
            algorithm="HS256",
        ),
        "sub not a number": signed_token(sub="alice"),
        "sub an int not a string": signed_token(sub=user_id),
        "sub out of range": signed_token(sub="99999999999999999999"),
        "sub of no user": signed_token(sub="999999"),
        "sub zero": signed_token(sub="0"),
        "tampered payload": _tampered(signed_token(sub=str(user_id)), user_id),
    }


def _tampered(token: str, user_id: int) -> str:
    header, _, signature = token.split(".")
    now = int(datetime.now(UTC).timestamp())
    payload = _b64({"sub": str(user_id + 1), "iat": now, "exp": now + 300})
    return f"{header}.{payload}.{signature}"


FORGERIES = list(_forged_tokens(1))


@pytest.mark.parametrize("kind", FORGERIES)
def test_a_bad_token_is_401_never_500(client, admin_user, make_user, kind):
    make_user(username="other")
    token = _forged_tokens(admin_user.id)[kind]
    assert_unauthorized(client.get(ME, headers=bearer(token)))


def test_a_token_of_a_deleted_user_is_401(client, db, make_user):
    user = make_user(username="alice")
    headers = auth_headers(user)
    assert client.get(ME, headers=headers).status_code == 200
    db.delete(db.get(User, user.id))
    db.commit()
    assert_unauthorized(client.get(ME, headers=headers))


def test_a_token_of_a_disabled_user_is_401(client, db, make_user):
    user = make_user(username="alice")
    headers = auth_headers(user)
    stored = db.get(User, user.id)
    stored.is_active = False
    db.commit()
    assert_unauthorized(client.get(ME, headers=headers))


# --- mass assignment (issue 8 item 3) --------------------------------------------------------


@pytest.mark.parametrize(
    "field, value",
    [
        ("id", 4242),
        ("password_hash", "$2b$04$" + "x" * 53),
        ("created_at", "2000-01-01T00:00:00Z"),
        ("is_active", False),
        ("quantity_after", 1),
        ("version", 7),
    ],
)
def test_sign_up_refuses_fields_the_server_owns(client, db, field, value):
    body = {"username": "mallory", "password": PASSWORD, field: value}
    response = client.post(REGISTER, json=body)
    assert response.status_code == 422
    assert response.json()["detail"] == f"body.{field}: Extra inputs are not permitted"
    assert usernames(db) == []


# --- the password never leaves the server (issue 3 point 9) -----------------------------------


def test_the_openapi_schema_has_no_password_hash(client):
    schema = client.get("/openapi.json").text
    assert "password_hash" not in schema
    assert "UserRead" in schema


def test_sign_up_and_login_log_neither_the_password_nor_its_hash(client, db, caplog):
    caplog.set_level("DEBUG")
    response = client.post(REGISTER, json={"username": "alice", "password": PASSWORD})
    log_in(client, "alice")
    log_in(client, "alice", "wrong-password-77")
    stored_hash = db.get(User, response.json()["id"]).password_hash
    logged = caplog.text
    assert "POST /api/v1/auth/login" in logged
    for secret in (PASSWORD, "wrong-password-77", stored_hash, "$2b$"):
        assert secret not in logged


@pytest.fixture
def closed_sign_up(monkeypatch):
    """OPEN_SIGNUP=false for one test."""
    monkeypatch.setenv("OPEN_SIGNUP", "false")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_with_sign_up_closed_nobody_but_an_admin_may_register(
    client, db, viewer, viewer_user, closed_sign_up
):
    for headers in ({}, viewer):
        response = client.post(
            REGISTER, json={"username": "eve", "password": PASSWORD}, headers=headers
        )
        assert response.status_code == 403
        assert "sign-up is closed" in response.json()["detail"]
    assert usernames(db) == [viewer_user.username]


def test_with_sign_up_closed_an_admin_still_registers_users(client, db, admin, closed_sign_up):
    response = client.post(REGISTER, json={"username": "bob", "password": PASSWORD}, headers=admin)
    assert response.status_code == 201, response.text
    assert response.json()["role"] == "viewer"
    assert "bob" in usernames(db)
