"""`python -m inventory reindex`, run as an operator runs it: a separate process against the test
database."""

import os
import re
import signal
import subprocess
import sys
import time

from sqlalchemy import text

from tests.conftest import ROOT
from tests.test_cli import inventory_command

MODEL = "wordllama:l2_supercat_256"
SENTINEL = "[" + ",".join(["1"] + ["0"] * 255) + "]"


def _insert_products(db, count: int) -> None:
    """`count` products written behind the API's back, with no vector (as before this feature)."""
    db.execute(
        text(
            "INSERT INTO products (name, description, price, stock_quantity, low_stock_threshold)"
            " SELECT 'Product ' || n, 'Made for test ' || n, 1.00, 5, 1"
            " FROM generate_series(1, :count) AS n"
        ),
        {"count": count},
    )
    db.execute(text("UPDATE products SET embedding = NULL, embedding_model = NULL"))
    db.commit()


def _models(db) -> list[tuple[int, str | None]]:
    return db.execute(text("SELECT id, embedding_model FROM products ORDER BY id")).all()


def test_reindex_embeds_products_without_a_vector_or_with_another_models(db):
    _insert_products(db, 3)
    db.execute(
        text(
            "UPDATE products SET embedding = :v, embedding_model = 'wordllama:older' WHERE id = 2"
        ),
        {"v": SENTINEL},
    )
    db.commit()

    result = inventory_command("reindex")

    assert result.returncode == 0, result.stderr
    assert "Embedded 3 products." in result.stdout
    assert _models(db) == [(1, MODEL), (2, MODEL), (3, MODEL)]
    changed = db.scalar(
        text("SELECT embedding::text <> :v FROM products WHERE id = 2"), {"v": SENTINEL}
    )
    assert changed


def test_reindex_leaves_current_vectors_alone_and_shows_a_progress_bar(db):
    _insert_products(db, 2)
    db.execute(
        text("UPDATE products SET embedding = :v, embedding_model = :m WHERE id = 1"),
        {"v": SENTINEL, "m": MODEL},
    )
    db.commit()

    result = inventory_command("reindex")

    assert result.returncode == 0, result.stderr
    assert "Embedded 1 product." in result.stdout
    assert re.search(r"100%.*1/1", result.stderr)
    kept = db.scalar(text("SELECT embedding::text FROM products WHERE id = 1"))
    assert kept.startswith("[1,0,0")


def test_reindex_does_not_change_a_products_version_or_updated_at(db):
    _insert_products(db, 1)
    before = db.execute(text("SELECT version, updated_at FROM products")).one()

    inventory_command("reindex")

    db.expire_all()
    assert db.execute(text("SELECT version, updated_at FROM products")).one() == before


def test_a_stopped_reindex_carries_on_where_it_stopped(db):
    _insert_products(db, 4000)
    process = subprocess.Popen(
        [sys.executable, "-m", "inventory", "reindex", "--batch-size", "20"],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    embedded = 0
    deadline = time.monotonic() + 60
    while embedded == 0 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
        embedded = db.scalar(text("SELECT count(*) FROM products WHERE embedding IS NOT NULL"))
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    embedded = db.scalar(text("SELECT count(*) FROM products WHERE embedding IS NOT NULL"))
    assert 0 < embedded < 4000

    result = inventory_command("reindex")

    assert result.returncode == 0, result.stderr
    assert f"Embedded {4000 - embedded} products." in result.stdout
    assert (
        db.scalar(text("SELECT count(*) FROM products WHERE embedding_model = :m"), {"m": MODEL})
        == 4000
    )
