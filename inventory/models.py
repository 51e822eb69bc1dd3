"""The entities: one SQLModel class per table, and the API shapes derived from them.

Each field, its limits, its description and its example are written once, on the table class.
Request and response shapes (`ProductCreate`, `ProductUpdate`, `ProductRead`, ...) are built from
those fields by `derive_model`, so a limit changed here changes the table, the validation and the
OpenAPI text together. The database enforces the same rules again (CHECK, UNIQUE, FK).
"""

import copy
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    PlainSerializer,
    Strict,
    conint,
    create_model,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    func,
    text,
)
from sqlmodel import Field, Relationship, SQLModel

USERNAME_PATTERN = r"^[A-Za-z0-9._-]+$"
BCRYPT_MAX_BYTES = 72
MAX_DB_INT = 2**31 - 1
"""The largest value of a PostgreSQL `integer` column (ids, quantities)."""


class Role(StrEnum):
    """What a user may do: `admin` all; `manager` read and write, no deletes; `viewer` read."""

    admin = "admin"
    manager = "manager"
    viewer = "viewer"


def _two_places(value: Decimal) -> Decimal:
    """Normalise a price to exactly two decimal places, refusing anything that would round."""
    try:
        rounded = value.quantize(Decimal("0.01"))
    except InvalidOperation as error:
        raise ValueError("price must be a finite number below 10^10") from error
    if rounded != value:
        raise ValueError("price must have at most 2 decimal places")
    return rounded


def _password_fits_bcrypt(value: str) -> str:
    if len(value.encode()) > BCRYPT_MAX_BYTES:
        raise ValueError(f"password must be at most {BCRYPT_MAX_BYTES} bytes in UTF-8")
    return value


Money = Annotated[
    Decimal,
    AfterValidator(_two_places),
    PlainSerializer(lambda value: f"{value:.2f}", return_type=str, when_used="json"),
]
"""An exact amount: a JSON number or string in, a string with exactly two places out."""

Password = Annotated[str, AfterValidator(_password_fits_bcrypt)]
DbId = conint(ge=1, le=MAX_DB_INT, strict=True)


def password_field(**kwargs: Any) -> Any:
    """The password's limits and docs, for every shape that takes one."""
    return Field(
        min_length=8,
        description="8 characters to 72 bytes (bcrypt's limit: longer is refused, not truncated).",
        schema_extra={"examples": ["correct-horse-42"]},
        **kwargs,
    )


def _now_column() -> Any:
    return Field(
        default=None,
        sa_column_kwargs={"server_default": func.now(), "nullable": False},
        sa_type=DateTime(timezone=True),
        description="Set by the server.",
        schema_extra={"examples": ["2026-11-25T09:30:00Z"]},
    )


def _id_column(**kwargs: Any) -> Any:
    return Field(
        default=None,
        primary_key=True,
        description="Set by the server.",
        schema_extra={"examples": [1]},
        **kwargs,
    )


class User(SQLModel, table=True):
    """A person or system that calls the API."""

    __tablename__ = "users"
    __table_args__ = (
        Index("ux_users_username_lower", func.lower(text("username")), unique=True),
        CheckConstraint("role IN ('admin', 'manager', 'viewer')", name="ck_users_role"),
    )

    id: int | None = _id_column()
    username: str = Field(
        min_length=3,
        max_length=50,
        description="3–50 characters of letters, digits, `.`, `_` and `-`; unique ignoring case.",
        # `regex=` is ignored under pydantic 2; `pattern` both validates and documents.
        schema_extra={"pattern": USERNAME_PATTERN, "examples": ["alice"]},
    )
    password_hash: str = Field(max_length=255)
    role: Role = Field(
        default=Role.viewer,
        sa_type=String(16),
        description="`admin`, `manager` or `viewer`.",
    )
    is_active: bool = Field(
        default=True,
        sa_column_kwargs={"server_default": text("true")},
        description="A disabled user cannot log in and their tokens stop working.",
    )
    created_at: datetime | None = _now_column()
    credentials_changed_at: datetime | None = Field(
        default=None,
        sa_column_kwargs={"server_default": func.now(), "nullable": False},
        sa_type=DateTime(timezone=True),
        description="When the password last changed: tokens issued before it stop working.",
    )


