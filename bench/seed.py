"""Fill the benchmark database fast: COPY in chunks, secondary indexes built after the load.

Everything happens in one transaction (PostgreSQL's DDL is transactional), so an interrupted
seed leaves the previous data and every index as they were.

The data is deterministic for a given size:
- 100 categories; every product is in one (its series' category), 30% in a second one too.
- Products come in *series* of 100 consecutive ids that share a made-up word in their name
  ("Sturdy hose Kalomira"). A search for a series word in its category matches about 100
  products whatever the catalogue's size, so the scale check compares like with like.
- Two locations: "Main" (id 1, the default) and "Second" (id 2). Each product has an opening
  stock (20-500) at Main, recorded as its first ledger row, so the ledger sums to the stock
  from the start, per location and in all; no product starts at or below its threshold (10).
- Three users (admin, manager, viewer) with bcrypt hashes of the configured work factor.
"""

from __future__ import annotations

import random
import secrets
import time
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bcrypt
import psycopg
from psycopg import sql

from bench.progress import Bar, say

CATEGORIES = 100
SERIES_SIZE = 100
CHUNK = 20_000
SECOND_CATEGORY_SHARE = 0.3
LOW_STOCK_THRESHOLD = 10
USERNAMES = {"admin": "bench-admin", "manager": "bench-manager", "viewer": "bench-viewer"}
BULK_TABLES = ("products", "product_categories", "stock_levels", "stock_movements")
MAIN, SECOND = 1, 2

ADJECTIVES = (  # noqa: SIM905 (a word list reads best as words)
    "Sturdy Compact Classic Deluxe Eco Heavy-duty Light Modern Premium Rustic Smart "
    "Soft Solid Basic Portable Quiet Rapid Slim Warm Bright"
).split()
NOUNS = (  # noqa: SIM905 (a word list reads best as words)
    "hose kettle lamp chair table shelf blanket mug bottle drill hammer ladder rake "
    "broom bucket basket pillow towel jacket boot glove scarf backpack tent lantern "
    "stool mirror clock vase planter"
).split()
MATERIALS = (  # noqa: SIM905 (a word list reads best as words)
    "steel oak bamboo cotton wool glass ceramic aluminium linen walnut"
).split()
CONSONANTS = "bdfgklmnprstvz"
VOWELS = "aeiou"
SYLLABLES = [c + v for c in CONSONANTS for v in VOWELS]


def series_word(series: int) -> str:
    """The made-up word of a series: four syllables, different for every series."""
    base = len(SYLLABLES)
    code = (series * 7919 + 13) % base**4  # 7919 is prime to 70^4: a bijection
    letters = []
    for _ in range(4):
        code, digit = divmod(code, base)
        letters.append(SYLLABLES[digit])
    return "".join(letters).capitalize()


def series_category(series: int) -> int:
    """The category every product of a series belongs to."""
    return series % CATEGORIES + 1


@dataclass(frozen=True)
class SeedResult:
    """What the load scripts need to know about the seeded data."""

    products: int
    categories: int
    passwords: dict[str, str]
    search_terms: Path
    timings: dict[str, float]
    """Seconds spent embedding the products and building the HNSW index, and its size in MiB."""


