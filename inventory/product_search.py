"""Search by meaning: each product's embedding kept current, products ranked by cosine distance
on pgvector's HNSW index, and that ranking fused with the text match (hybrid).

Correct with the index on every pgvector. An HNSW scan returns the `hnsw.ef_search` nearest
vectors and only then applies the other filters, so a selective filter could leave a page
short. Three guards, in order:
- A small candidate set (at most EXACT_SEARCH_MAX_ROWS products pass the filters) is ranked
  exactly, by computing every distance: cheaper than the index, and exact.
- pgvector 0.8 scans the index iteratively (`hnsw.iterative_scan = strict_order`) until the
  page is full. On 0.7, which has no iterative scans (or with PGVECTOR_ITERATIVE_SCAN=off),
  `hnsw.ef_search` is raised to the page's depth times the filter's dilution, and a query
  that would need more than pgvector's limit of 1,000 is ranked exactly.
- Whatever the path, an index answer with fewer rows than the page needs and than the filters
  admit is thrown away and the page ranked exactly: no match is ever lost to the index.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    String,
    bindparam,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import TSQUERY, TSVECTOR, aggregate_order_by
from sqlmodel import Session

from inventory.config import get_settings
from inventory.embeddings import Embedder, get_embedder, product_text
from inventory.errors import NotFound, Unavailable
from inventory.models import (
    SEARCH_DOCUMENT,
    Category,
    Product,
    ProductCategory,
)

logger = logging.getLogger(__name__)

EXACT_SEARCH_MAX_ROWS = 10_000
"""Up to this many candidates, every distance is computed (a few ms) instead of using the index."""
MAX_EF_SEARCH = 1000
"""pgvector's upper bound for `hnsw.ef_search`."""
MIN_EF_SEARCH = 40
"""pgvector's default `hnsw.ef_search`: the least candidates an index scan gathers."""
MAX_SCAN_TUPLES = 50_000
"""How far an iterative scan (pgvector 0.8) may walk before it gives up (its default: 20,000)."""
RRF_K = 60
"""The constant of reciprocal-rank fusion: a product's score is the sum of 1 / (RRF_K + rank)."""
TEXT_RANKING_MAX_MATCHES = 2_000
"""Hybrid's text side ranks at most this many matches (or the page's depth, if deeper)."""

ANY_VECTOR = Vector()
"""`vector` with no dimension, for casts: the column's may differ from the models' (reindex
retypes it for a model of another size)."""
embedding_column = Product.__table__.c.embedding
model_column = Product.__table__.c.embedding_model


# ---------------------------------------------------------------------------------------------
# Keeping embeddings current


def _as_vector_text(vector: np.ndarray) -> str:
    """pgvector's text form of a vector, e.g. `[0.1,0.2]`."""
    return "[" + ",".join(f"{value:.7g}" for value in vector.tolist()) + "]"


products_table = Product.__table__

SET_EMBEDDING = (
    update(products_table)
    .where(products_table.c.id == bindparam("product_id"))
    .values(
        {
            embedding_column: cast(bindparam("vector", type_=String), ANY_VECTOR),
            model_column: bindparam("model"),
        }
    )
)
"""One product's vector, by its key (on the table, not the ORM class: rows of products the
session holds are not touched). Built once, so SQLAlchemy compiles it once."""


def write_embeddings(
    session: Session, product_ids: Sequence[int], vectors: np.ndarray, model: str
) -> None:
    """Store the vectors of these products, with the model that made them (several in one
    pipelined round of UPDATEs by key). The product's version and updated_at stay as they
    are: a vector is derived data."""
    rows = [
        {"product_id": product_id, "vector": _as_vector_text(vector), "model": model}
        for product_id, vector in zip(product_ids, vectors, strict=True)
    ]
    if rows:
        session.execute(SET_EMBEDDING, rows if len(rows) > 1 else rows[0])


def embeddable(session: Session) -> Embedder | None:
    """The embedder, if its vectors fit the column; else None (and a warning, once)."""
    embedder = get_embedder()
    if embedder.dimension == column_dimension(session):
        return embedder
    _warn_dimension_mismatch(embedder.model, embedder.dimension, column_dimension(session))
    return None


@lru_cache
def _warn_dimension_mismatch(model: str, dimension: int, column: int) -> None:
    logger.warning(
        "EMBEDDING_MODEL %s makes %d-dimensional vectors but products.embedding holds %d: "
        "products are written without embeddings until `python -m inventory reindex` runs",
        model,
        dimension,
        column,
    )