class ProductCategory(SQLModel, table=True):
    """Links a product to one of its categories."""

    __tablename__ = "product_categories"
    __table_args__ = (Index("ix_product_categories_category_id", "category_id"),)

    product_id: int = Field(
        sa_column=Column(Integer, ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    )
    category_id: int = Field(
        sa_column=Column(Integer, ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True)
    )


class Category(SQLModel, table=True):
    """A group of products; a product may sit in many categories."""

    __tablename__ = "categories"
    __table_args__ = (
        Index("ux_categories_name_lower", func.lower(text("name")), unique=True),
        Index(
            "ix_categories_name_trgm",
            "name",
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        ),
    )

    id: int | None = _id_column()
    name: str = Field(
        min_length=1,
        max_length=100,
        description="1–100 characters, unique ignoring case.",
        schema_extra={"examples": ["Garden"]},
    )
    description: str | None = Field(
        default=None,
        max_length=2000,
        description="Up to 2,000 characters.",
        schema_extra={"examples": ["Tools and furniture for the garden"]},
    )

    products: list["Product"] = Relationship(
        back_populates="categories", link_model=ProductCategory
    )


class Product(SQLModel, table=True):
    """Something the shop sells, with its price and the quantity in stock."""

    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("price >= 0", name="ck_products_price_non_negative"),
        CheckConstraint("stock_quantity >= 0", name="ck_products_stock_non_negative"),
        CheckConstraint("low_stock_threshold >= 0", name="ck_products_threshold_non_negative"),
        Index("ix_products_price", "price", "id"),
        Index("ix_products_stock_quantity", "stock_quantity", "id"),
        Index("ix_products_created_at", "created_at", "id"),
        Index("ix_products_name", "name", "id"),
        Index(
            "ix_products_low_stock",
            "stock_quantity",
            "id",
            postgresql_where=text("stock_quantity <= low_stock_threshold"),
        ),
        *(
            Index(
                f"ix_products_{column}_trgm",
                column,
                postgresql_using="gin",
                postgresql_ops={column: "gin_trgm_ops"},
            )
            for column in ("name", "description", "sku")
        ),
    )

    id: int | None = _id_column()
    name: str = Field(
        min_length=1,
        max_length=200,
        description="1–200 characters.",
        schema_extra={"examples": ["Garden hose 25 m"]},
    )
    description: str | None = Field(
        default=None,
        max_length=5000,
        sa_type=String(5000),
        description="Up to 5,000 characters.",
        schema_extra={"examples": ["Kink-resistant, with brass fittings."]},
    )
    price: Money = Field(
        ge=0,
        lt=10**10,
        max_digits=12,
        decimal_places=2,
        sa_type=Numeric(12, 2),
        description="At least 0, at most 2 decimal places, below 10^10; "
        "sent as a JSON number or string, returned as a string with exactly 2 places.",
        schema_extra={"examples": ["19.99"]},
    )
    stock_quantity: int = Field(
        default=0,
        ge=0,
        le=MAX_DB_INT,
        description="Units in stock; never below 0.",
        schema_extra={"examples": [120]},
    )
    low_stock_threshold: int = Field(
        default=None,
        ge=0,
        le=MAX_DB_INT,
        description="At or below this stock a low-stock alert opens "
        "(default: the LOW_STOCK_THRESHOLD setting).",
        schema_extra={"examples": [10]},
    )
    sku: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        unique=True,
        description="Stock keeping unit, up to 64 characters, unique when present.",
        schema_extra={"examples": ["HOSE-25"]},
    )
    created_at: datetime | None = _now_column()
    updated_at: datetime | None = _now_column()
    version: int = Field(
        default=1,
        sa_column_kwargs={"server_default": text("1")},
        description="Goes up by one with every change; send it back in `If-Match`.",
    )

    categories: list[Category] = Relationship(
        back_populates="products",
        link_model=ProductCategory,
        sa_relationship_kwargs={"lazy": "selectin", "order_by": "Category.id"},
    )


