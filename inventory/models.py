"""The entities and their API shapes.

One SQLModel table class per entity, and plain shape classes beside it (`ProductCreate`,
`ProductUpdate`, `ProductRead`, ...). Each field's limits, description and example are written
once, in an `Annotated` type below that the table and the shapes share, so a limit changed here
changes the table, the validation and the OpenAPI text together. The database enforces the same
rules again (CHECK, UNIQUE, FK).

Request shapes refuse unknown fields and take integers and booleans only as JSON integers and
booleans. In a partial update (`...Update`) a field may be left out (`MISSING`); it is `null`
only where the column is nullable.
"""

import re
import uuid
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any, Generic, TypeVar, get_args

from pgvector.sqlalchemy import Vector
from pydantic import (
    MISSING,
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    Strict,
    TypeAdapter,
    WithJsonSchema,
)
from pydantic import Field as Describe
from pydantic.fields import FieldInfo
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
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, Relationship, SQLModel

USERNAME_PATTERN = r"^[A-Za-z0-9._-]+$"
BCRYPT_MAX_BYTES = 72
MAX_DB_INT = 2**31 - 1
"""The largest value of a PostgreSQL `integer` column (ids, quantities)."""
SEARCH_DOCUMENT = (
    "to_tsvector('english'::regconfig, "
    "(name::text || ' '::text) || COALESCE(description, ''::character varying)::text)"
)
"""A product's words for full-text search (hybrid search's word side), spelled as PostgreSQL
prints it back so that the migrations' comparison with the models sees no change."""
EMBEDDING_DIMENSION = 256
"""The size of the default embedder's vectors (`wordllama:l2_supercat_256`). A model of another
size retypes the column when `python -m inventory reindex` first runs with it."""


class Role(StrEnum):
    """What a user may do: `admin` all; `manager` read and write, no deletes; `viewer` read."""

    admin = "admin"
    manager = "manager"
    viewer = "viewer"


# ---------------------------------------------------------------------------------------------
# Field types: each field's limits, docs and example, once.


def _without_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; say so instead of failing at the database.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _two_places(value: Decimal) -> Decimal:
    """Normalise a price to exactly two decimal places, refusing anything that would round."""
    try:
        rounded = value.quantize(Decimal("0.01"))
    except InvalidOperation as error:
        raise ValueError("price must be a finite number below 10^10") from error
    if rounded != value:
        raise ValueError("price must have at most 2 decimal places")
    return rounded


PRICE_TEXT = re.compile(r"[0-9]{1,10}(\.[0-9]{1,2})?")


def _plain_price_text(value: object) -> object:
    """A price sent as a string is plain digits with at most 2 decimals, as documented."""
    if isinstance(value, str) and not PRICE_TEXT.fullmatch(value):
        raise ValueError("a price string must be digits with at most 2 decimal places, like 19.99")
    return value


def _fits_bcrypt(value: str) -> str:
    if len(value.encode()) > BCRYPT_MAX_BYTES:
        raise ValueError(f"password must be at most {BCRYPT_MAX_BYTES} bytes in UTF-8")
    return value


def _not_zero(value: int) -> int:
    if value == 0:
        raise ValueError("delta must not be 0")
    return value


WITHOUT_NUL = AfterValidator(_without_nul)
"""Text as PostgreSQL stores it: anything but NUL. It follows a text type's limits in its
`Annotated`, so that they keep pydantic's plain messages ("at least 8 characters")."""

Count = Annotated[int, Strict(), Describe(ge=0, le=MAX_DB_INT)]
"""A number of units: a JSON integer from 0 to 2^31 − 1."""

DbId = Annotated[int, Strict(), Describe(ge=1, le=MAX_DB_INT)]
"""A row id in a request body: a JSON integer from 1 to 2^31 − 1."""

ServerId = Annotated[int, Describe(description="Set by the server.", examples=[1])]
ServerTime = Annotated[
    datetime, Describe(description="Set by the server.", examples=["2026-11-25T09:30:00Z"])
]

Username = Annotated[
    str,
    Describe(
        min_length=3,
        max_length=50,
        pattern=USERNAME_PATTERN,
        description="3–50 characters of letters, digits, `.`, `_` and `-`; unique ignoring case.",
        examples=["alice"],
    ),
    WITHOUT_NUL,
]
Password = Annotated[
    str,
    Describe(
        min_length=8,
        description="8 characters to 72 bytes (bcrypt's limit: longer is refused, not truncated).",
        examples=["correct-horse-42"],
    ),
    WITHOUT_NUL,
    AfterValidator(_fits_bcrypt),
]
IsActive = Annotated[
    bool,
    Strict(),
    Describe(description="A disabled user cannot log in and their tokens stop working."),
]
UserRole = Annotated[Role, Describe(description="`admin`, `manager` or `viewer`.")]

CategoryName = Annotated[
    str,
    Describe(
        min_length=1,
        max_length=100,
        description="1–100 characters, unique ignoring case.",
        examples=["Garden"],
    ),
    WITHOUT_NUL,
]
CategoryDescription = Annotated[
    str,
    Describe(
        max_length=2000,
        description="Up to 2,000 characters.",
        examples=["Tools and furniture for the garden"],
    ),
    WITHOUT_NUL,
]

