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
    "locations",
    "stock_levels",
    "stock_transfers",
    "reservations",
    "reservation_lines",
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


# Migration 0011 on a database holding wave-1 data: every unit and every ledger row lands in the
# default location "Main", nothing is lost, and the downgrade gives the stock back as it was.

WAVE_ONE_STOCK = {"Hose": [40, -5, 12], "Rake": [0], "Spade": [7, -7], "Shears": [3, 2, -1]}


def _insert_wave_one_data(engine: Engine) -> None:
    """Products and ledgers written with the wave-1 schema (revision 0005)."""
    with engine.begin() as connection:
        user_id = connection.execute(
            text(
                "INSERT INTO users (username, password_hash, role) "
                "VALUES ('alice', 'x', 'manager') RETURNING id"
            )
        ).scalar_one()
        for name, deltas in WAVE_ONE_STOCK.items():
            product_id = connection.execute(
                text(
                    "INSERT INTO products (name, price, stock_quantity, low_stock_threshold) "
                    "VALUES (:name, 1, :stock, 2) RETURNING id"
                ),
                {"name": name, "stock": sum(deltas)},
            ).scalar_one()
            after = 0
            for delta in deltas:
                after += delta
                if delta:
                    connection.execute(
                        text(
                            "INSERT INTO stock_movements "
                            "(product_id, delta, quantity_after, reason, user_id) "
                            "VALUES (:product_id, :delta, :after, 'wave 1', :user_id)"
                        ),
                        {
                            "product_id": product_id,
                            "delta": delta,
                            "after": after,
                            "user_id": user_id,
                        },
                    )


def _stock_and_ledger(engine: Engine) -> dict[str, tuple[int, int]]:
    """Each product's stock and the sum of its ledger, by name."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT name, stock_quantity, "
                "(SELECT COALESCE(sum(delta), 0) FROM stock_movements m WHERE m.product_id = p.id) "
                "FROM products p"
            )
        )
        return {name: (stock, ledger) for name, stock, ledger in rows}


def _scalar(engine: Engine, sql: str) -> object:
    with engine.connect() as connection:
        return connection.execute(text(sql)).scalar_one()


def test_upgrading_wave_one_data_keeps_every_products_stock_and_ledger_sum(
    alembic_config, scratch_engine
):
    command.upgrade(alembic_config, "0005")
    _insert_wave_one_data(scratch_engine)
    before = _stock_and_ledger(scratch_engine)

    command.upgrade(alembic_config, "head")

    assert _stock_and_ledger(scratch_engine) == before
    assert before == {name: (sum(d), sum(d)) for name, d in WAVE_ONE_STOCK.items()}


def test_upgrading_moves_all_stock_and_ledger_rows_into_the_default_location_main(
    alembic_config, scratch_engine
):
    command.upgrade(alembic_config, "0005")
    _insert_wave_one_data(scratch_engine)

    command.upgrade(alembic_config, "head")

    assert _scalar(scratch_engine, "SELECT name FROM locations WHERE is_default") == "Main"
    assert _scalar(scratch_engine, "SELECT count(*) FROM locations") == 1
    # Per location, each product's ledger sums to its on-hand stock there.
    mismatches = _scalar(
        scratch_engine,
        "SELECT count(*) FROM stock_levels l WHERE on_hand <> (SELECT COALESCE(sum(delta), 0) "
        "FROM stock_movements m WHERE m.product_id = l.product_id "
        "AND m.location_id = l.location_id)",
    )
    assert mismatches == 0
    assert _scalar(scratch_engine, "SELECT count(*) FROM stock_levels") == len(WAVE_ONE_STOCK)
    assert (
        _scalar(scratch_engine, "SELECT count(*) FROM stock_movements WHERE location_id IS NULL")
        == 0
    )
    assert _scalar(scratch_engine, "SELECT sum(reserved) FROM products") == 0


def test_after_the_upgrade_a_level_change_reaches_the_products_total(
    alembic_config, scratch_engine
):
    command.upgrade(alembic_config, "0005")
    _insert_wave_one_data(scratch_engine)
    command.upgrade(alembic_config, "head")

    with scratch_engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE stock_levels SET on_hand = on_hand + 5, reserved = 2 "
                "WHERE product_id = (SELECT id FROM products WHERE name = 'Hose')"
            )
        )

    with scratch_engine.connect() as connection:
        stock, reserved = connection.execute(
            text("SELECT stock_quantity, reserved FROM products WHERE name = 'Hose'")
        ).one()
    assert (stock, reserved) == (sum(WAVE_ONE_STOCK["Hose"]) + 5, 2)


def test_downgrading_to_wave_one_keeps_every_products_stock_and_ledger_sum(
    alembic_config, scratch_engine
):
    command.upgrade(alembic_config, "0005")
    _insert_wave_one_data(scratch_engine)
    before = _stock_and_ledger(scratch_engine)
    command.upgrade(alembic_config, "head")

    command.downgrade(alembic_config, "0005")

    assert _stock_and_ledger(scratch_engine) == before
    tables = _scalar(
        scratch_engine,
        "SELECT count(*) FROM information_schema.tables WHERE table_name IN "
        "('locations', 'stock_levels', 'reservations', 'reservation_lines', 'stock_transfers')",
    )
    assert tables == 0