class ProductCount(SQLModel, table=True):
    """A share of the number of products, kept exact by triggers on `products` (migration 0005),
    so an unfiltered list sums a few rows instead of counting a million. The count is split
    over slots so that concurrent inserts rarely wait on one another."""

    __tablename__ = "product_counts"

    slot: int = Field(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    products: int = Field(sa_type=BigInteger)


class StockMovement(SQLModel, table=True):
    """One change of a product's stock: the ledger sums to the stock."""

    __tablename__ = "stock_movements"
    __table_args__ = (
        CheckConstraint("delta <> 0", name="ck_stock_movements_delta_non_zero"),
        CheckConstraint("quantity_after >= 0", name="ck_stock_movements_quantity_non_negative"),
        Index("ix_stock_movements_product_id", "product_id", "id"),
    )

    id: int | None = _id_column(sa_type=BigInteger)
    product_id: int = Field(
        sa_column=Column(Integer, ForeignKey("products.id", ondelete="CASCADE"), nullable=False)
    )
    delta: int = Field(
        ge=-MAX_DB_INT,
        le=MAX_DB_INT,
        description="Units added (positive) or taken (negative); never 0.",
        schema_extra={"examples": [-3]},
    )
    quantity_after: int = Field(description="The stock right after this change.")
    reason: str = Field(
        min_length=1,
        max_length=200,
        description="Why the stock changed, 1–200 characters.",
        schema_extra={"examples": ["order #1042 shipped"]},
    )
    reference: str | None = Field(
        default=None,
        max_length=200,
        description="An outside reference such as an order or delivery number.",
        schema_extra={"examples": ["SO-1042"]},
    )
    user_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        description="Who made the change (empty once that user is deleted).",
    )
    created_at: datetime | None = _now_column()


class LowStockAlert(SQLModel, table=True):
    """Opened when stock falls to the threshold or below; resolved when it rises above it."""

    __tablename__ = "low_stock_alerts"
    __table_args__ = (
        Index(
            "ux_low_stock_alerts_active_product",
            "product_id",
            unique=True,
            postgresql_where=text("active"),
        ),
        Index("ix_low_stock_alerts_created", "created_at", "id"),
    )

    id: int | None = _id_column()
    product_id: int = Field(
        sa_column=Column(Integer, ForeignKey("products.id", ondelete="CASCADE"), nullable=False)
    )
    quantity: int = Field(description="The stock when the alert opened.")
    threshold: int = Field(description="The threshold when the alert opened.")
    active: bool = Field(
        default=True, description="True until the stock rises above the threshold."
    )
    created_at: datetime | None = _now_column()
    resolved_at: datetime | None = Field(
        default=None,
        sa_type=DateTime(timezone=True),
        description="When it was resolved.",
    )


class IdempotencyKey(SQLModel, table=True):
    """The first result of a stock adjustment sent with an `Idempotency-Key`, kept for 24 hours."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("ix_idempotency_keys_created_at", "created_at"),)

    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    )
    key: str = Field(max_length=200, primary_key=True)
    request_fingerprint: str = Field(max_length=64)
    status_code: int
    response_body: str
    created_at: datetime | None = _now_column()


class LoginFailure(SQLModel, table=True):
    """A failed login, counted per username and per client address to throttle guessing."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_username", "username", "created_at"),
        Index("ix_login_failures_address", "client_address", "created_at"),
    )

    id: int | None = _id_column(sa_type=BigInteger)
    username: str = Field(max_length=255)
    client_address: str = Field(max_length=64)
    created_at: datetime | None = _now_column()


# ---------------------------------------------------------------------------------------------
# API shapes, derived from the table classes above.


