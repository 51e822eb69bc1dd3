"""Test set-up: a real PostgreSQL for the whole session, clean tables for every test.

The database is `TEST_DATABASE_URL` when set (it is wiped: use a throwaway database), else a
throwaway embedded PostgreSQL in a temporary folder, deleted at the end of the session.
"""

import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, event, text
from sqlmodel import Session

ROOT = Path(__file__).resolve().parent.parent


def _test_database_url() -> str:
    if os.environ.get("TEST_DATABASE_URL"):
        return os.environ["TEST_DATABASE_URL"]
    from inventory.db import start_embedded_postgres

    return start_embedded_postgres(
        Path(tempfile.mkdtemp(prefix="inventory-test-")) / "pg", throwaway=True
    )


# The settings are read once per process, so the test environment is fixed before any app import.
os.environ.update(
    {
        "ENV_FILE": os.devnull,  # a developer's .env must not reach the tests
        "ENVIRONMENT": "test",
        "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "BCRYPT_ROUNDS": "4",
        "LOG_LEVEL": "INFO",
        "LOW_STOCK_THRESHOLD": "10",
        "METRICS_ENABLED": "true",
    }
)
for name in ("FIRST_ADMIN_USERNAME", "FIRST_ADMIN_PASSWORD", "CORS_ORIGINS"):
    os.environ.pop(name, None)
os.environ["DATABASE_URL"] = _test_database_url()

from fastapi.testclient import TestClient  # noqa: E402

from inventory.__main__ import migrate  # noqa: E402
from inventory.auth import create_access_token  # noqa: E402
from inventory.db import get_engine  # noqa: E402
from inventory.main import app  # noqa: E402
from inventory.models import Role, User  # noqa: E402
from inventory.users import create_user  # noqa: E402
from tests.factories import PASSWORD, create_category, create_product  # noqa: E402


class _EverythingLogged(logging.Handler):
    """Keeps every log line of the test session, formatted, for the log hygiene test."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


SESSION_LOG = _EverythingLogged()
logging.getLogger().addHandler(SESSION_LOG)

TABLES = (
    "stock_movements, low_stock_alerts, idempotency_keys, product_categories, "
    "reservation_lines, reservations, stock_transfers, stock_levels, locations, "
    "products, categories, login_failures, api_keys, refresh_tokens, users, "
    "webhook_deliveries, webhooks, events, procrastinate_jobs, procrastinate_workers"
)
MAIN_LOCATION = "INSERT INTO locations (name, is_default) VALUES ('Main', true)"


@pytest.fixture(scope="session", autouse=True)
def migrated_database() -> str:
    """The schema, migrated once per session through Alembic (as in production)."""
    os.chdir(ROOT)
    migrate()
    return os.environ["DATABASE_URL"]


@pytest.fixture(autouse=True)
def clean_tables(migrated_database: str) -> None:
    """Every test starts from empty tables, so order never matters."""
    with get_engine().begin() as connection:
        connection.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
        connection.execute(text(MAIN_LOCATION))


@pytest.fixture(scope="session")
def engine(migrated_database: str) -> Engine:
    """The app's own engine."""
    return get_engine()


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A session for looking at (or writing behind) the API's back."""
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture(scope="session")
def client() -> Iterator[TestClient]:
    """The real app, in process, through HTTP."""
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def make_user(db: Session) -> Callable[..., User]:
    """Create a user directly in the database: make_user(Role.manager, username="bob")."""
    counter = iter(range(1, 10_000))

    def make(role: Role = Role.viewer, username: str | None = None, **kwargs) -> User:
        name = username or f"{role.value}{next(counter)}"
        return create_user(db, name, kwargs.pop("password", PASSWORD), role, **kwargs)

    return make


def auth_headers(user: User) -> dict[str, str]:
    """The Authorization header for `user`."""
    token, _ = create_access_token(user)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin_user(make_user: Callable[..., User]) -> User:
    return make_user(Role.admin, "admin")


@pytest.fixture
def admin(admin_user: User) -> dict[str, str]:
    """Headers of an admin."""
    return auth_headers(admin_user)


@pytest.fixture
def manager_user(make_user: Callable[..., User]) -> User:
    return make_user(Role.manager, "manager")


@pytest.fixture
def manager(manager_user: User) -> dict[str, str]:
    """Headers of a manager."""
    return auth_headers(manager_user)


@pytest.fixture
def viewer_user(make_user: Callable[..., User]) -> User:
    return make_user(Role.viewer, "viewer")


@pytest.fixture
def viewer(viewer_user: User) -> dict[str, str]:
    """Headers of a viewer."""
    return auth_headers(viewer_user)


@pytest.fixture
def category(client: TestClient, admin: dict[str, str]) -> dict:
    """A category made through the API."""
    return create_category(client, admin, "Garden", "Outdoor")


@pytest.fixture
def product(client: TestClient, admin: dict[str, str], category: dict) -> dict:
    """A product with 50 in stock (threshold 10) in `category`, made through the API."""
    return create_product(
        client,
        admin,
        "Garden hose",
        description="25 m, brass fittings",
        price="19.99",
        stock_quantity=50,
        low_stock_threshold=10,
        sku="HOSE-25",
        category_ids=[category["id"]],
    )


@pytest.fixture
def count_statements(engine: Engine) -> Callable[[], list[str]]:
    """Start recording the SQL statements the app sends; call the result to read them."""
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield lambda: statements
    event.remove(engine, "before_cursor_execute", record)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveServer(str):
    """The base URL of a running server; `.log` is the file its logs go to, `.process` the
    server process."""

    log: Path
    process: subprocess.Popen


def start_server(log_path: Path, *args: str, startup_seconds: float = 30, **env: str) -> LiveServer:
    """Start `python -m inventory serve` on a free port and wait (up to `startup_seconds`)
    until it is ready."""
    port = _free_port()
    log_file = log_path.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "inventory", "serve", "--port", str(port), *args],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = LiveServer(f"http://127.0.0.1:{port}")
    server.log, server.process = log_path, process
    deadline = time.monotonic() + startup_seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{server}/health", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"server did not start: {log_path.read_text()[-2000:]}")


def stop_server(server: LiveServer) -> None:
    """Stop a server started by start_server (SIGTERM, then SIGKILL after 30 s)."""
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()


@pytest.fixture(scope="session")
def live_server(migrated_database: str, tmp_path_factory) -> Iterator[LiveServer]:
    """A real server process (`python -m inventory serve`, 2 workers) on a free local port,
    sharing the test database."""
    log_path = tmp_path_factory.mktemp("live-server") / "server.log"
    server = start_server(log_path, "--workers", "2", DB_POOL_SIZE="20", DB_MAX_OVERFLOW="10")
    yield server
    stop_server(server)


PARALLEL = 40
"""How many requests the concurrency tests send at once."""


@pytest.fixture
def http(live_server: str) -> Iterator[httpx.Client]:
    """A client of the live server for many threads, with a connection per thread."""
    limits = httpx.Limits(max_connections=PARALLEL, max_keepalive_connections=PARALLEL)
    with httpx.Client(base_url=live_server, timeout=30, limits=limits) as client:
        yield client


@pytest.fixture
def staff(make_user) -> dict[str, str]:
    """Headers of a manager for the live server (same database, same secret)."""
    return auth_headers(make_user(Role.manager, "warehouse"))


def in_parallel(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Run all calls at once, up to PARALLEL at a time; the responses in call order."""
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        return list(pool.map(lambda call: call(), calls))