def plain_url(url: str) -> str:
    """A SQLAlchemy URL (`postgresql+psycopg://`) as libpq understands it."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _refuse_foreign_data(conn: psycopg.Connection) -> None:
    has_products = conn.execute("SELECT EXISTS (SELECT 1 FROM products)").fetchone()[0]
    has_bench_user = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM users WHERE username = %s)", (USERNAMES["admin"],)
    ).fetchone()[0]
    if has_products and not has_bench_user:
        raise SystemExit(
            "error: DATABASE_URL points at a database with products the bench did not make; "
            "it wipes every table. Use a throwaway database, or pass --wipe to allow it."
        )


def _drop_secondary_indexes(conn: psycopg.Connection) -> list[tuple[str, str]]:
    """Drop the indexes of the bulk tables that no constraint needs; return how to rebuild them."""
    rows = conn.execute(
        """
        SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        JOIN pg_class t ON t.oid = i.indrelid
        WHERE t.relname = ANY(%s)
          AND t.relnamespace = 'public'::regnamespace
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        ORDER BY 1
        """,
        (list(BULK_TABLES),),
    ).fetchall()
    for name, _ in rows:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(*name.split("."))))
    return rows


def _copy(
    conn: psycopg.Connection,
    table: str,
    columns: tuple[str, ...],
    total: int,
    chunks: Iterator[tuple[str, int]],
) -> None:
    """COPY text chunks into `table`, with a progress bar of `total` rows."""
    bar = Bar(table, total)
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        for text, rows in chunks:
            copy.write(text)
            bar.advance(rows)
    bar.finish()


def _created_at(epoch: datetime, product_id: int) -> str:
    return (epoch + timedelta(seconds=product_id * 30)).isoformat()


def _product_chunks(
    products: int, rng: random.Random, epoch: datetime, stock: array
) -> Iterator[tuple[str, int]]:
    for start in range(1, products + 1, CHUNK):
        lines = []
        for product_id in range(start, min(start + CHUNK, products + 1)):
            series = (product_id - 1) // SERIES_SIZE
            adjective = ADJECTIVES[rng.randrange(len(ADJECTIVES))]
            noun = NOUNS[rng.randrange(len(NOUNS))]
            material = MATERIALS[rng.randrange(len(MATERIALS))]
            price = f"{rng.randrange(100, 100_000) / 100:.2f}"
            quantity = rng.randrange(20, 501)
            stock[product_id] = quantity
            created = _created_at(epoch, product_id)
            lines.append(
                f"{product_id}\t{adjective} {noun} {series_word(series)}\t"
                f"{adjective} {noun} in {material}, built for everyday use.\t{price}\t{quantity}\t"
                f"{LOW_STOCK_THRESHOLD}\tBN-{product_id:08d}\t{created}\t{created}\t1\n"
            )
        yield "".join(lines), len(lines)


def _link_chunks(products: int, rng: random.Random) -> Iterator[tuple[str, int]]:
    for start in range(1, products + 1, CHUNK):
        lines = []
        for product_id in range(start, min(start + CHUNK, products + 1)):
            first = series_category((product_id - 1) // SERIES_SIZE)
            lines.append(f"{product_id}\t{first}\n")
            if rng.random() < SECOND_CATEGORY_SHARE:
                second = (first - 1 + rng.randrange(1, CATEGORIES)) % CATEGORIES + 1
                lines.append(f"{product_id}\t{second}\n")
        yield "".join(lines), CHUNK if start + CHUNK <= products else products - start + 1


def _movement_chunks(
    products: int, epoch: datetime, stock: array, user_id: int
) -> Iterator[tuple[str, int]]:
    """The opening stock of each product as its first ledger row."""
    for start in range(1, products + 1, CHUNK):
        ids = range(start, min(start + CHUNK, products + 1))
        text = "".join(
            f"{product_id}\t{product_id}\t{MAIN}\t{stock[product_id]}\t{stock[product_id]}\t"
            f"initial stock\t{user_id}\t{_created_at(epoch, product_id)}\n"
            for product_id in ids
        )
        yield text, len(ids)


def _embed_products(conn: psycopg.Connection, products: int) -> None:
    """Give every product the embedding the app would: its text is read back (with its
    category names), embedded in batches, and the vectors copied in binary into a temporary
    table, from which one UPDATE sets them (formatting a vector as text costs more than
    embedding it)."""
    from pgvector.psycopg import register_vector

    from inventory.embeddings import get_embedder, product_text

    embedder = get_embedder()
    register_vector(conn)
    conn.execute(
        "CREATE TEMPORARY TABLE seed_embeddings"
        f" (id integer, embedding vector({embedder.dimension})) ON COMMIT DROP"
    )
    bar = Bar(f"embeddings ({embedder.model})", products)
    texts = conn.cursor(name="seed_texts")
    texts.execute(EMBEDDING_TEXTS)
    while rows := texts.fetchmany(CHUNK):
        vectors = embedder.embed(
            [product_text(name, text, [names or ""]) for _, name, text, names in rows]
        )
        with (
            conn.cursor() as cursor,
            cursor.copy("COPY seed_embeddings (id, embedding) FROM STDIN (FORMAT BINARY)") as copy,
        ):
            copy.set_types(["int4", "vector"])
            for (product_id, *_), vector in zip(rows, vectors, strict=True):
                copy.write_row((product_id, vector))
        bar.advance(len(rows))
    texts.close()
    conn.execute(
        "UPDATE products p SET embedding = e.embedding, embedding_model = %s"
        " FROM seed_embeddings e WHERE p.id = e.id",
        (embedder.model,),
    )
    bar.finish()


EMBEDDING_TEXTS = """
SELECT p.id, p.name, p.description,
       (SELECT string_agg(c.name, ' ' ORDER BY c.id)
        FROM product_categories pc JOIN categories c ON c.id = pc.category_id
        WHERE pc.product_id = p.id)
