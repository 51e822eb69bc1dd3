"""Limits a real `serve` process holds before the app sees a request (issue 12 finding 4):
headers over 32 KiB in total get 431 without the worker buffering them, and a request whose
headers or body arrive too slowly is cut off. Raw sockets, so nothing tidies the bytes."""

import socket
import time
from collections.abc import Iterator

import psutil
import pytest

from tests.conftest import LiveServer, start_server, stop_server

pytestmark = pytest.mark.live

READ_TIMEOUT = 1  # REQUEST_READ_TIMEOUT_SECONDS of the server under test
KIB = 1024


@pytest.fixture(scope="module")
def server(migrated_database, tmp_path_factory) -> Iterator[LiveServer]:
    log_path = tmp_path_factory.mktemp("limits") / "server.log"
    started = start_server(
        log_path, "--workers", "1", REQUEST_READ_TIMEOUT_SECONDS=str(READ_TIMEOUT)
    )
    yield started
    stop_server(started)


def _connect(server: LiveServer) -> socket.socket:
    host, port = server.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)), timeout=10)
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


def _answer(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or 10 s pass)."""
    received = b""
    try:
        while chunk := connection.recv(65536):
            received += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return received


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer else 0


def _request_with_padding(padding: int) -> bytes:
    head = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    lines = b""
    while padding > 0:
        size = min(padding, 8 * KIB)
        lines += b"X-Pad: " + b"p" * size + b"\r\n"
        padding -= size
    return head + lines + b"\r\n"


def test_headers_under_32_kib_in_total_are_served(server):
    with _connect(server) as connection:
        connection.sendall(_request_with_padding(30 * KIB))
        assert _status(_answer(connection)) == 200


def test_headers_over_32_kib_in_total_get_431(server):
    with _connect(server) as connection:
        connection.sendall(_request_with_padding(33 * KIB))
        answer = _answer(connection)
    assert _status(answer) == 431
    assert b"request headers are larger than 32768 bytes" in answer


def _memory_of(server: LiveServer) -> int:
    process = psutil.Process(server.process.pid)
    return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)])


def test_a_64_mib_header_is_refused_without_the_worker_holding_it(server):
    before = _memory_of(server)
    sent = 0
    with _connect(server) as connection:
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
        chunk = b"b" * (1024 * KIB)
        try:
            while sent < 64 * 1024 * KIB:
                connection.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = _answer(connection)
    assert sent < 64 * 1024 * KIB, "the server read the whole header"
    assert _status(answer) in (431, 0)  # a reset may overtake the answer
    assert _memory_of(server) - before < 16 * 1024 * KIB
    with _connect(server) as connection:
        connection.sendall(_request_with_padding(0))
        assert _status(_answer(connection)) == 200


def _seconds_until_closed(connection: socket.socket) -> tuple[float, bytes]:
    started = time.monotonic()
    answer = _answer(connection)
    return time.monotonic() - started, answer


def test_a_connection_that_sends_nothing_is_closed(server):
    with _connect(server) as connection:
        seconds, answer = _seconds_until_closed(connection)
    assert seconds < READ_TIMEOUT + 2
    assert _status(answer) in (408, 0)


def test_headers_that_arrive_too_slowly_get_408(server):
    with _connect(server) as connection:
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        seconds, answer = _seconds_until_closed(connection)
    assert seconds < READ_TIMEOUT + 2
    assert _status(answer) == 408
    assert b"the request took too long to arrive" in answer


def test_a_body_that_arrives_too_slowly_gets_408(server):
    head = (
        b"POST /api/v1/auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    )
    with _connect(server) as connection:
        connection.sendall(head + b'{"username": ')
        seconds, answer = _seconds_until_closed(connection)
    assert seconds < READ_TIMEOUT + 2
    assert _status(answer) == 408


def test_a_body_dripping_in_after_the_answer_does_not_hold_the_connection(server):
    head = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n"
    with _connect(server) as connection:
        connection.sendall(head)
        started = time.monotonic()
        try:
            while time.monotonic() - started < READ_TIMEOUT + 3:
                connection.sendall(b"x")
                time.sleep(0.2)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert time.monotonic() - started < READ_TIMEOUT + 2