ProductName = Annotated[
    str,
    Describe(
        min_length=1, max_length=200, description="1–200 characters.", examples=["Garden hose 25 m"]
    ),
    WITHOUT_NUL,
]
ProductDescription = Annotated[
    str,
    Describe(
        max_length=5000,
        description="Up to 5,000 characters.",
        examples=["Kink-resistant, with brass fittings."],
    ),
    WITHOUT_NUL,
]
MONEY_DOC = (
    "At least 0, at most 2 decimal places, below 10^10; "
    "sent as a JSON number or string, returned as a string with exactly 2 places."
)
Money = Annotated[
    Decimal,
    BeforeValidator(_plain_price_text),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "exclusiveMaximum": 10**10, "multipleOf": 0.01},
                {"type": "string", "pattern": f"^{PRICE_TEXT.pattern}$"},
            ],
            "description": MONEY_DOC,
            "examples": ["19.99"],
        },
        mode="validation",
    ),
    Describe(
        ge=0,
        lt=10**10,
        max_digits=12,
        decimal_places=2,
        description=MONEY_DOC,
        examples=["19.99"],
    ),
    AfterValidator(_two_places),
    PlainSerializer(lambda value: f"{value:.2f}", return_type=str, when_used="json"),
]
"""An exact amount: a JSON number or string in, a string with exactly two places out."""

StockQuantity = Annotated[
    Count,
    Describe(description="Units in stock (on hand, all locations); never below 0.", examples=[120]),
]
Reserved = Annotated[
    Count,
    Describe(
        description="Units held by active reservations (all locations); set by the server.",
        examples=[20],
    ),
]
Available = Annotated[
    Count,
    Describe(
        description="Units that can be sold, moved or reserved: in stock less reserved.",
        examples=[100],
    ),
]
LowStockThreshold = Annotated[
    Count,
    Describe(
        description="At or below this stock a low-stock alert opens "
        "(when left out on create: the LOW_STOCK_THRESHOLD setting).",
        examples=[10],
    ),
]
Sku = Annotated[
    str,
    Describe(
        min_length=1,
        max_length=64,
        description="Stock keeping unit, up to 64 characters, unique when present.",
        examples=["HOSE-25"],
    ),
    WITHOUT_NUL,
]
CategoryIds = Annotated[
    list[DbId],
    Describe(
        max_length=100,
        description="The ids of the product's categories; replaces the current set.",
        examples=[[1, 2]],
    ),
]
Version = Annotated[
    int, Describe(description="Goes up by one with every change; send it back in `If-Match`.")
]

Delta = Annotated[
    int,
    Strict(),
    Describe(
        ge=-MAX_DB_INT,
        le=MAX_DB_INT,
        description="Units added (positive) or taken (negative); never 0.",
        examples=[-3],
        json_schema_extra={"not": {"const": 0}},
    ),
    AfterValidator(_not_zero),
]
Reason = Annotated[
    str,
    Describe(
        min_length=1,
        max_length=200,
        description="Why the stock changed, 1–200 characters.",
        examples=["order #1042 shipped"],
    ),
    WITHOUT_NUL,
]
Reference = Annotated[
    str,
    Describe(
        max_length=200,
        description="An outside reference such as an order or delivery number.",
        examples=["SO-1042"],
    ),
    WITHOUT_NUL,
]


def docs_of(field_type: object) -> FieldInfo:
    """The description and examples of `field_type`, for the property of a nullable field
    (pydantic would otherwise show them inside the `anyOf` only)."""
    infos = [meta for meta in get_args(field_type)[1:] if isinstance(meta, FieldInfo)]
    description = next((info.description for info in reversed(infos) if info.description), None)
    examples = next((info.examples for info in reversed(infos) if info.examples), None)
    return Describe(description=description, examples=examples)


def varchar(field_type: object) -> String:
    """The VARCHAR column of a nullable text field, sized by the field type's `max_length`
    (SQLModel sizes a required one by itself, but not one inside `| None`)."""
    return String(TypeAdapter(field_type).json_schema()["maxLength"])


def _now_column() -> datetime | None:
    return Field(
        default=None,
        sa_column_kwargs={"server_default": func.now(), "nullable": False},
        sa_type=DateTime(timezone=True),
    )


CategoryDescriptionOrNull = Annotated[CategoryDescription | None, docs_of(CategoryDescription)]
ProductDescriptionOrNull = Annotated[ProductDescription | None, docs_of(ProductDescription)]
SkuOrNull = Annotated[Sku | None, docs_of(Sku)]
CategoryIdsOrNull = Annotated[CategoryIds | None, docs_of(CategoryIds)]
ReferenceOrNull = Annotated[Reference | None, docs_of(Reference)]
LowStockThresholdOrNull = Annotated[LowStockThreshold | None, docs_of(LowStockThreshold)]

LOCATION_CODE_PATTERN = r"^[A-Z0-9_-]+$"