FROM products p ORDER BY p.id
"""
"""What inventory.product_search.embedding_texts reads, for every product."""
HNSW_INDEX = "ix_products_embedding_hnsw"


def _index_mib(conn: psycopg.Connection, name: str) -> float:
    size = conn.execute("SELECT pg_relation_size(%s::regclass)", (name,)).fetchone()[0]
    return size / 1024 / 1024


def _level_chunks(products: int, stock: array) -> Iterator[tuple[str, int]]:
    """Each product's opening stock, at Main."""
    for start in range(1, products + 1, CHUNK):
        ids = range(start, min(start + CHUNK, products + 1))
        yield (
            "".join(f"{product_id}\t{MAIN}\t{stock[product_id]}\n" for product_id in ids),
            len(ids),
        )


def _set_sequence(conn: psycopg.Connection, table: str, value: int) -> None:
    conn.execute(
        "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s, %s)",
        (table, max(value, 1), value > 0),
    )


def seed(
    url: str,
    products: int,
    *,
    bcrypt_rounds: int,
    work_dir: Path,
    allow_wipe: bool,
    log: Callable[[str], None] = say,
) -> SeedResult:
    """Wipe the database's tables and fill them with `products` products and their data."""
    rng = random.Random(products)  # noqa: S311 (the same data for the same size)
    passwords = {role: secrets.token_urlsafe(16) for role in USERNAMES}
    epoch = datetime(2024, 1, 1, tzinfo=UTC)
    with psycopg.connect(plain_url(url)) as conn:
        if not allow_wipe:
            _refuse_foreign_data(conn)
        with conn.transaction():
            tables = [
                row[0]
                for row in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version'"
                )
            ]
            conn.execute(
                sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
                    sql.SQL(", ").join(map(sql.Identifier, tables))
                )
            )
            conn.execute("SET LOCAL maintenance_work_mem = '512MB'")
            rebuild = _drop_secondary_indexes(conn)

            user_ids = {}
            for role, username in USERNAMES.items():
                password_hash = bcrypt.hashpw(
                    passwords[role].encode(), bcrypt.gensalt(bcrypt_rounds)
                ).decode()
                user_ids[role] = conn.execute(
                    "INSERT INTO users (username, password_hash, role, is_active) "
                    "VALUES (%s, %s, %s, true) RETURNING id",
                    (username, password_hash, role),
                ).fetchone()[0]
            conn.execute(
                "INSERT INTO locations (id, name, is_default) "
                "VALUES (%s, 'Main', true), (%s, 'Second', false)",
                (MAIN, SECOND),
            )
            _set_sequence(conn, "locations", SECOND)
            with conn.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO categories (id, name, description) VALUES (%s, %s, %s)",
                    [
                        (number, f"Category {number:03d}", f"Bench category number {number}")
                        for number in range(1, CATEGORIES + 1)
                    ],
                )
            columns = (
                "id",
                "name",
                "description",
                "price",
                "stock_quantity",
                "low_stock_threshold",
                "sku",
                "created_at",
                "updated_at",
                "version",
            )
            stock = array("H", bytes(2 * (products + 1)))
            _copy(
                conn,
                "products",
                columns,
                products,
                _product_chunks(products, rng, epoch, stock),
            )
            # The links, levels and ledger reference rows made just above: skip their per-row
            # foreign-key checks. That disables every trigger, so the products (whose triggers
            # keep their count) are in before, and the level trigger does not add the opening
            # stock to the products a second time. Needs a superuser, as the embedded server's
            # is; else the checks simply run and the products' stock is set back afterwards.
            replica = True
            try:
                with conn.transaction():
                    conn.execute("SET LOCAL session_replication_role = replica")
            except psycopg.errors.InsufficientPrivilege:
                replica = False
                log("  (not a superuser: foreign keys are checked row by row, slower)")
            _copy(
                conn,
                "stock_levels",
                ("product_id", "location_id", "on_hand"),
                products,
                _level_chunks(products, stock),
            )
            if not replica:
                conn.execute(
                    "UPDATE products SET stock_quantity = stock_levels.on_hand "
                    "FROM stock_levels WHERE stock_levels.product_id = products.id"
                )
            _copy(
                conn,
                "product_categories",
                ("product_id", "category_id"),
                products,
                _link_chunks(products, rng),
            )
            _copy(
                conn,
                "stock_movements",
                (
                    "id",
                    "product_id",
                    "location_id",
                    "delta",
                    "quantity_after",
                    "reason",
                    "user_id",
                    "created_at",
                ),
                products,
                _movement_chunks(products, epoch, stock, user_ids["admin"]),
            )
            started = time.perf_counter()
            _embed_products(conn, products)
            timings = {"embedding_seconds": round(time.perf_counter() - started, 1)}
            bar = Bar(f"{len(rebuild)} indexes", len(rebuild))
            for name, definition in rebuild:
                started = time.perf_counter()
                conn.execute(definition)
                if name.endswith(HNSW_INDEX):
                    timings["hnsw_build_seconds"] = round(time.perf_counter() - started, 1)
                    timings["hnsw_mib"] = round(_index_mib(conn, name), 1)
                bar.advance(1)
            bar.finish()
            if "hnsw_mib" in timings:
                log(
                    f"  {HNSW_INDEX}: built in {timings['hnsw_build_seconds']} s, "
                    f"{timings['hnsw_mib']:.0f} MiB"
                )
            for table, value in (
                ("products", products),
                ("stock_movements", products),
                ("categories", CATEGORIES),
            ):
                _set_sequence(conn, table, value)
    with psycopg.connect(plain_url(url), autocommit=True) as conn:
        log("  vacuum analyze, checkpoint ...")
        for table in ("users", "categories", *BULK_TABLES):
            conn.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(table)))
        try:
            # Write the load's dirty pages out now, not in a checkpoint during a measurement.
            conn.execute("CHECKPOINT")
        except psycopg.errors.InsufficientPrivilege:
            log("  (no right to CHECKPOINT: a checkpoint may run during the first loads)")
    terms = work_dir / "search_terms.tsv"
    series_count = max((products + SERIES_SIZE - 1) // SERIES_SIZE, 1)
    picked = sorted(rng.sample(range(series_count), min(series_count, 1000)))
    terms.write_text(
        "".join(f"{series_word(series)}\t{series_category(series)}\n" for series in picked)
    )
    return SeedResult(products, CATEGORIES, passwords, terms, timings)