class ApiModel(BaseModel):
    """Base of every request and response shape: unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid", from_attributes=True)


def _strict_scalars(annotation: Any) -> Any:
    """Integers and booleans must come as JSON integers and booleans: no "5", 1.0 or 0 for false."""
    if annotation in (int, bool):
        return Annotated[annotation, Strict()]
    if get_origin(annotation) in (Union, UnionType):
        return Union[tuple(_strict_scalars(arg) for arg in get_args(annotation))]  # noqa: UP007
    return annotation


def _with_default(info: FieldInfo, default: Any) -> FieldInfo:
    """A copy of `info` with another default (PydanticUndefined: required)."""
    changed = copy.copy(info)
    changed.default, changed.default_factory = default, None
    # create_model rebuilds each field from the attributes recorded as set: change them too.
    attributes = {**info._attributes_set, "default": default, "default_factory": None}
    if default is PydanticUndefined:
        del attributes["default"]
    changed._attributes_set = attributes
    return changed


def _without_none(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, UnionType):
        members = tuple(arg for arg in get_args(annotation) if arg is not type(None))
        return members[0] if len(members) == 1 else Union[members]  # noqa: UP007
    return annotation


def derive_model(
    source: type[SQLModel],
    name: str,
    *,
    include: tuple[str, ...],
    optional: bool = False,
    response: bool = False,
    extra: dict[str, Any] | None = None,
    doc: str | None = None,
) -> type[ApiModel]:
    """Build an API shape from some of `source`'s fields, keeping their limits and docs.

    With `optional=True` every field may be left out (for PATCH); a field that is not nullable
    still refuses an explicit `null`. With `response=True` every field is always present, and
    null only where the column is nullable.
    """
    fields: dict[str, Any] = {}
    for field_name in include:
        info = source.model_fields[field_name]
        annotation = _strict_scalars(info.annotation)
        if optional:
            info = _with_default(info, None)
        if response:
            info = _with_default(info, PydanticUndefined)
            if not source.__table__.columns[field_name].nullable:
                annotation = _without_none(annotation)
        fields[field_name] = (annotation, info)
    model = create_model(name, __base__=ApiModel, __doc__=doc, **fields, **(extra or {}))
    return model


USER_FIELDS = ("id", "username", "role", "is_active", "created_at")
UserRead = derive_model(
    User, "UserRead", include=USER_FIELDS, response=True, doc="A user, never with a password."
)
UserRegister = derive_model(
    User,
    "UserRegister",
    include=("username",),
    extra={
        "password": (Password, password_field()),
        "role": (
            Role | None,
            Field(
                default=None,
                description="Only an admin may choose a role; else `viewer`.",
            ),
        ),
    },
    doc="Sign-up: a username and a password.",
)
UserCreate = derive_model(
    User,
    "UserCreate",
    include=("username", "role", "is_active"),
    extra={"password": (Password, password_field())},
    doc="A user made by an admin, with any role.",
)
UserUpdate = derive_model(
    User,
    "UserUpdate",
    include=("role", "is_active"),
    optional=True,
    extra={"password": (Password | None, password_field(default=None))},
    doc="Change a user's role, active flag or password; fields left out stay as they are.",
)

CATEGORY_WRITABLE = ("name", "description")
CategoryRead = derive_model(
    Category, "CategoryRead", include=("id", *CATEGORY_WRITABLE), response=True
)
CategoryCreate = derive_model(Category, "CategoryCreate", include=CATEGORY_WRITABLE)
CategoryUpdate = derive_model(Category, "CategoryUpdate", include=CATEGORY_WRITABLE, optional=True)
CategoryRef = derive_model(
    Category,
    "CategoryRef",
    include=("id", "name"),
    response=True,
    doc="A category a product belongs to.",
)

CATEGORY_IDS_FIELD = Field(
    default=None,
    max_length=100,
    description="The ids of the product's categories; replaces the current set.",
    schema_extra={"examples": [[1, 2]]},
)
PRODUCT_WRITABLE = (
    "name",
    "description",
    "price",
    "stock_quantity",
    "low_stock_threshold",
    "sku",
)
ProductCreate = derive_model(
    Product,
    "ProductCreate",
    include=PRODUCT_WRITABLE,
    extra={"category_ids": (list[DbId] | None, CATEGORY_IDS_FIELD)},
    doc="A new product.",
)
ProductUpdate = derive_model(
    Product,
    "ProductUpdate",
    include=PRODUCT_WRITABLE,
    optional=True,
    extra={"category_ids": (list[DbId] | None, CATEGORY_IDS_FIELD)},
    doc="A partial change: fields left out stay as they are.",
)
ProductRead = derive_model(
    Product,
    "ProductRead",
    include=("id", *PRODUCT_WRITABLE, "created_at", "updated_at", "version"),
    response=True,
    extra={"categories": (list[CategoryRef], Field(description="The product's categories."))},
    doc="A product with its categories.",
)

MOVEMENT_FIELDS = (
    "id",
    "product_id",
    "delta",
    "quantity_after",
    "reason",
    "reference",
    "user_id",
    "created_at",
)
StockMovementRead = derive_model(
    StockMovement, "StockMovementRead", include=MOVEMENT_FIELDS, response=True
)
StockAdjustment = derive_model(
    StockMovement,
    "StockAdjustment",
    include=("delta", "reason", "reference"),
    doc="Add (positive delta) or take (negative delta) units of stock.",
)
LowStockAlertRead = derive_model(
    LowStockAlert,
    "LowStockAlertRead",
    response=True,
    include=(
        "id",
        "product_id",
        "quantity",
        "threshold",
        "active",
        "created_at",
        "resolved_at",
    ),
)
