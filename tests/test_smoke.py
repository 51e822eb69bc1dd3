"""The first request a user makes works end to end."""

from tests.factories import bearer


def test_health_answers_without_a_token(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_live_server_serves_a_logged_in_user(live_server, make_user):
    import httpx

    make_user(username="alice", password="correct-horse-42")
    login = httpx.post(
        f"{live_server}/api/v1/auth/login",
        data={"username": "alice", "password": "correct-horse-42"},
    )
    assert login.status_code == 200
    token = login.json()["access_token"]
    me = httpx.get(f"{live_server}/api/v1/auth/me", headers=bearer(token))
    assert me.json()["username"] == "alice"