def embed_written_product(
    session: Session, product: Product, category_names: Sequence[str]
) -> None:
    """Give a product about to be written (its new name and description set) the vector of
    its text with these category names, so the product's own INSERT or UPDATE stores it:
    one row version and one round of index entries instead of two. Nothing if the model's
    vectors do not fit the column (`reindex` will embed it then)."""
    embedder = embeddable(session)
    if embedder is None:
        return
    text_ = product_text(product.name, product.description, category_names)
    product.embedding = embedder.embed_one(text_)
    product.embedding_model = embedder.model


def category_names(session: Session, category_ids: Sequence[int]) -> list[str]:
    """The names of these categories, in id order (as a product's categories are listed)."""
    if not category_ids:
        return []
    return list(
        session.scalars(
            select(Category.name).where(Category.id.in_(category_ids)).order_by(Category.id)
        )
    )


def refresh_embeddings(session: Session, product_ids: Sequence[int], batch: int = 1000) -> None:
    """Embed these products as they are now in the caller's transaction (after a change to
    their name, description or categories), in batches; nothing if the model's vectors do not
    fit the column (then `reindex` will)."""
    embedder = embeddable(session) if product_ids else None
    if embedder is None:
        return
    for start in range(0, len(product_ids), batch):
        embed_products(session, product_ids[start : start + batch], embedder)


def products_in_category(session: Session, category_id: int) -> list[int]:
    """The ids of the category's products, in id order (the order their rows are locked in)."""
    return list(
        session.scalars(
            select(ProductCategory.product_id)
            .where(ProductCategory.category_id == category_id)
            .order_by(ProductCategory.product_id)
        )
    )


def embedding_texts(
    session: Session, product_ids: Sequence[int], *, lock: bool = False
) -> list[tuple[int, str]]:
    """(id, text to embed) of these products, by id; with `lock`, their rows stay locked
    until the transaction ends, so no write slips in between this read and the vector's."""
    names = (
        select(func.string_agg(Category.name, aggregate_order_by(literal(" "), Category.id)))
        .join(ProductCategory, ProductCategory.category_id == Category.id)
        .where(ProductCategory.product_id == Product.id)
        .correlate(Product)
        .scalar_subquery()
    )
    statement = (
        select(Product.id, Product.name, Product.description, names)
        .where(Product.id.in_(product_ids))
        .order_by(Product.id)
    )
    rows = session.execute(statement.with_for_update(of=Product) if lock else statement)
    return [
        (product_id, product_text(name, description, [categories or ""]))
        for product_id, name, description, categories in rows
    ]


def embed_products(session: Session, product_ids: Sequence[int], embedder: Embedder) -> None:
    """Embed these products as the database has them now and store their vectors (their rows
    locked, in id order, until the caller's transaction ends)."""
    rows = embedding_texts(session, product_ids, lock=True)
    vectors = embedder.embed([text_ for _, text_ in rows])
    write_embeddings(session, [pid for pid, _ in rows], vectors, embedder.model)


def stale_condition(model: str) -> Any:
    """Products whose vector is missing or was made by another model."""
    return or_(embedding_column.is_(None), model_column.is_distinct_from(model))


def stale_product_ids(session: Session, model: str, after_id: int, limit: int) -> list[int]:
    """The next `limit` products (by id, after `after_id`) that need embedding with `model`."""
    return list(
        session.scalars(
            select(Product.id)
            .where(Product.id > after_id, stale_condition(model))
            .order_by(Product.id)
            .limit(limit)
        )
    )


def count_stale(session: Session, model: str) -> int:
    """How many products need embedding with `model`."""
    return session.scalar(select(func.count()).where(stale_condition(model))) or 0


# ---------------------------------------------------------------------------------------------
# The column and the server


def column_dimension(session: Session) -> int:
    """The dimension of products.embedding in this database (read once per process)."""
    bind = session.get_bind()
    return _cached_dimension(bind.url.render_as_string(hide_password=True), session)


_DIMENSIONS: dict[str, int] = {}
_ITERATIVE: dict[str, bool] = {}


def _cached_dimension(url: str, session: Session) -> int:
    if url not in _DIMENSIONS:
        _DIMENSIONS[url] = session.scalar(
            text(
                "SELECT atttypmod FROM pg_attribute "
                "WHERE attrelid = 'products'::regclass AND attname = 'embedding'"
            )
        )
    return _DIMENSIONS[url]


def forget_server_facts() -> None:
    """Read the column's dimension and pgvector's version again on next use."""
    _DIMENSIONS.clear()
    _ITERATIVE.clear()