LocationName = Annotated[
    str,
    Describe(
        min_length=1,
        max_length=100,
        description="1–100 characters, unique ignoring case.",
        examples=["Leeds warehouse"],
    ),
    WITHOUT_NUL,
]
LocationCode = Annotated[
    str,
    Describe(
        min_length=1,
        max_length=32,
        pattern=LOCATION_CODE_PATTERN,
        description="A short code of `A-Z`, `0-9`, `_` and `-` (1–32), unique when present.",
        examples=["LDS-1"],
    ),
    WITHOUT_NUL,
]
LocationDescription = Annotated[
    str,
    Describe(
        max_length=2000,
        description="Up to 2,000 characters.",
        examples=["Unit 4, Cross Green industrial estate"],
    ),
    WITHOUT_NUL,
]
IsDefault = Annotated[
    bool,
    Strict(),
    Describe(
        description="The default location takes the stock changes and reservations that name "
        "no location; exactly one location is the default. Setting it true moves the default "
        "here."
    ),
]
LocationCodeOrNull = Annotated[LocationCode | None, docs_of(LocationCode)]
LocationDescriptionOrNull = Annotated[LocationDescription | None, docs_of(LocationDescription)]
LocationRef = Annotated[DbId, Describe(description="A location's id.", examples=[2])]
LocationRefOrNull = Annotated[
    LocationRef | None,
    Describe(description="A location's id (the default location when left out).", examples=[2]),
]
ProductRef = Annotated[DbId, Describe(description="A product's id.", examples=[42])]
Units = Annotated[
    int,
    Strict(),
    Describe(ge=1, le=MAX_DB_INT, description="A number of units, at least 1.", examples=[3]),
]
FormerLocation = Annotated[
    int | None, Describe(description="Empty once that location is deleted.", examples=[1])
]
TtlSeconds = Annotated[
    int,
    Strict(),
    Describe(
        ge=60,
        le=604800,
        description="How long the stock is held unless committed or released first: "
        "60 seconds to 7 days (default 15 minutes).",
        examples=[900],
    ),
]


Item = TypeVar("Item")


class Page(BaseModel, Generic[Item]):
    """One page of a list: every list answers `{items, total, limit, offset}`."""

    items: list[Item] = Describe(description="This page's items.")
    total: int = Describe(description="How many items match, over all pages.", examples=[120])
    limit: int = Describe(description="The page size asked for.", examples=[50])
    offset: int = Describe(description="How many matching items were skipped.", examples=[0])


class RequestModel(SQLModel):
    """Base of every request body: unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------------------------------------
# Users.


class User(SQLModel, table=True):
    """A person or system that calls the API."""

    __tablename__ = "users"
    __table_args__ = (
        Index("ux_users_username_lower", func.lower(text("username")), unique=True),
        CheckConstraint("role IN ('admin', 'manager', 'viewer')", name="ck_users_role"),
        CheckConstraint("token_version >= 0", name="ck_users_token_version"),
    )

    id: int | None = Field(default=None, primary_key=True)
    username: Username
    password_hash: str = Field(max_length=255)
    role: UserRole = Field(default=Role.viewer, sa_type=String(16))
    is_active: IsActive = Field(default=True, sa_column_kwargs={"server_default": text("true")})
    created_at: datetime | None = _now_column()
    token_version: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    """Carried in every token; a change of password or active flag increments it, which ends
    every token issued before."""


class UserRead(SQLModel):
    """A user, never with a password."""

    id: ServerId
    username: Username
    role: UserRole
    is_active: IsActive
    created_at: ServerTime


class UserPage(Page[UserRead]):
    """One page of users."""


class UserRegister(RequestModel):
    """Sign-up: a username and a password."""

    username: Username
    password: Password
    role: Role | None = Describe(
        default=None, description="Only an admin may choose a role; else `viewer`."
    )


class UserCreate(RequestModel):
    """A user made by an admin, with any role."""

    username: Username
    password: Password
    role: UserRole = Role.viewer
    is_active: IsActive = True


class UserUpdate(RequestModel):
    """Change a user's role, active flag or password; fields left out stay as they are."""

    role: UserRole | MISSING = MISSING
    is_active: IsActive | MISSING = MISSING
    password: Password | MISSING = MISSING


# ---------------------------------------------------------------------------------------------
# Categories and products.


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

    id: int | None = Field(default=None, primary_key=True)
    name: CategoryName
    description: CategoryDescriptionOrNull = Field(
        default=None, sa_type=varchar(CategoryDescription)
    )

    products: list["Product"] = Relationship(
        back_populates="categories", link_model=ProductCategory
    )


class CategoryCreate(RequestModel):
    """A new category."""

    name: CategoryName
    description: CategoryDescriptionOrNull = None


class CategoryUpdate(RequestModel):
    """A partial change: fields left out stay as they are."""

    name: CategoryName | MISSING = MISSING
    description: CategoryDescriptionOrNull | MISSING = MISSING


class CategoryRead(SQLModel):
    """A category."""

    id: ServerId
    name: CategoryName
    description: CategoryDescriptionOrNull


class CategoryPage(Page[CategoryRead]):
    """One page of categories."""


class CategoryRef(SQLModel):
    """A category a product belongs to."""

    id: ServerId
    name: CategoryName


