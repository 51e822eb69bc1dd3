"""product embeddings: a pgvector column, the model that made it, an HNSW index; and a
full-text index for the word side of hybrid search

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30

The columns start empty: `python -m inventory reindex` embeds the products written before this
revision (the app embeds every product it writes from now on). The index is built on empty
columns here, so the upgrade is quick at any size; pgvector adds each vector as it is written.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from pgvector.sqlalchemy import Vector

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EMBEDDING_DIMENSION = 256  # the default embedder's, wordllama:l2_supercat_256
SEARCH_DOCUMENT = (
    "to_tsvector('english'::regconfig, "
    "(name::text || ' '::text) || COALESCE(description, ''::character varying)::text)"
)


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("products", sa.Column("embedding", Vector(EMBEDDING_DIMENSION), nullable=True))
    op.add_column("products", sa.Column("embedding_model", sa.String(length=200), nullable=True))
    op.create_index(
        "ix_products_embedding_hnsw",
        "products",
        ["embedding"],
        postgresql_using="hnsw",
        postgresql_ops={"embedding": "vector_cosine_ops"},
    )
    op.create_index(
        "ix_products_search_document",
        "products",
        [sa.text(SEARCH_DOCUMENT)],
        postgresql_using="gin",
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_products_search_document", table_name="products")
    op.drop_index("ix_products_embedding_hnsw", table_name="products")
    op.drop_column("products", "embedding_model")
    op.drop_column("products", "embedding")