def set_column_dimension(session: Session, dimension: int) -> None:
    """Retype products.embedding for vectors of `dimension` floats, dropping the old vectors
    (another model's, useless to the new one) and rebuilding the HNSW index."""
    session.execute(text("DROP INDEX IF EXISTS ix_products_embedding_hnsw"))
    session.execute(
        text(
            f"ALTER TABLE products ALTER COLUMN embedding TYPE vector({int(dimension)}) USING NULL"
        )
    )
    session.execute(
        text(
            "CREATE INDEX ix_products_embedding_hnsw ON products "
            "USING hnsw (embedding vector_cosine_ops)"
        )
    )
    forget_server_facts()


def iterative_scans(session: Session) -> bool:
    """Whether pgvector here scans HNSW indexes iteratively (0.8 and later), unless the
    PGVECTOR_ITERATIVE_SCAN setting is `off` (which forces the path taken on pgvector 0.7)."""
    if get_settings().pgvector_iterative_scan == "off":
        return False
    url = session.get_bind().url.render_as_string(hide_password=True)
    if url not in _ITERATIVE:
        version = session.scalar(
            text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        )
        _ITERATIVE[url] = _version_tuple(version or "0") >= (0, 8)
    return _ITERATIVE[url]


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


# ---------------------------------------------------------------------------------------------
# Ranking


def query_vector(session: Session, q: str) -> tuple[np.ndarray, str]:
    """The embedding of a search text and the model's name (503 if the column does not fit)."""
    embedder = get_embedder()
    column = column_dimension(session)
    if embedder.dimension != column:
        raise Unavailable(
            f"EMBEDDING_MODEL {embedder.model} makes {embedder.dimension}-dimensional vectors "
            f"but the products' embeddings have {column}: run `python -m inventory reindex`"
        )
    return embedder.embed_one(q), embedder.model


def semantic_ids(
    session: Session,
    conditions: Sequence[Any],
    vector: np.ndarray,
    model: str,
    *,
    depth: int,
    candidates: int,
    everything: int,
) -> list[int]:
    """The ids of the `depth` products nearest to `vector` among those meeting `conditions`
    (`candidates` of them, out of `everything`), nearest first; products without a current
    vector come last, by id."""
    target = _as_vector_text(vector)
    if candidates <= EXACT_SEARCH_MAX_ROWS:
        return _exact_ids(session, conditions, target, model, depth)
    ef_search = _ef_search(session, depth, candidates, everything)
    if ef_search is None:
        return _exact_ids(session, conditions, target, model, depth)
    ids = _index_ids(session, conditions, target, model, depth, ef_search)
    if len(ids) < min(depth, candidates):  # the index missed some: rank exactly instead
        return _exact_ids(session, conditions, target, model, depth)
    return ids


def _ef_search(session: Session, depth: int, candidates: int, everything: int) -> int | None:
    """The `hnsw.ef_search` for a page `depth` deep, or None if the index cannot serve it.

    With iterative scans the index keeps going until enough rows pass the filters. Without,
    it returns `ef_search` rows before filtering: enough for `depth` matches needs about
    depth × everything / candidates of them (with a margin)."""
    if iterative_scans(session):
        return min(MAX_EF_SEARCH, max(MIN_EF_SEARCH, depth)) if depth <= MAX_EF_SEARCH else None
    needed = math.ceil(depth * max(everything, candidates) / max(candidates, 1) * 1.2)
    return max(MIN_EF_SEARCH, needed) if needed <= MAX_EF_SEARCH else None


def _distance(target: str) -> Any:
    return embedding_column.cosine_distance(cast(literal(target), ANY_VECTOR))


def _exact_ids(
    session: Session, conditions: Sequence[Any], target: str, model: str, depth: int
) -> list[int]:
    # A CASE around the distance keeps the planner off the index: every distance is computed.
    distance = case((model_column == model, _distance(target)))
    return list(
        session.scalars(
            select(Product.id)
            .where(*conditions)
            .order_by(distance.asc().nulls_last(), Product.id)
            .limit(depth)
        )
    )


def _index_ids(
    session: Session,
    conditions: Sequence[Any],
    target: str,
    model: str,
    depth: int,
    ef_search: int,
) -> list[int]:
    """Nearest first by the HNSW index.

    The settings are set for the session, not LOCAL: a GET runs in autocommit, with no
    transaction for SET LOCAL to last in. Every index search sets all of them right before
    its query, so a value left on a pooled connection is never relied on."""
    settings = {"ef_search": ef_search}
    if iterative_scans(session):
        settings |= {"iterative_scan": "strict_order", "max_scan_tuples": MAX_SCAN_TUPLES}
    assignments = ", ".join(f"set_config('hnsw.{name}', :{name}, false)" for name in settings)
    session.execute(text(f"SELECT {assignments}"), {k: str(v) for k, v in settings.items()})
    return list(
        session.scalars(
            select(Product.id)
            .where(*conditions, model_column == model)
            .order_by(_distance(target))
            .limit(depth)
        )
    )


