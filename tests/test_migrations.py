"""The migrations build the whole schema on an empty database, match the models, and undo cleanly.

Each test gets a brand-new database on the test server, so it sees what a fresh install sees.
"""

import os
from collections.abc import Iterator

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, make_url, pool, text
from sqlmodel import SQLModel

import inventory.models  # noqa: F401  (registers every table on SQLModel.metadata)
from alembic import command
from inventory.models import compared_with_migrations
from tests.conftest import ROOT

SCRATCH_DATABASE = "inventory_migration_test"
APP_TABLES = {
    "users",
    "products",
    "categories",
    "product_categories",
    "stock_movements",
    "low_stock_alerts",
    "idempotency_keys",
    "login_failures",
    "product_counts",
    "api_keys",
    "refresh_tokens",
    "read_fences",
    "events",
    "webhooks",
    "webhook_deliveries",
}
JOB_QUEUE_TABLES = {
    "procrastinate_jobs",
    "procrastinate_events",
    "procrastinate_periodic_defers",
    "procrastinate_workers",
}


def _admin_connection() -> psycopg.Connection:
    """An autocommit connection to the test server's own database (CREATE DATABASE needs it)."""
    url = make_url(os.environ["DATABASE_URL"]).set(drivername="postgresql")
    return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)


@pytest.fixture
def empty_database() -> Iterator[str]:
    """The URL of a new, empty database, dropped afterwards."""
    with _admin_connection() as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {SCRATCH_DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {SCRATCH_DATABASE}")
    url = make_url(os.environ["DATABASE_URL"]).set(database=SCRATCH_DATABASE)
    yield url.render_as_string(hide_password=False)
    with _admin_connection() as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {SCRATCH_DATABASE} WITH (FORCE)")


@pytest.fixture
def alembic_config(empty_database: str) -> Config:
    """The project's own alembic.ini, pointed at the empty database."""
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = empty_database
    config.attributes["configure_logger"] = False
    return config


@pytest.fixture
def scratch_engine(empty_database: str) -> Iterator[Engine]:
    """An engine on the empty database that keeps no connection open between uses."""
    engine = create_engine(empty_database, poolclass=pool.NullPool)
    yield engine
    engine.dispose()


def _tables(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(inspect(connection).get_table_names())


def _extensions(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.scalars(text("SELECT extname FROM pg_extension")))


def _head(config: Config) -> str:
    return ScriptDirectory.from_config(config).get_current_head()


def _head_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_upgrade_head_on_an_empty_database_creates_every_table_and_the_extensions(
    alembic_config, scratch_engine
):
    assert _tables(scratch_engine) == set()

    command.upgrade(alembic_config, "head")

    assert _tables(scratch_engine) == APP_TABLES | JOB_QUEUE_TABLES | {"alembic_version"}
    assert {"vector", "pg_trgm"} <= _extensions(scratch_engine)
    assert _head_revision(scratch_engine) == _head(alembic_config)


def test_the_models_match_the_migrations_after_upgrade(alembic_config, scratch_engine):
    command.upgrade(alembic_config, "head")

    with scratch_engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": compared_with_migrations}
        )
        differences = compare_metadata(context, SQLModel.metadata)

    # Alembic does not compare CHECK constraints; tests/test_database_rules.py proves those.
    assert differences == []
    assert set(SQLModel.metadata.tables) == APP_TABLES


def test_downgrade_base_removes_every_table_and_upgrade_head_works_again(
    alembic_config, scratch_engine
):
    command.upgrade(alembic_config, "head")

    command.downgrade(alembic_config, "base")

    assert _tables(scratch_engine) & (APP_TABLES | JOB_QUEUE_TABLES) == set()
    assert _head_revision(scratch_engine) is None

    command.upgrade(alembic_config, "head")

    assert _tables(scratch_engine) == APP_TABLES | JOB_QUEUE_TABLES | {"alembic_version"}
    assert _head_revision(scratch_engine) == _head(alembic_config)
