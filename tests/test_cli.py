"""The command line (`python -m inventory create-admin|migrate|serve`), as an operator runs it."""

import os
import subprocess
import sys

import bcrypt
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text

from tests.conftest import ROOT


def inventory_command(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m inventory ARGS` against the test database (plus `env`), as a new process."""
    return subprocess.run(
        [sys.executable, "-m", "inventory", *args],
        cwd=ROOT,
        env={**os.environ, **env},
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