def search_document() -> Any:
    """A product's words for full-text search: exactly the expression that the GIN index
    ix_products_search_document holds (with constants, not bound parameters, which the
    planner would not match to it)."""
    qualified = SEARCH_DOCUMENT.replace("(name", "(products.name").replace(
        "(description", "(products.description"
    )
    return literal_column(qualified, type_=TSVECTOR)


def _any_word(q: str) -> Any:
    """A tsquery matching any of q's words: plainto_tsquery's lexemes (stemmed, stop words
    dropped), joined by OR instead of AND ("water the lawn" → 'water' | 'lawn')."""
    every_word = func.plainto_tsquery(text("'english'::regconfig"), q)
    return cast(func.replace(cast(every_word, String), " & ", " | "), TSQUERY)


def text_ranked_ids(
    session: Session, conditions: Sequence[Any], q: str, substring: Any, depth: int
) -> list[int]:
    """The text ranking of hybrid search: products matching `substring` (the `text` search's
    condition for q) first, then those sharing any of q's words, by full-text rank.

    Ranking computes each match's words (`to_tsvector`, ~8 µs a product), so only the first
    TEXT_RANKING_MAX_MATCHES matches are ranked, substring matches before word matches (the
    planner leaves the words of rows past the limit uncomputed): a word that more products
    share says little about which one is meant, and the semantic half of the fusion ranks
    them all.
    """
    words = _any_word(q)
    document = search_document()
    tier = case((substring, 0), else_=1)
    matches = (
        select(Product.id, tier.label("tier"), document.label("document"))
        .where(*conditions, or_(substring, document.op("@@")(words)))
        .order_by(tier)
        .limit(max(TEXT_RANKING_MAX_MATCHES, depth))
        .subquery("matches")
    )
    return list(
        session.scalars(
            select(matches.c.id)
            .order_by(
                matches.c.tier,
                func.ts_rank_cd(matches.c.document, words).desc(),
                matches.c.id,
            )
            .limit(depth)
        )
    )


def fuse(rankings: Sequence[Sequence[int]]) -> list[int]:
    """Reciprocal-rank fusion: ids by the sum of 1 / (RRF_K + rank) over the rankings that
    hold them (rank from 1), best first, ties by id."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, product_id in enumerate(ranking, start=1):
            scores[product_id] = scores.get(product_id, 0.0) + 1 / (RRF_K + rank)
    return sorted(scores, key=lambda product_id: (-scores[product_id], product_id))


def hybrid_depth(depth: int) -> int:
    """How deep each ranking must go for the fused top `depth` to be exact: a product below
    rank D in both scores at most 2 / (RRF_K + D + 1), at most the depth-th fused score,
    1 / (RRF_K + depth), once D ≥ 2 × depth + RRF_K."""
    return 2 * depth + RRF_K


def ranked_ids(
    session: Session,
    conditions: Sequence[Any],
    q: str,
    text_match: Any | None,
    *,
    depth: int,
    candidates: int,
    everything: int,
) -> list[int]:
    """The ids of the `depth` products most relevant to `q` among those meeting `conditions`
    (`candidates` of them, out of `everything`): by meaning alone, or (hybrid, given the text
    search's `text_match` condition) by reciprocal-rank fusion of that ranking and the text
    ranking."""
    vector, model = query_vector(session, q)
    counts = {"candidates": candidates, "everything": everything}
    if text_match is None:
        return semantic_ids(session, conditions, vector, model, depth=depth, **counts)
    deep = hybrid_depth(depth)
    by_meaning = semantic_ids(session, conditions, vector, model, depth=deep, **counts)
    by_text = text_ranked_ids(session, conditions, q, text_match, deep)
    return fuse([by_text, by_meaning])[:depth]


def similar_ids(session: Session, product_id: int, *, depth: int, everything: int) -> list[int]:
    """The ids of the `depth` products closest in meaning to this one, itself left out
    (NotFound if there is no such product). A product without a current vector is embedded
    on the fly for the question."""
    row = session.execute(
        select(embedding_column, model_column).where(Product.id == product_id)
    ).first()
    if row is None:
        raise NotFound("product", product_id)
    vector, model = row
    if vector is None or model != get_embedder().model:
        [(_, product_text_)] = embedding_texts(session, [product_id])
        vector, model = query_vector(session, product_text_)
    return semantic_ids(
        session,
        [Product.id != product_id],
        np.asarray(vector, dtype=np.float32),
        model,
        depth=depth,
        candidates=everything - 1,
        everything=everything,
    )
