"""Credentials from outside never reach a 500 (issue 12 finding 1): a NUL byte in a password is a
422 where a password is chosen and a counted 401 at login; a bearer token of any shape that is not
a valid token is a 401 with `WWW-Authenticate: Bearer`."""

import base64

import pytest
from sqlmodel import select

from inventory.models import LoginFailure, User
from tests.conftest import PASSWORD

REGISTER = "/api/v1/auth/register"
LOGIN = "/api/v1/auth/login"
ME = "/api/v1/auth/me"
NUL_PASSWORD = "ab\u0000cdefgh"


def _users(db) -> list[tuple[str, str]]:
    db.expire_all()
    return list(db.exec(select(User.username, User.password_hash).order_by(User.id)).all())


def _assert_nul_refused(response) -> None:
    assert response.status_code == 422, response.text
    assert "must not contain NUL characters" in response.json()["detail"]


def test_sign_up_with_a_nul_in_the_password_is_422_and_creates_nobody(client, db):
    response = client.post(REGISTER, json={"username": "alice", "password": NUL_PASSWORD})
    _assert_nul_refused(response)
    assert _users(db) == []


def test_an_admin_creating_a_user_with_a_nul_in_the_password_gets_422(client, db, admin):
    before = _users(db)
    response = client.post(
        "/api/v1/users",
        json={"username": "bob", "password": NUL_PASSWORD, "role": "viewer"},
        headers=admin,
    )
    _assert_nul_refused(response)
    assert _users(db) == before


def test_an_admin_changing_a_password_to_one_with_a_nul_gets_422(client, db, admin, make_user):
    target = make_user(username="bob")
    before = _users(db)
    response = client.patch(
        f"/api/v1/users/{target.id}", json={"password": NUL_PASSWORD}, headers=admin
    )
    _assert_nul_refused(response)
    assert _users(db) == before


def test_login_with_a_nul_in_the_password_is_a_401_counted_as_a_failure(client, db, make_user):
    make_user(username="alice")
    response = client.post(
        LOGIN,
        content=b"username=alice&password=ab%00cdefgh",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == "Bearer"
    db.expire_all()
    assert [f.username for f in db.exec(select(LoginFailure)).all()] == ["alice"]
    assert client.post(LOGIN, data={"username": "alice", "password": PASSWORD}).status_code == 200


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"{}" + b"}" * depth


MALFORMED_TOKENS = {
    "header nested 5,000 deep": _b64(_nested(5_000)) + ".e30.x",
    "payload nested 5,000 deep": _b64(b'{"alg":"HS256"}') + "." + _b64(_nested(5_000)) + ".x",
    "header nested 300 deep": _b64(_nested(300)) + ".e30.x",
    "header a JSON list": _b64(b"[1,2]") + ".e30.x",
    "header a JSON string": _b64(b'"x"') + ".e30.x",
    "alg a list": _b64(b'{"alg":["HS256"]}') + ".e30.x",
    "header not UTF-8": _b64(b"\xff\xfe") + ".e30.x",
    "payload a list": _b64(b'{"alg":"HS256"}') + "." + _b64(b"[1]") + ".x",
    "one part": "abc",
    "only dots": "....",
    "four parts": "a.b.c.d",
    "not base64": "!!!.$$$.%%%",
    "100 kB of letters": "a" * 100_000,
    "100 kB in three parts": "a" * 40_000 + "." + "b" * 40_000 + ".c",
    "latin-1 bytes": "caf\u00e9.\u00e9.\u00e9",
}


@pytest.mark.parametrize("kind", list(MALFORMED_TOKENS))
def test_a_malformed_bearer_token_is_401_never_500(client, admin_user, kind):
    token = MALFORMED_TOKENS[kind]
    response = client.get(ME, headers={"Authorization": f"Bearer {token}".encode("latin-1")})
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["detail"] == "invalid or expired token"
