"""users.token_version: a change of password or active flag ends every token issued before it

Refresh tokens keep the version they were issued under (refresh_tokens.token_version).

Replaces users.credentials_changed_at, whose whole-second comparison with a token's `iat` let a
token issued in the same second as a password change live on, and which a re-enabled user's
old tokens passed again. Tokens issued before this revision carry no version and must log in
again.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column(
        "users",
        sa.Column("token_version", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.create_check_constraint("ck_users_token_version", "users", "token_version >= 0")
    op.add_column(
        "refresh_tokens",
        sa.Column("token_version", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.drop_column("users", "credentials_changed_at")


def downgrade() -> None:
    """Revert this revision."""
    op.add_column(
        "users",
        sa.Column(
            "credentials_changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    )
    op.drop_column("refresh_tokens", "token_version")
    op.drop_constraint("ck_users_token_version", "users", type_="check")
    op.drop_column("users", "token_version")
