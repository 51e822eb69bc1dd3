"""No secret ever reaches a log line. Runs last (by name) so it reads the whole suite's logs."""

import re

import pytest

from inventory.config import get_settings
from tests.conftest import PASSWORD, SESSION_LOG
from tests.factories import bearer, log_in

JWT = re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}")
BCRYPT_HASH = re.compile(r"\$2[aby]\$\d\d\$[./A-Za-z0-9]{20,}")


@pytest.fixture
def exercised_secrets(client, admin):
    """Make sure this run logged auth traffic: sign-up, login, a bad login, a token use."""
    client.post("/api/v1/auth/register", json={"username": "logged", "password": PASSWORD})
    token = log_in(client, "logged").json()["access_token"]
    log_in(client, "logged", "wrong-password")
    client.get("/api/v1/auth/me", headers=bearer(token))
    client.get("/api/v1/auth/me", headers=bearer(f"{token}x"))
    client.patch("/api/v1/users/1", json={"password": "another-secret-9"}, headers=admin)
    return token


def _all_log_text(live_server) -> str:
    return "\n".join(SESSION_LOG.lines) + "\n" + live_server.log.read_text()


def test_no_token_password_hash_or_secret_key_is_ever_logged(exercised_secrets, live_server):
    logs = _all_log_text(live_server)
    assert len(SESSION_LOG.lines) > 10, "the session log capture must be working"
    assert exercised_secrets not in logs
    assert not JWT.search(logs)
    assert not BCRYPT_HASH.search(logs)
    assert get_settings().secret_key not in logs
    assert PASSWORD not in logs
    assert "another-secret-9" not in logs
    assert "wrong-password" not in logs
