"""`python -m inventory reindex`: embed every product whose vector is missing or was made by
another model, in batches, each committed on its own.

Resumable by construction: each batch is chosen as "the next products that still need a
vector", so a run that is stopped and started again carries on where it was. When the model's
vectors are of another size than the column's, the column is retyped first (its old vectors,
another model's, go with it).
"""

from __future__ import annotations

from sqlmodel import Session
from tqdm import tqdm

from inventory.db import get_engine
from inventory.embeddings import get_embedder
from inventory.product_search import (
    column_dimension,
    count_stale,
    embed_products,
    set_column_dimension,
    stale_product_ids,
)

BATCH_SIZE = 500


def reindex(batch_size: int = BATCH_SIZE, *, progress: bool = True) -> int:
    """Embed what needs embedding with the configured model; the number of products embedded."""
    embedder = get_embedder()
    engine = get_engine()
    with Session(engine) as session:
        if column_dimension(session) != embedder.dimension:
            set_column_dimension(session, embedder.dimension)
            session.commit()
        remaining = count_stale(session, embedder.model)
    done, last_id = 0, 0
    with tqdm(total=remaining, unit="product", desc=embedder.model, disable=not progress) as bar:
        while True:
            with Session(engine) as session:
                product_ids = stale_product_ids(session, embedder.model, last_id, batch_size)
                if not product_ids:
                    break
                embed_products(session, product_ids, embedder)
                session.commit()
            last_id = product_ids[-1]
            done += len(product_ids)
            bar.update(len(product_ids))
    return done
