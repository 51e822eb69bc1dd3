"""locations, stock levels per location, transfers, reservations

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30

Existing stock moves into a location "Main", made the default: every product gets a level row
there holding its whole stock, and every ledger row is marked as Main's, so each product's stock
and ledger sum are what they were. From here on a trigger on `stock_levels` adds every change of
a level's `on_hand` and `reserved` to its product's `stock_quantity` and `reserved`, so the
product's numbers are always the sums over its locations, whichever code writes the levels.
(The product's `version` is the writer's to bump: once per operation, not once per level.)
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUM_FUNCTION = """
CREATE FUNCTION sum_stock_levels() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    level stock_levels;
    on_hand_change integer;
    reserved_change integer;
BEGIN
    IF TG_OP = 'INSERT' THEN
        level := NEW;
        on_hand_change := NEW.on_hand;
        reserved_change := NEW.reserved;
    ELSIF TG_OP = 'UPDATE' THEN
        level := NEW;
        on_hand_change := NEW.on_hand - OLD.on_hand;
        reserved_change := NEW.reserved - OLD.reserved;
    ELSE
        level := OLD;
        on_hand_change := -OLD.on_hand;
        reserved_change := -OLD.reserved;
    END IF;
    IF on_hand_change <> 0 OR reserved_change <> 0 THEN
        UPDATE products
        SET stock_quantity = stock_quantity + on_hand_change,
            reserved = reserved + reserved_change
        WHERE id = level.product_id;
    END IF;
    RETURN NULL;
END
$$
"""
MAIN_LOCATION = (
    "INSERT INTO locations (name, description, is_default) "
    "VALUES ('Main', 'The default location; all stock was here before locations existed.', true)"
)
LOW_STOCK_BY_STOCK = "stock_quantity <= low_stock_threshold"
LOW_STOCK_BY_AVAILABLE = "stock_quantity - reserved <= low_stock_threshold"


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "locations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("is_default", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("code ~ '^[A-Z0-9_-]+$'", name="ck_locations_code_format"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_index("ux_locations_name_lower", "locations", [sa.text("lower(name)")], unique=True)
    op.create_index(
        "ux_locations_one_default",
        "locations",
        ["is_default"],
        unique=True,
        postgresql_where=sa.text("is_default"),
    )
    op.execute(MAIN_LOCATION)

    op.create_table(
        "stock_levels",
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("on_hand", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("reserved", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint("on_hand >= 0", name="ck_stock_levels_on_hand_non_negative"),
        sa.CheckConstraint("reserved >= 0", name="ck_stock_levels_reserved_non_negative"),
        sa.CheckConstraint("reserved <= on_hand", name="ck_stock_levels_reserved_within_on_hand"),
        sa.ForeignKeyConstraint(["location_id"], ["locations.id"]),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("product_id", "location_id"),
    )
    op.create_index("ix_stock_levels_location_id", "stock_levels", ["location_id", "product_id"])
    # Before the trigger exists: the products already hold these sums.
    op.execute(
        "INSERT INTO stock_levels (product_id, location_id, on_hand) "
        "SELECT products.id, locations.id, products.stock_quantity "
        "FROM products CROSS JOIN locations"
    )

    op.add_column(
        "products", sa.Column("reserved", sa.Integer(), server_default=sa.text("0"), nullable=False)
    )
    op.create_check_constraint("ck_products_reserved_non_negative", "products", "reserved >= 0")
    op.create_check_constraint(
        "ck_products_stock_not_below_reserved", "products", "stock_quantity >= reserved"
    )
    op.drop_index("ix_products_low_stock", table_name="products")
    op.create_index(
        "ix_products_low_stock",
        "products",
        [sa.text("(stock_quantity - reserved)"), "id"],
        postgresql_where=sa.text(LOW_STOCK_BY_AVAILABLE),
    )

    op.add_column("stock_movements", sa.Column("location_id", sa.Integer(), nullable=True))
    op.execute("UPDATE stock_movements SET location_id = (SELECT id FROM locations)")
    op.create_foreign_key(
        "stock_movements_location_id_fkey",
        "stock_movements",
        "locations",
        ["location_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_index("ix_stock_movements_location_id", "stock_movements", ["location_id"])

    op.create_table(
        "stock_transfers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("from_location_id", sa.Integer(), nullable=True),
        sa.Column("to_location_id", sa.Integer(), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("reference", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("quantity > 0", name="ck_stock_transfers_quantity_positive"),
        sa.CheckConstraint(
            "from_location_id <> to_location_id", name="ck_stock_transfers_distinct_locations"
        ),
        sa.ForeignKeyConstraint(["from_location_id"], ["locations.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["to_location_id"], ["locations.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_stock_transfers_product_id", "stock_transfers", ["product_id", "id"])

    op.create_table(
        "reservations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reference", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("committed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('active', 'committed', 'released', 'expired')",
            name="ck_reservations_status",
        ),
        sa.CheckConstraint(
            "(status = 'committed') = (committed_at IS NOT NULL)",
            name="ck_reservations_committed_at",
        ),
        sa.CheckConstraint(
            "(status = 'released') = (released_at IS NOT NULL)",
            name="ck_reservations_released_at",
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_reservations_due",
        "reservations",
        ["expires_at"],
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_index("ix_reservations_reference", "reservations", ["reference", "id"])

    op.create_table(
        "reservation_lines",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("reservation_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("holding", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("quantity > 0", name="ck_reservation_lines_quantity_positive"),
        sa.ForeignKeyConstraint(["location_id"], ["locations.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["reservation_id"], ["reservations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ux_reservation_lines_item",
        "reservation_lines",
        ["reservation_id", "product_id", "location_id"],
        unique=True,
    )
    op.create_index(
        "ix_reservation_lines_product_id", "reservation_lines", ["product_id", "reservation_id"]
    )
    op.create_index(
        "ix_reservation_lines_holding",
        "reservation_lines",
        ["product_id", "expires_at"],
        postgresql_where=sa.text("holding"),
    )

    op.execute(SUM_FUNCTION)
    op.execute(
        "CREATE TRIGGER stock_levels_summed AFTER INSERT OR UPDATE OR DELETE ON stock_levels "
        "FOR EACH ROW EXECUTE FUNCTION sum_stock_levels()"
    )


def downgrade() -> None:
    """Revert this revision: the stock of every product stays, its split over locations goes."""
    op.execute("DROP TRIGGER stock_levels_summed ON stock_levels")
    op.execute("DROP FUNCTION sum_stock_levels()")
    op.drop_table("reservation_lines")
    op.drop_table("reservations")
    op.drop_table("stock_transfers")
    op.drop_index("ix_stock_movements_location_id", table_name="stock_movements")
    op.drop_constraint("stock_movements_location_id_fkey", "stock_movements", type_="foreignkey")
    op.drop_column("stock_movements", "location_id")
    op.drop_index("ix_products_low_stock", table_name="products")
    op.create_index(
        "ix_products_low_stock",
        "products",
        ["stock_quantity", "id"],
        postgresql_where=sa.text(LOW_STOCK_BY_STOCK),
    )
    op.drop_constraint("ck_products_stock_not_below_reserved", "products", type_="check")
    op.drop_constraint("ck_products_reserved_non_negative", "products", type_="check")
    op.drop_column("products", "reserved")
    op.drop_table("stock_levels")
    op.drop_table("locations")
