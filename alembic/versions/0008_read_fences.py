"""read_fences: where each user's latest write left the write-ahead log, for replica reads

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30

One row per user who ever wrote, updated after each of their writes commits. A GET may read
from a replica only once that replica has replayed the caller's fence (read-your-writes across
hosts). UNLOGGED: the fence is a hint read on the primary only; it needs no WAL of its own.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "read_fences",
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("lsn", sa.BigInteger(), nullable=False),
        prefixes=["UNLOGGED"],
    )


def downgrade() -> None:
    op.drop_table("read_fences")
