"""Product reads are written as JSON by PostgreSQL; they must say exactly what the response
model says for the same row, byte for byte, whatever the row holds."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import update
from sqlmodel import Session

from inventory.models import Category, Product, ProductRead

PRODUCTS = "/api/v1/products"
AWKWARD_TEXT = [
    'quote " backslash \\ slash / <script>',
    "control \x01\x1f tab\t newline\n delete \x7f",
    "accents éß, CJK 漢字, emoji 🧪, right-to-left ‏שלום",
]


def model_json(db: Session, product_id: int) -> str:
    """What ProductRead writes for the product as the database holds it now."""
    product = db.get(Product, product_id, populate_existing=True)
    db.refresh(product, ["categories"])
    product.categories.sort(key=lambda category: category.id)
    return ProductRead.model_validate(product).model_dump_json()


def add_product(db: Session, categories: list[Category], **fields) -> int:
    product = Product(low_stock_threshold=2, stock_quantity=7, **fields, categories=categories)
    db.add(product)
    db.commit()
    return product.id


@pytest.fixture
def awkward_products(db: Session) -> list[int]:
    """Products with every kind of value a field can hold."""
    tools, garden = Category(name='Tools ü "x"'), Category(name="Garden", description="\x02")
    db.add_all([tools, garden])
    db.commit()
    ids = [
        add_product(db, [], name=AWKWARD_TEXT[0], price="0", description=None, sku=None),
        add_product(db, [garden, tools], name=AWKWARD_TEXT[1], price="0.10", sku="S-1"),
        add_product(db, [tools], name="n", description=AWKWARD_TEXT[2], price="9999999999.99"),
    ]
    # Times with and without microseconds (the model leaves the fraction out when it is zero).
    whole_second = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    db.execute(update(Product).where(Product.id == ids[0]).values(created_at=whole_second))
    db.execute(
        update(Product)
        .where(Product.id == ids[1])
        .values(updated_at=datetime(2026, 1, 2, 3, 4, 5, 10, tzinfo=UTC))
    )
    db.commit()
    return ids


def test_a_product_read_is_the_models_json_byte_for_byte(client, viewer, db, awkward_products):
    for product_id in awkward_products:
        response = client.get(f"{PRODUCTS}/{product_id}", headers=viewer)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.text == model_json(db, product_id)


def test_a_page_of_products_is_the_models_json_byte_for_byte(client, viewer, db, awkward_products):
    response = client.get(PRODUCTS, params={"sort": "-id"}, headers=viewer)
    assert response.status_code == 200
    items = ",".join(model_json(db, product_id) for product_id in reversed(awkward_products))
    assert response.text == f'{{"items":[{items}],"total":3,"limit":50,"offset":0}}'


def test_a_text_search_page_is_the_same_json(client, viewer, db, awkward_products):
    response = client.get(PRODUCTS, params={"q": "emoji"}, headers=viewer)
    assert response.status_code == 200
    assert response.json()["items"] == [response_of(client, viewer, awkward_products[2])]


def response_of(client, headers: dict[str, str], product_id: int) -> dict:
    return client.get(f"{PRODUCTS}/{product_id}", headers=headers).json()


def test_what_a_write_answers_is_what_a_read_answers(client, manager, category):
    created = client.post(
        PRODUCTS,
        json={"name": "Hose", "price": 12.5, "sku": "H-1", "category_ids": [category["id"]]},
        headers=manager,
    )
    assert created.status_code == 201
    read = client.get(created.headers["Location"], headers=manager)
    assert read.text == created.text
    assert read.headers["ETag"] == created.headers["ETag"]


def test_the_low_stock_page_is_the_same_json(client, viewer, db, awkward_products):
    low = awkward_products[1]
    db.execute(update(Product).where(Product.id == low).values(stock_quantity=0))
    db.commit()
    response = client.get("/api/v1/inventory/low-stock", headers=viewer)
    assert response.status_code == 200
    assert response.text == f'{{"items":[{model_json(db, low)}],"total":1,"limit":50,"offset":0}}'