class Product(SQLModel, table=True):
    """Something the shop sells, with its price and the quantity in stock."""

    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("price >= 0", name="ck_products_price_non_negative"),
        CheckConstraint("stock_quantity >= 0", name="ck_products_stock_non_negative"),
        CheckConstraint("low_stock_threshold >= 0", name="ck_products_threshold_non_negative"),
        CheckConstraint("reserved >= 0", name="ck_products_reserved_non_negative"),
        # Named to sort after ck_products_stock_non_negative: PostgreSQL tests CHECKs by name.
        CheckConstraint("stock_quantity >= reserved", name="ck_products_stock_not_below_reserved"),
        Index("ix_products_price", "price", "id"),
        Index("ix_products_stock_quantity", "stock_quantity", "id"),
        Index("ix_products_created_at", "created_at", "id"),
        Index("ix_products_name", "name", "id"),
        Index(
            "ix_products_low_stock",
            text("(stock_quantity - reserved)"),
            "id",
            postgresql_where=text("stock_quantity - reserved <= low_stock_threshold"),
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
        Index(
            "ix_products_search_document",
            text(SEARCH_DOCUMENT),
            postgresql_using="gin",
        ),
        Index(
            "ix_products_embedding_hnsw",
            "embedding",
            postgresql_using="hnsw",
            postgresql_ops={"embedding": "vector_cosine_ops"},
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: ProductName
    description: ProductDescriptionOrNull = Field(default=None, sa_type=varchar(ProductDescription))
    price: Money = Field(sa_type=Numeric(12, 2))
    stock_quantity: StockQuantity = 0
    reserved: Reserved = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    low_stock_threshold: LowStockThreshold
    sku: SkuOrNull = Field(default=None, unique=True, sa_type=varchar(Sku))
    created_at: datetime | None = _now_column()
    updated_at: datetime | None = _now_column()
    version: Version = Field(default=1, sa_column_kwargs={"server_default": text("1")})

    categories: list[Category] = Relationship(
        back_populates="products",
        link_model=ProductCategory,
        sa_relationship_kwargs={"lazy": "selectin", "order_by": "Category.id"},
    )
    embedding: Any = Field(
        default=None,
        sa_column=Column(Vector(EMBEDDING_DIMENSION), nullable=True),
        description="The unit vector of the product's name, description and category names "
        "(inventory/embeddings.py), set with every write of them; never in the API.",
    )
    embedding_model: str | None = Field(
        default=None,
        max_length=200,
        description="The EMBEDDING_MODEL that made `embedding`; another value means it is stale.",
    )

    @property
    def available(self) -> int:
        """Units that can be sold, moved or reserved: in stock less reserved."""
        return self.stock_quantity - self.reserved


class ProductCreate(RequestModel):
    """A new product."""

    name: ProductName
    description: ProductDescriptionOrNull = None
    price: Money
    stock_quantity: StockQuantity = 0
    low_stock_threshold: LowStockThresholdOrNull = None
    sku: SkuOrNull = None
    category_ids: CategoryIdsOrNull = None


class ProductUpdate(RequestModel):
    """A partial change: fields left out stay as they are."""

    name: ProductName | MISSING = MISSING
    description: ProductDescriptionOrNull | MISSING = MISSING
    price: Money | MISSING = MISSING
    stock_quantity: StockQuantity | MISSING = MISSING
    low_stock_threshold: LowStockThreshold | MISSING = MISSING
    sku: SkuOrNull | MISSING = MISSING
    category_ids: CategoryIdsOrNull | MISSING = MISSING


class ProductRead(SQLModel):
    """A product with its categories."""

    id: ServerId
    name: ProductName
    description: ProductDescriptionOrNull
    price: Money
    stock_quantity: StockQuantity
    reserved: Reserved
    available: Available
    low_stock_threshold: LowStockThreshold
    sku: SkuOrNull
    created_at: ServerTime
    updated_at: ServerTime
    version: Version
    categories: list[CategoryRef] = Describe(description="The product's categories.")


class ProductPage(Page[ProductRead]):
    """One page of products."""


class ProductCount(SQLModel, table=True):
    """A share of the number of products, kept exact by triggers on `products` (migration 0005),
    so an unfiltered list sums a few rows instead of counting a million. The count is split
    over slots so that concurrent inserts rarely wait on one another."""

    __tablename__ = "product_counts"

    slot: int = Field(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    products: int = Field(sa_type=BigInteger)


# ---------------------------------------------------------------------------------------------
# Stock: the ledger, alerts and idempotent retries.


class StockMovement(SQLModel, table=True):
    """One change of a product's stock: the ledger sums to the stock."""

    __tablename__ = "stock_movements"
    __table_args__ = (
        CheckConstraint("delta <> 0", name="ck_stock_movements_delta_non_zero"),
        CheckConstraint("quantity_after >= 0", name="ck_stock_movements_quantity_non_negative"),
        Index("ix_stock_movements_product_id", "product_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInteger)
    product_id: int = Field(
        sa_column=Column(Integer, ForeignKey("products.id", ondelete="CASCADE"), nullable=False)
    )
    delta: Delta
    quantity_after: int
    reason: Reason
    reference: ReferenceOrNull = Field(default=None, sa_type=varchar(Reference))
    user_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    )
    created_at: datetime | None = _now_column()
    location_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("locations.id", ondelete="SET NULL"), nullable=True, index=True
        ),
    )


class StockAdjustment(RequestModel):
    """Add (positive delta) or take (negative delta) units of stock."""

    delta: Delta
    reason: Reason
    reference: ReferenceOrNull = None
    location_id: LocationRefOrNull = None


class StockMovementRead(SQLModel):
    """One change of stock, as the ledger keeps it."""

    id: ServerId
    product_id: int = Describe(description="The product whose stock changed.")
    delta: Delta
    quantity_after: int = Describe(description="The stock right after this change.")
    reason: Reason
    reference: ReferenceOrNull
    user_id: int | None = Describe(
        description="Who made the change (empty once that user is deleted)."
    )
    created_at: ServerTime
    location_id: int | None = Describe(
        description="Where the stock changed (empty once that location is deleted).", examples=[1]
    )


class StockMovementPage(Page[StockMovementRead]):
    """One page of a product's stock ledger."""


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

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(
        sa_column=Column(Integer, ForeignKey("products.id", ondelete="CASCADE"), nullable=False)
    )
    quantity: int
    threshold: int
    active: bool = True
    created_at: datetime | None = _now_column()
    resolved_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class LowStockAlertRead(SQLModel):
    """A low-stock alert."""

    id: ServerId
    product_id: int = Describe(description="The product running low.")
    quantity: int = Describe(description="The stock when the alert opened.")
    threshold: int = Describe(description="The threshold when the alert opened.")
    active: bool = Describe(description="True until the stock rises above the threshold.")
    created_at: ServerTime
    resolved_at: datetime | None = Describe(description="When it was resolved.")


class LowStockAlertPage(Page[LowStockAlertRead]):
    """One page of low-stock alerts."""


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

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInteger)
    username: str = Field(max_length=255)
    client_address: str = Field(max_length=64)
    created_at: datetime | None = _now_column()


# ---------------------------------------------------------------------------------------------
# Access for systems and sessions: API keys and refresh tokens, their secrets stored as hashes.

SECRET_HASH_LENGTH = 64
"""A SHA-256 digest in hex."""

ApiKeyName = Annotated[
    str,
    Describe(
        min_length=1,
        max_length=100,
        description="What the key is for, 1–100 characters.",
        examples=["storefront"],
    ),
    WITHOUT_NUL,
]
ApiKeyRole = Annotated[
    Role, Describe(description="What the key may do: `admin`, `manager` or `viewer`.")
]
OptionalTime = Annotated[datetime | None, Describe(examples=[None])]


class ApiKey(SQLModel, table=True):
    """A key a system sends instead of logging in. It acts for the admin who made it, with the
    key's own role (never more than that admin's current role)."""

    __tablename__ = "api_keys"
    __table_args__ = (
        Index("ux_api_keys_key_hash", "key_hash", unique=True),
        Index("ix_api_keys_user_id", "user_id"),
        CheckConstraint("role IN ('admin', 'manager', 'viewer')", name="ck_api_keys_role"),
        CheckConstraint("char_length(name) BETWEEN 1 AND 100", name="ck_api_keys_name"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: ApiKeyName
    role: ApiKeyRole = Field(sa_type=String(16))
    prefix: str = Field(max_length=16)
    key_hash: str = Field(max_length=SECRET_HASH_LENGTH)
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    created_at: datetime | None = _now_column()
    last_used_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class ApiKeyCreate(RequestModel):
    """A new API key: what it is for, and what it may do."""

    name: ApiKeyName
    role: ApiKeyRole


class ApiKeyRead(SQLModel):
    """An API key, without its secret."""

    id: ServerId
    name: ApiKeyName
    role: ApiKeyRole
    prefix: str = Describe(
        description="The key's first characters, to tell keys apart.", examples=["inv_Q2xp3Kd"]
    )
    user_id: int = Describe(description="The admin who made the key; it acts for them.")
    created_at: ServerTime
    last_used_at: OptionalTime = Describe(
        description="When the key was last used (recorded at most once a minute)."
    )
    revoked_at: OptionalTime = Describe(description="When the key was revoked.")


class ApiKeyPage(Page[ApiKeyRead]):
    """One page of API keys."""


class ApiKeyCreated(ApiKeyRead):
    """A new API key with its secret, shown only in this answer: store it now."""

    key: str = Describe(
        description="Send it as `X-API-Key: <key>` or `Authorization: Bearer <key>`.",
        examples=["inv_Q2xp3KdV8sT0aZr1mN5bW7cY9eH2jL4uP6oI8gF0kQw"],
    )


class RefreshToken(SQLModel, table=True):
    """One refresh token of a login's family. Each refresh marks the token used and adds the
    next one to the family; a used token presented again revokes the family."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (
        Index("ux_refresh_tokens_token_hash", "token_hash", unique=True),
        Index("ix_refresh_tokens_family_id", "family_id"),
        Index("ix_refresh_tokens_user_id", "user_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInteger)
    family_id: uuid.UUID = Field(sa_type=Uuid)
    token_hash: str = Field(max_length=SECRET_HASH_LENGTH)
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    created_at: datetime | None = _now_column()
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))
    used_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    token_version: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    """The user's token version when this token was issued: once a change of password or active
    flag moves the user's, the token is refused."""


class RefreshRequest(RequestModel):
    """A refresh token from login or the last refresh."""

    refresh_token: str = Describe(
        min_length=1,
        max_length=200,
        description="The `refresh_token` of the last login or refresh.",
        examples=["3q2-7wK9xZbTn4Vd8sQe1LmP0rYc6uJh5gFa2kWo9iE"],
    )


class ReadFence(SQLModel, table=True):
    """How far the primary's write-ahead log had got when a user's latest write committed.

    A replica that has replayed this far holds everything that user wrote, so it may serve
    their reads (see `inventory.replica`). Unlogged: it costs no WAL and no disk flush on every
    write, and it is read on the primary only (a replica cannot read unlogged tables). A crash
    of the primary empties it, which sends nobody a stale read for long: a replica that lags is
    skipped anyway.
    """

    __tablename__ = "read_fences"
    __table_args__ = {"prefixes": ["UNLOGGED"]}

    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    )
    lsn: int = Field(sa_type=BigInteger, description="A WAL position in bytes (pg_lsn - '0/0').")


# ---------------------------------------------------------------------------------------------
# Events (the audit trail) and webhooks (its delivery to other systems).

EVENT_TYPE_PATTERN = r"^[a-z_]+\.[a-z_]+$"
ALL_EVENT_TYPES = "*"

EventType = Annotated[
    str,
    Describe(
        max_length=64,
        pattern=EVENT_TYPE_PATTERN,
        description="What happened: `<entity>.<change>`.",
        examples=["product.updated"],
    ),
]
EntityType = Annotated[
    str,
    Describe(max_length=32, description="The kind of thing that changed.", examples=["product"]),
]
WebhookUrl = Annotated[
    str,
    Describe(
        min_length=1,
        max_length=2000,
        description="Where events are POSTed: an http(s) URL whose host resolves to public "
        "addresses (private, loopback and link-local ones are refused unless the setting "
        "WEBHOOK_ALLOW_PRIVATE_TARGETS is true).",
        examples=["https://hooks.example.com/inventory"],
    ),
    WITHOUT_NUL,
]
EventTypes = Annotated[
    list[Annotated[str, Describe(max_length=64)]],
    Describe(
        min_length=1,
        max_length=100,
        description='The event types to send (like `product.updated`), or `["*"]` for all.',
        examples=[["product.created", "low_stock.opened"]],
    ),
]
WebhookDescription = Annotated[
    str,
    Describe(max_length=500, description="Up to 500 characters.", examples=["Reorder tool"]),
    WITHOUT_NUL,
]
WebhookDescriptionOrNull = Annotated[WebhookDescription | None, docs_of(WebhookDescription)]
WebhookIsActive = Annotated[
    bool,
    Strict(),
    Describe(
        description="Only an active webhook gets events; one failing for a day is turned off. "
        "Turning it on again forgets its failures."
    ),
]


class Event(SQLModel, table=True):
    """One change, written in the transaction of the change: the audit trail and the outbox
    that webhooks deliver from. Ids increase in commit order (see `inventory.events`)."""

    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint(f"type ~ '{EVENT_TYPE_PATTERN}'", name="ck_events_type_format"),
        Index("ix_events_type", "type", "id"),
        Index("ix_events_entity", "entity_type", "entity_id", "id"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    type: str = Field(max_length=64)
    entity_type: str = Field(max_length=32)
    entity_id: int = Field(sa_type=BigInteger)
    actor_user_id: int | None = Field(default=None)
    """Who made the change (kept when the user is deleted: the trail outlives its actors)."""
    request_id: str | None = Field(default=None, max_length=200)
    data: dict[str, Any] = Field(
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    )
    created_at: datetime | None = _now_column()


class EventRead(SQLModel):
    """A change: what, to which entity, by whom, in which request, and its details."""

    id: int = Describe(description="Increases with every event, in commit order.", examples=[42])
    type: EventType
    entity_type: EntityType
    entity_id: int = Describe(description="The id of the thing that changed.", examples=[7])
    actor_user_id: int | None = Describe(
        description="The user who made the change; null for the system.", examples=[1]
    )
    request_id: str | None = Describe(
        description="The X-Request-ID of the request that made it.", examples=["9f1c2d"]
    )
    data: dict[str, Any] = Describe(
        description="Details; an update's `changes` maps each changed field to [old, new].",
        examples=[{"changes": {"price": ["19.99", "17.50"]}}],
    )
    created_at: ServerTime


class EventPage(Page[EventRead]):
    """One page of events."""


class Webhook(SQLModel, table=True):
    """A subscription: the events of the listed types are POSTed, signed, to `url`."""

    __tablename__ = "webhooks"
    __table_args__ = (
        CheckConstraint("cardinality(event_types) >= 1", name="ck_webhooks_event_types"),
    )

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=2000)
    event_types: list[str] = Field(sa_column=Column(ARRAY(String(64)), nullable=False))
    description: str | None = Field(default=None, max_length=500)
    secret: str = Field(max_length=100)
    is_active: bool = Field(default=True, sa_column_kwargs={"server_default": text("true")})
    failing_since: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    created_at: datetime | None = _now_column()


class WebhookCreate(RequestModel):
    """A new subscription."""

    url: WebhookUrl
    event_types: EventTypes
    description: WebhookDescriptionOrNull = None


class WebhookUpdate(RequestModel):
    """A change to a subscription; fields left out stay as they are."""

    url: WebhookUrl | MISSING = MISSING
    event_types: EventTypes | MISSING = MISSING
    description: WebhookDescriptionOrNull | MISSING = MISSING
    is_active: WebhookIsActive | MISSING = MISSING


class WebhookRead(SQLModel):
    """A subscription (its secret is shown once, when it is created)."""

    id: ServerId
    url: WebhookUrl
    event_types: EventTypes
    description: WebhookDescriptionOrNull
    is_active: WebhookIsActive
    failing_since: datetime | None = Describe(
        description="Since when every delivery has failed; null after a success."
    )
    created_at: ServerTime


class WebhookPage(Page[WebhookRead]):
    """One page of webhooks."""


class WebhookCreated(WebhookRead):
    """A new subscription, with its signing secret: store it now, it is never shown again."""

    secret: str = Describe(
        description="The Standard Webhooks signing secret; verify each delivery with it.",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class WebhookDelivery(SQLModel, table=True):
    """One attempt to deliver one event to one subscription."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("webhook_id", "event_id", "attempt", name="uq_webhook_deliveries_attempt"),
        CheckConstraint("attempt >= 1", name="ck_webhook_deliveries_attempt_positive"),
        Index("ix_webhook_deliveries_webhook", "webhook_id", "id"),
        Index("ix_webhook_deliveries_event", "event_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInteger)
    webhook_id: int = Field(
        sa_column=Column(Integer, ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False)
    )
    event_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("events.id", ondelete="CASCADE"), nullable=False)
    )
    attempt: int
    status_code: int | None = Field(default=None, sa_type=SmallInteger)
    error: str | None = Field(default=None, max_length=500)
    duration_ms: int | None = Field(default=None)
    created_at: datetime | None = _now_column()


class WebhookDeliveryRead(SQLModel):
    """One attempt to deliver an event; an attempt under way has neither status nor error."""

    id: ServerId
    event_id: int = Describe(description="The event sent.", examples=[42])
    attempt: int = Describe(description="1 for the first try of this event, then 2, 3...")
    status_code: int | None = Describe(
        description="The receiver's HTTP status; null if none came.", examples=[200]
    )
    error: str | None = Describe(
        description="Why the attempt failed; null on success.",
        examples=["the receiver answered 500"],
    )
    duration_ms: int | None = Describe(description="How long the attempt took.", examples=[84])
    created_at: ServerTime


class WebhookDeliveryPage(Page[WebhookDeliveryRead]):
    """One page of delivery attempts."""


class WebhookRedelivery(SQLModel):
    """An event queued to be sent to a webhook again."""

    webhook_id: int = Describe(examples=[3])
    event_id: int = Describe(examples=[42])


def compared_with_migrations(name: str | None, type_: str, parent_names: dict[str, Any]) -> bool:
    """Alembic's `include_name`: the job queue's tables (created from procrastinate's own SQL
    by migration 0007) have no model class here, so autogenerate leaves them out."""
    return not (type_ == "table" and name is not None and name.startswith("procrastinate_"))


# ---------------------------------------------------------------------------------------------
# Locations, stock per location, transfers and reservations.


class Location(SQLModel, table=True):
    """A place that holds stock: a warehouse, a store, a back room. Exactly one is the default."""

    __tablename__ = "locations"
    __table_args__ = (
        Index("ux_locations_name_lower", func.lower(text("name")), unique=True),
        # At most one default; inventory/locations.py moves it under a lock, so never none.
        Index(
            "ux_locations_one_default",
            "is_default",
            unique=True,
            postgresql_where=text("is_default"),
        ),
        CheckConstraint(f"code ~ '{LOCATION_CODE_PATTERN}'", name="ck_locations_code_format"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: LocationName
    code: LocationCodeOrNull = Field(default=None, unique=True, sa_type=varchar(LocationCode))
    description: LocationDescriptionOrNull = Field(
        default=None, sa_type=varchar(LocationDescription)
    )
    is_default: IsDefault = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    created_at: datetime | None = _now_column()


class LocationCreate(RequestModel):
    """A new location."""

    name: LocationName
    code: LocationCodeOrNull = None
    description: LocationDescriptionOrNull = None
    is_default: IsDefault = False


class LocationUpdate(RequestModel):
    """A partial change: fields left out stay as they are."""

    name: LocationName | MISSING = MISSING
    code: LocationCodeOrNull | MISSING = MISSING
    description: LocationDescriptionOrNull | MISSING = MISSING
    is_default: IsDefault | MISSING = MISSING


class LocationRead(SQLModel):
    """A location."""

    id: ServerId
    name: LocationName
    code: LocationCodeOrNull
    description: LocationDescriptionOrNull
    is_default: IsDefault
    created_at: ServerTime


class LocationPage(Page[LocationRead]):
    """One page of locations."""


class StockLevel(SQLModel, table=True):
    """The stock of one product at one location. A trigger (migration 0011) adds every change of
    `on_hand` and `reserved` to the product's `stock_quantity` and `reserved`, so the product
    always holds the sums over its locations."""

    __tablename__ = "stock_levels"
    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="ck_stock_levels_on_hand_non_negative"),
        CheckConstraint("reserved >= 0", name="ck_stock_levels_reserved_non_negative"),
        CheckConstraint("reserved <= on_hand", name="ck_stock_levels_reserved_within_on_hand"),
        Index("ix_stock_levels_location_id", "location_id", "product_id"),
    )

    product_id: int = Field(
        sa_column=Column(Integer, ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    )
    # No cascade: a location is deleted only once its levels are empty (inventory/locations.py).
    location_id: int = Field(
        sa_column=Column(Integer, ForeignKey("locations.id"), primary_key=True)
    )
    on_hand: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    reserved: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})


class StockLevelRead(SQLModel):
    """A product's stock at one location."""

    location_id: int = Describe(examples=[2])
    location_name: LocationName
    on_hand: Count = Describe(description="Units physically there.", examples=[30])
    reserved: Count = Describe(description="Units held there by active reservations.", examples=[4])
    available: Count = Describe(
        description="Units that can be sold, moved or reserved: on hand less reserved.",
        examples=[26],
    )


class StockLevelPage(Page[StockLevelRead]):
    """One page of a product's stock levels."""


class StockTransfer(SQLModel, table=True):
    """Units moved from one location to another; its two ledger rows are written with it."""

    __tablename__ = "stock_transfers"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="ck_stock_transfers_quantity_positive"),
        CheckConstraint(
            "from_location_id <> to_location_id", name="ck_stock_transfers_distinct_locations"
        ),
        Index("ix_stock_transfers_product_id", "product_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(
        sa_column=Column(Integer, ForeignKey("products.id", ondelete="CASCADE"), nullable=False)
    )
    from_location_id: int | None = Field(
        sa_column=Column(Integer, ForeignKey("locations.id", ondelete="SET NULL"), nullable=True)
    )
    to_location_id: int | None = Field(
        sa_column=Column(Integer, ForeignKey("locations.id", ondelete="SET NULL"), nullable=True)
    )
    quantity: int
    reason: Reason
    reference: ReferenceOrNull = Field(default=None, sa_type=varchar(Reference))
    user_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    )
    created_at: datetime | None = _now_column()


class StockTransferCreate(RequestModel):
    """Move units of a product from one location to another."""

    product_id: ProductRef
    from_location_id: LocationRef
    to_location_id: LocationRef
    quantity: Units
    reason: Reason
    reference: ReferenceOrNull = None


class StockTransferRead(SQLModel):
    """A transfer that happened; its two ledger rows carry its reason and reference."""

    id: ServerId
    product_id: int = Describe(examples=[42])
    from_location_id: FormerLocation
    to_location_id: FormerLocation
    quantity: Units
    reason: Reason
    reference: ReferenceOrNull
    user_id: int | None = Describe(description="Who moved it (empty once that user is deleted).")
    created_at: ServerTime


class StockTransferPage(Page[StockTransferRead]):
    """One page of stock transfers."""


class ReservationStatus(StrEnum):
    """Where a reservation is in its life: it holds stock only while `active`."""

    active = "active"
    committed = "committed"
    released = "released"
    expired = "expired"


class Reservation(SQLModel, table=True):
    """Stock held for a cart or an order until it is committed, released or expires.

    `status` is `active` in the row until a commit, a release or the expiry sweep changes it;
    once `expires_at` has passed, an active row reads `expired` (inventory/reservations.py)."""

    __tablename__ = "reservations"
    __table_args__ = (
        CheckConstraint(
            "status IN ('active', 'committed', 'released', 'expired')",
            name="ck_reservations_status",
        ),
        CheckConstraint(
            "(status = 'committed') = (committed_at IS NOT NULL)",
            name="ck_reservations_committed_at",
        ),
        CheckConstraint(
            "(status = 'released') = (released_at IS NOT NULL)",
            name="ck_reservations_released_at",
        ),
        Index("ix_reservations_due", "expires_at", postgresql_where=text("status = 'active'")),
        Index("ix_reservations_reference", "reference", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    status: ReservationStatus = Field(default=ReservationStatus.active, sa_type=String(16))
    reference: ReferenceOrNull = Field(default=None, sa_type=varchar(Reference))
    user_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    )
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))
    created_at: datetime | None = _now_column()
    committed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    released_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class ReservationLine(SQLModel, table=True):
    """Units of one product held at one location by a reservation.

    `holding` is true while the units count in the level's `reserved`; `expires_at` is the
    reservation's, copied so that a product's due holds are found by one index."""

    __tablename__ = "reservation_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="ck_reservation_lines_quantity_positive"),
        Index(
            "ux_reservation_lines_item",
            "reservation_id",
            "product_id",
            "location_id",
            unique=True,
        ),
        Index("ix_reservation_lines_product_id", "product_id", "reservation_id"),
        Index(
            "ix_reservation_lines_holding",
            "product_id",
            "expires_at",
            postgresql_where=text("holding"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInteger)
    reservation_id: int = Field(
        sa_column=Column(Integer, ForeignKey("reservations.id", ondelete="CASCADE"), nullable=False)
    )
    product_id: int = Field(
        sa_column=Column(Integer, ForeignKey("products.id", ondelete="CASCADE"), nullable=False)
    )
    location_id: int | None = Field(
        sa_column=Column(Integer, ForeignKey("locations.id", ondelete="SET NULL"), nullable=True)
    )
    quantity: int
    holding: bool = Field(default=True, sa_column_kwargs={"server_default": text("true")})
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))


