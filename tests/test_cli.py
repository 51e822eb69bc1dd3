"""The command line (`python -m inventory create-admin|migrate|serve`), as an operator runs it."""

import os
import signal
import socket
import subprocess
import sys
import time

import bcrypt
import httpx
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text

from inventory.config import DEFAULT_SECRET_KEY
from inventory.models import Role
from tests.conftest import ROOT, _free_port, start_server, stop_server


def inventory_command(
    *args: str, stdin: int | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run `python -m inventory ARGS` against the test database (plus `env`), as a new process."""
    return subprocess.run(
        [sys.executable, "-m", "inventory", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def users(db) -> list[tuple[str, str, str]]:
    return db.execute(text("SELECT username, role, password_hash FROM users ORDER BY id")).all()


def test_create_admin_creates_an_admin_with_a_bcrypt_hash(db):
    result = inventory_command("create-admin", "--username", "root", "--password", "s3cret-pass")

    assert result.returncode == 0, result.stderr
    assert "root" in result.stdout
    [(username, role, password_hash)] = users(db)
    assert (username, role) == ("root", "admin")
    assert password_hash != "s3cret-pass"
    assert password_hash.startswith("$2b$")
    assert bcrypt.checkpw(b"s3cret-pass", password_hash.encode())


def test_create_admin_refuses_a_name_that_exists_and_creates_nothing(db, make_user):
    make_user(username="root")

    result = inventory_command("create-admin", "--username", "ROOT", "--password", "s3cret-pass")

    assert result.returncode != 0
    assert "exists already" in result.stderr
    assert [(name, role) for name, role, _ in users(db)] == [("root", "viewer")]


def test_create_admin_twice_for_one_name_fails_the_second_time(db):
    first = inventory_command("create-admin", "--username", "root", "--password", "s3cret-pass")
    second = inventory_command("create-admin", "--username", "root", "--password", "other-pass")

    assert first.returncode == 0, first.stderr
    assert second.returncode != 0
    assert "'root' exists already" in second.stderr
    [(_, _, password_hash)] = users(db)
    assert bcrypt.checkpw(b"s3cret-pass", password_hash.encode())


def test_create_admin_refuses_a_short_password_and_creates_nothing(db):
    result = inventory_command("create-admin", "--username", "root", "--password", "short")

    assert result.returncode != 0
    assert "password" in result.stderr
    assert users(db) == []


def test_create_admin_refuses_a_bad_username_and_creates_nothing(db):
    result = inventory_command(
        "create-admin", "--username", "no spaces", "--password", "long-enough"
    )

    assert result.returncode != 0
    assert "username" in result.stderr
    assert users(db) == []


def test_migrate_succeeds_when_the_database_is_already_at_head(db):
    result = inventory_command("migrate")

    assert result.returncode == 0, result.stderr
    head = ScriptDirectory.from_config(Config(str(ROOT / "alembic.ini"))).get_current_head()
    assert db.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == head


def test_serve_refuses_to_start_in_production_without_a_secret_key():
    env = {key: value for key, value in os.environ.items() if key != "SECRET_KEY"}
    env.update({"ENVIRONMENT": "production", "BCRYPT_ROUNDS": "12"})
    result = subprocess.run(
        [sys.executable, "-m", "inventory", "serve", "--port", "0", "--workers", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_serve_refuses_a_first_admin_that_is_not_a_valid_user(db):
    result = inventory_command(
        "serve",
        "--port",
        "1",
        FIRST_ADMIN_USERNAME="no spaces",
        FIRST_ADMIN_PASSWORD="long-enough",
    )
    assert result.returncode != 0
    assert "FIRST_ADMIN_USERNAME" in result.stderr
    assert users(db) == []


def _unreachable_database() -> dict[str, str]:
    """A DATABASE_URL whose port nothing listens on."""
    return {"DATABASE_URL": f"postgresql://inventory:hunter22@127.0.0.1:{_free_port()}/inventory"}


DATABASE_COMMANDS = [
    ("run", "--port", "0"),
    ("migrate",),
    ("serve", "--port", "0", "--workers", "1"),
    ("create-admin", "--username", "root", "--password", "s3cret-pass"),
]


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=lambda command: command[0])
def test_an_unreachable_database_is_one_line_naming_the_setting_host_and_cause(command):
    env = _unreachable_database()
    port = env["DATABASE_URL"].rsplit(":", 1)[1].split("/")[0]

    result = inventory_command(*command, **env)

    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert "DATABASE_URL" in line
    assert f"127.0.0.1:{port}" in line
    assert "Connection refused" in line
    assert "hunter22" not in line
    assert "Traceback" not in result.stderr


def test_an_unreachable_database_shows_the_traceback_with_log_level_debug():
    result = inventory_command("migrate", LOG_LEVEL="DEBUG", **_unreachable_database())

    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: cannot connect")


def test_create_admin_with_standard_input_closed_says_what_to_pass_instead(db):
    result = inventory_command("create-admin", stdin=subprocess.DEVNULL)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "--username and --password" in result.stderr.strip().splitlines()[-1]
    assert users(db) == []


@pytest.mark.parametrize("command", ["run", "serve"])
def test_a_busy_port_is_reported_first_and_alone(command, db):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]

        result = inventory_command(command, "--port", str(port))

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use; "
        "choose another port (make run PORT=8123, or --port)"
    ]
    assert users(db) == []


def test_run_creates_a_development_admin_and_saves_its_password_for_the_walkthrough(tmp_path, db):
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "inventory", "run", "--port", str(port)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        _wait_until_ready(f"http://127.0.0.1:{port}", process)
        saved = (tmp_path / ".dev-admin-password").read_text().strip()
        login = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/auth/login",
            data={"username": "admin", "password": saved},
        )
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        stdout, _ = process.communicate(timeout=30)

    assert f"username 'admin', password '{saved}'" in stdout
    assert stdout.index("Created a development admin") < stdout.index("Serving on")
    assert (tmp_path / ".dev-admin-password").stat().st_mode & 0o777 == 0o600
    assert login.status_code == 200, login.text
    assert [(name, role) for name, role, _ in users(db)] == [("admin", "admin")]


def _wait_until_ready(base_url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the server did not become ready")


def test_serve_says_when_the_configured_first_admin_exists_and_was_left_unchanged(
    tmp_path, make_user
):
    make_user(Role.admin, username="boss", password="the-real-password")

    server = start_server(
        tmp_path / "server.log",
        "--workers",
        "1",
        FIRST_ADMIN_USERNAME="boss",
        FIRST_ADMIN_PASSWORD="another-password",
    )
    stop_server(server)

    log = server.log.read_text()
    assert "FIRST_ADMIN_USERNAME 'boss' exists already and was left unchanged" in log


def _serve_with_secret_key(secret_key: str | None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "SECRET_KEY"}
    env["ENVIRONMENT"] = "development"
    if secret_key is not None:
        env["SECRET_KEY"] = secret_key
    return subprocess.run(
        [sys.executable, "-m", "inventory", "serve", "--port", "0", "--workers", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize(
    "secret_key",
    [None, "", DEFAULT_SECRET_KEY, "short-but-not-the-default"],
    ids=["unset", "empty", "the development key", "under 32 characters"],
)
def test_serve_never_starts_with_the_development_or_a_short_signing_key(db, secret_key):
    result = _serve_with_secret_key(secret_key)

    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
    assert "secrets.token_urlsafe(48)" in result.stderr
    assert db.execute(text("SELECT count(*) FROM users")).scalar_one() == 0
