"""A log line says what happened and nothing can forge another (issue 12 finding 8): control
characters in logged values (a path, a header) come out escaped, one request one line."""

import time
import uuid

import httpx
import pytest

pytestmark = pytest.mark.live

FORGED = "2026-11-30 08:00:00,000 INFO    pid=1 inventory.requests [-] GET /admin 200 1.00ms"


def _lines_of(live_server, request_id: str) -> list[str]:
    """The server's log lines from the request with this id, once it has logged it."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = live_server.log.read_text().splitlines()
        if any(request_id in line for line in lines):
            return lines
        time.sleep(0.05)
    raise AssertionError(f"request {request_id} was never logged")


@pytest.mark.parametrize(
    "separator, escaped",
    [("%0a", "\\n"), ("%0d%0a", "\\r\\n"), ("%0d", "\\r"), ("%1b[2K%0d", "\\x1b[2K\\r")],
    ids=["LF", "CRLF", "CR", "terminal escape"],
)
def test_a_control_character_in_a_path_cannot_forge_a_log_line(live_server, separator, escaped):
    request_id = uuid.uuid4().hex
    response = httpx.get(
        f"{live_server}/api/v1/no-such-thing{separator}{FORGED}",
        headers={"X-Request-ID": request_id},
    )
    assert response.status_code == 404
    lines = _lines_of(live_server, request_id)
    assert not any(line.startswith(FORGED[:19]) for line in lines)
    (logged,) = [line for line in lines if request_id in line]
    assert f"/api/v1/no-such-thing{escaped}{FORGED}" in logged
    assert "\x1b" not in "\n".join(lines)
