"""What a cache may keep (issue 16 point 7): nothing but the docs' static files."""

import pytest

NOT_CACHED = ["/health", "/health/ready", "/openapi.json", "/docs", "/redoc", "/api/v1/auth/me"]


@pytest.mark.parametrize("path", NOT_CACHED)
def test_answers_that_change_say_no_store(client, path):
    response = client.get(path)

    assert response.headers["Cache-Control"] == "no-store"


def test_the_docs_static_files_may_be_cached(client):
    response = client.get("/docs-assets/swagger-ui.css")

    assert response.status_code == 200
    assert "Cache-Control" not in response.headers