class ReservationItem(RequestModel):
    """Units of one product to hold at one location."""

    product_id: ProductRef
    quantity: Units
    location_id: LocationRefOrNull = None


class ReservationCreate(RequestModel):
    """Hold stock for a cart or an order: every line, or none."""

    items: list[ReservationItem] = Describe(
        min_length=1,
        max_length=100,
        description="1–100 lines; each product at most once per location.",
        examples=[
            [{"product_id": 42, "quantity": 2}, {"product_id": 7, "quantity": 1, "location_id": 2}]
        ],
    )
    ttl_seconds: TtlSeconds = 900
    reference: ReferenceOrNull = None


class ReservationLineRead(SQLModel):
    """Units of a product a reservation holds (or held) at a location."""

    product_id: int = Describe(examples=[42])
    location_id: FormerLocation
    quantity: Units


class ReservationRead(SQLModel):
    """A reservation. It holds stock only while `active`; past `expires_at` it reads
    `expired` whether or not the sweep has marked it yet."""

    id: ServerId
    status: ReservationStatus = Describe(
        description="`active`, `committed`, `released` or `expired`."
    )
    items: list[ReservationLineRead]
    reference: ReferenceOrNull
    user_id: int | None = Describe(description="Who made it (empty once that user is deleted).")
    expires_at: datetime = Describe(
        description="When it stops holding stock.", examples=["2026-11-30T09:45:00Z"]
    )
    created_at: ServerTime
    committed_at: datetime | None = Describe(description="When it was committed.")
    released_at: datetime | None = Describe(description="When it was released.")


class ReservationPage(Page[ReservationRead]):
    """One page of reservations."""


class Shortage(SQLModel):
    """A reservation line that could not be held."""

    product_id: int = Describe(examples=[42])
    location_id: int = Describe(examples=[1])
    requested: int = Describe(examples=[3])
    available: int = Describe(examples=[1])
