"""Products through HTTP: create, read, partial update, delete, uniqueness and validation,
and the many-to-many link to categories."""

from decimal import Decimal

import pytest
from sqlalchemy import select, text
from sqlmodel import Session

from inventory.models import Category, Product, ProductCategory, StockMovement
from tests.factories import PRODUCTS, count, create_category, stored_product

PRODUCT_FIELDS = {
    "id",
    "name",
    "description",
    "price",
    "stock_quantity",
    "reserved",
    "available",
    "low_stock_threshold",
    "sku",
    "categories",
    "created_at",
    "updated_at",
    "version",
}


def category_ids_of(db: Session, product_id: int) -> list[int]:
    """The ids of the categories the product is linked to, from the link table."""
    return sorted(
        db.scalars(
            select(ProductCategory.category_id).where(ProductCategory.product_id == product_id)
        )
    )


# --- create -------------------------------------------------------------------------------------


def test_creating_a_product_returns_201_with_its_location_and_etag(client, manager, category):
    response = client.post(
        PRODUCTS,
        json={"name": "Rake", "price": "12.50", "category_ids": [category["id"]]},
        headers=manager,
    )
    assert response.status_code == 201
    body = response.json()
    assert response.headers["Location"].endswith(f"{PRODUCTS}/{body['id']}")
    assert response.headers["ETag"] == f'"{body["version"]}"'
    follow = client.get(response.headers["Location"], headers=manager)
    assert follow.status_code == 200
    assert follow.json() == body


def test_a_created_product_has_exactly_the_documented_fields(client, manager, category):
    response = client.post(
        PRODUCTS,
        json={
            "name": "Rake",
            "description": "Steel",
            "price": 12.5,
            "stock_quantity": 30,
            "low_stock_threshold": 4,
            "sku": "RAKE-1",
            "category_ids": [category["id"]],
        },
        headers=manager,
    )
    body = response.json()
    assert set(body) == PRODUCT_FIELDS
    assert body["name"] == "Rake"
    assert body["description"] == "Steel"
    assert body["price"] == "12.50"
    assert body["stock_quantity"] == 30
    assert (body["reserved"], body["available"]) == (0, 30)
    assert body["low_stock_threshold"] == 4
    assert body["sku"] == "RAKE-1"
    assert body["categories"] == [{"id": category["id"], "name": "Garden"}]
    assert body["version"] == 1
    assert body["created_at"] and body["updated_at"]


def test_a_product_without_a_threshold_gets_the_configured_default(client, manager, db):
    response = client.post(PRODUCTS, json={"name": "Rake", "price": "1"}, headers=manager)
    assert response.status_code == 201
    assert response.json()["low_stock_threshold"] == 10
    assert response.json()["stock_quantity"] == 0
    assert response.json()["description"] is None
    assert response.json()["sku"] is None
    assert stored_product(db, response.json()["id"]).low_stock_threshold == 10


def test_a_viewer_cannot_create_a_product(client, viewer, db):
    response = client.post(PRODUCTS, json={"name": "Rake", "price": "1"}, headers=viewer)
    assert response.status_code == 403
    assert count(db, Product) == 0


def test_creating_a_product_needs_a_token(client, db):
    response = client.post(PRODUCTS, json={"name": "Rake", "price": "1"})
    assert response.status_code == 401
    assert count(db, Product) == 0


# --- read ---------------------------------------------------------------------------------------


def test_a_product_is_read_by_id_with_its_etag(client, viewer, product):
    response = client.get(f"{PRODUCTS}/{product['id']}", headers=viewer)
    assert response.status_code == 200
    assert response.json() == product
    assert response.headers["ETag"] == '"1"'


def test_an_unknown_product_is_404(client, viewer):
    response = client.get(f"{PRODUCTS}/999999", headers=viewer)
    assert response.status_code == 404
    assert response.json()["detail"] == "product 999999 not found"


@pytest.mark.parametrize("bad_id", ["0", "-1", "abc", "2147483648"])
def test_an_impossible_product_id_is_422(client, viewer, bad_id):
    response = client.get(f"{PRODUCTS}/{bad_id}", headers=viewer)
    assert response.status_code == 422
    assert "product_id" in response.json()["detail"]


# --- partial update -----------------------------------------------------------------------------


def test_patch_changes_only_the_fields_sent(client, manager, product, db):
    response = client.patch(
        f"{PRODUCTS}/{product['id']}", json={"name": "Long hose"}, headers=manager
    )
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Long hose"
    unchanged = {k: v for k, v in product.items() if k not in {"name", "updated_at", "version"}}
    assert {k: body[k] for k in unchanged} == unchanged
    assert body["version"] == product["version"] + 1
    assert body["updated_at"] > product["updated_at"]
    assert response.headers["ETag"] == f'"{body["version"]}"'
    row = stored_product(db, product["id"])
    assert row.name == "Long hose"
    assert row.price == Decimal("19.99")
    assert row.sku == "HOSE-25"


def test_patch_can_change_every_writable_field_at_once(client, manager, product, db):
    response = client.patch(
        f"{PRODUCTS}/{product['id']}",
        json={
            "name": "Hose",
            "description": "30 m",
            "price": "24.00",
            "stock_quantity": 70,
            "low_stock_threshold": 5,
            "sku": "HOSE-30",
        },
        headers=manager,
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["description"], body["price"]) == ("Hose", "30 m", "24.00")
    assert (body["stock_quantity"], body["low_stock_threshold"], body["sku"]) == (70, 5, "HOSE-30")
    row = stored_product(db, product["id"])
    assert (row.price, row.stock_quantity, row.sku) == (Decimal("24.00"), 70, "HOSE-30")


def test_an_empty_patch_changes_no_field(client, manager, product):
    response = client.patch(f"{PRODUCTS}/{product['id']}", json={}, headers=manager)
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("name", "price", "sku", "categories")} == {
        k: product[k] for k in ("name", "price", "sku", "categories")
    }


@pytest.mark.parametrize("field", ["name", "price", "stock_quantity", "low_stock_threshold"])
def test_an_explicit_null_for_a_required_field_is_422_and_changes_nothing(
    client, manager, product, db, field
):
    response = client.patch(
        f"{PRODUCTS}/{product['id']}", json={field: None, "description": "x"}, headers=manager
    )
    assert response.status_code == 422
    assert field in response.json()["detail"]
    row = stored_product(db, product["id"])
    assert row.description == product["description"]
    assert row.version == 1
    assert client.get(f"{PRODUCTS}/{product['id']}", headers=manager).json() == product


@pytest.mark.parametrize("field", ["description", "sku"])
def test_an_explicit_null_clears_an_optional_field(client, manager, product, db, field):
    response = client.patch(f"{PRODUCTS}/{product['id']}", json={field: None}, headers=manager)
    assert response.status_code == 200
    assert response.json()[field] is None
    assert getattr(stored_product(db, product["id"]), field) is None


def test_patching_an_unknown_product_is_404(client, manager, db):
    response = client.patch(f"{PRODUCTS}/424242", json={"name": "x"}, headers=manager)
    assert response.status_code == 404
    assert response.json()["detail"] == "product 424242 not found"
    assert count(db, Product) == 0


def test_a_viewer_cannot_patch_a_product(client, viewer, product, db):
    response = client.patch(f"{PRODUCTS}/{product['id']}", json={"name": "x"}, headers=viewer)
    assert response.status_code == 403
    assert stored_product(db, product["id"]).name == "Garden hose"


# --- delete -------------------------------------------------------------------------------------


def test_deleting_a_product_removes_it_its_links_and_its_ledger_but_not_its_categories(
    client, admin, product, category, db
):
    assert count(db, StockMovement) == 1
    response = client.delete(f"{PRODUCTS}/{product['id']}", headers=admin)
    assert response.status_code == 204
    assert response.content == b""
    assert client.get(f"{PRODUCTS}/{product['id']}", headers=admin).status_code == 404
    assert count(db, Product) == 0
    assert count(db, ProductCategory) == 0
    assert count(db, StockMovement) == 0
    assert db.get(Category, category["id"]) is not None
    assert client.get(f"/api/v1/categories/{category['id']}", headers=admin).json() == category


def test_deleting_a_product_twice_is_404_the_second_time(client, admin, product):
    assert client.delete(f"{PRODUCTS}/{product['id']}", headers=admin).status_code == 204
    response = client.delete(f"{PRODUCTS}/{product['id']}", headers=admin)
    assert response.status_code == 404
    assert response.json()["detail"] == f"product {product['id']} not found"


def test_a_manager_cannot_delete_a_product(client, manager, product, db):
    response = client.delete(f"{PRODUCTS}/{product['id']}", headers=manager)
    assert response.status_code == 403
    assert count(db, Product) == 1
    assert count(db, ProductCategory) == 1


# --- sku uniqueness -----------------------------------------------------------------------------


def test_a_taken_sku_is_409_on_create_and_nothing_is_written(client, manager, product, db):
    response = client.post(
        PRODUCTS, json={"name": "Other", "price": "1", "sku": "HOSE-25"}, headers=manager
    )
    assert response.status_code == 409
    assert "HOSE-25" in response.json()["detail"]
    assert count(db, Product) == 1
    assert count(db, StockMovement) == 1


def test_a_taken_sku_is_409_on_patch_and_nothing_changes(client, manager, product, db):
    other = client.post(
        PRODUCTS,
        json={"name": "Other", "price": "1", "sku": "OTHER", "stock_quantity": 3},
        headers=manager,
    ).json()
    response = client.patch(
        f"{PRODUCTS}/{other['id']}",
        json={"sku": "HOSE-25", "name": "Renamed", "stock_quantity": 9},
        headers=manager,
    )
    assert response.status_code == 409
    assert "HOSE-25" in response.json()["detail"]
    row = stored_product(db, other["id"])
    assert (row.sku, row.name, row.stock_quantity, row.version) == ("OTHER", "Other", 3, 1)
    assert count(db, StockMovement) == 2


def test_products_without_a_sku_do_not_conflict(client, manager):
    for name in ("One", "Two"):
        response = client.post(PRODUCTS, json={"name": name, "price": "1"}, headers=manager)
        assert response.status_code == 201


# --- server-owned fields ------------------------------------------------------------------------

SERVER_OWNED = [
    ("id", 77),
    ("created_at", "2000-01-01T00:00:00Z"),
    ("updated_at", "2000-01-01T00:00:00Z"),
    ("version", 99),
    ("categories", [{"id": 1, "name": "Garden"}]),
]


@pytest.mark.parametrize(("field", "value"), SERVER_OWNED)
def test_a_server_owned_field_in_a_create_body_is_422_and_nothing_is_written(
    client, manager, db, field, value
):
    response = client.post(
        PRODUCTS, json={"name": "Rake", "price": "1", field: value}, headers=manager
    )
    assert response.status_code == 422
    assert field in response.json()["detail"]
    assert count(db, Product) == 0


@pytest.mark.parametrize(("field", "value"), SERVER_OWNED)
def test_a_server_owned_field_in_a_patch_body_is_422_and_nothing_changes(
    client, manager, product, db, field, value
):
    response = client.patch(
        f"{PRODUCTS}/{product['id']}", json={"name": "New", field: value}, headers=manager
    )
    assert response.status_code == 422
    assert field in response.json()["detail"]
    row = stored_product(db, product["id"])
    assert (row.id, row.name, row.version) == (product["id"], "Garden hose", 1)


# --- validation ---------------------------------------------------------------------------------

INVALID_FIELDS = [
    ("name", ""),
    ("name", "x" * 201),
    ("description", "x" * 5001),
    ("sku", "x" * 65),
    ("sku", ""),
    ("stock_quantity", -1),
    ("stock_quantity", 1.5),
    ("stock_quantity", "many"),
    ("stock_quantity", 2**31),
    ("low_stock_threshold", -1),
    ("low_stock_threshold", 2.5),
    ("price", -1),
    ("price", 1.001),
    ("price", 10**10),
]


@pytest.mark.parametrize(("field", "value"), INVALID_FIELDS)
def test_an_invalid_field_on_create_is_422_naming_it_and_nothing_is_written(
    client, manager, db, field, value
):
    body = {"name": "Rake", "price": "1", field: value}
    response = client.post(PRODUCTS, json=body, headers=manager)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    assert f"body.{field}" in detail
    assert count(db, Product) == 0


@pytest.mark.parametrize(("field", "value"), INVALID_FIELDS)
def test_an_invalid_field_on_patch_is_422_naming_it_and_nothing_changes(
    client, manager, product, db, field, value
):
    response = client.patch(f"{PRODUCTS}/{product['id']}", json={field: value}, headers=manager)
    assert response.status_code == 422
    assert f"body.{field}" in response.json()["detail"]
    row = stored_product(db, product["id"])
    assert (row.name, row.price, row.stock_quantity, row.version) == (
        "Garden hose",
        Decimal("19.99"),
        50,
        1,
    )


def test_the_longest_allowed_values_are_accepted(client, manager):
    body = {
        "name": "n" * 200,
        "description": "d" * 5000,
        "sku": "s" * 64,
        "price": "9999999999.99",
        "stock_quantity": 2**31 - 1,
    }
    response = client.post(PRODUCTS, json=body, headers=manager)
    assert response.status_code == 201, response.text
    assert {k: response.json()[k] for k in body} == body


@pytest.mark.parametrize("missing", ["name", "price"])
def test_a_missing_required_field_is_422(client, manager, db, missing):
    body = {"name": "Rake", "price": "1"}
    del body[missing]
    response = client.post(PRODUCTS, json=body, headers=manager)
    assert response.status_code == 422
    assert f"body.{missing}" in response.json()["detail"]
    assert count(db, Product) == 0


def test_a_text_body_is_a_client_error_not_a_crash(client, manager, db):
    response = client.post(
        PRODUCTS,
        content=b'{"name": "Rake", "price": "1"}',
        headers={**manager, "Content-Type": "text/plain"},
    )
    assert 400 <= response.status_code < 500
    assert response.json()["detail"]
    assert count(db, Product) == 0


def test_malformed_json_is_422(client, manager, db):
    response = client.post(
        PRODUCTS,
        content=b'{"name": "Rake", "price": ',
        headers={**manager, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert "JSON" in response.json()["detail"]
    assert count(db, Product) == 0


def test_a_json_array_body_is_422(client, manager, db):
    response = client.post(PRODUCTS, json=[{"name": "Rake", "price": "1"}], headers=manager)
    assert response.status_code == 422
    assert count(db, Product) == 0


# --- categories of a product --------------------------------------------------------------------


def test_category_ids_on_create_link_the_product_to_those_categories(client, manager, db):
    tools = create_category(client, manager, "Tools")
    garden = create_category(client, manager, "Garden")
    response = client.post(
        PRODUCTS,
        json={"name": "Spade", "price": "9", "category_ids": [garden["id"], tools["id"]]},
        headers=manager,
    )
    assert response.status_code == 201
    assert response.json()["categories"] == [
        {"id": tools["id"], "name": "Tools"},
        {"id": garden["id"], "name": "Garden"},
    ]
    assert category_ids_of(db, response.json()["id"]) == [tools["id"], garden["id"]]


def test_an_unknown_category_id_on_create_is_422_naming_it_and_no_product_is_created(
    client, manager, category, db
):
    response = client.post(
        PRODUCTS,
        json={"name": "Spade", "price": "9", "category_ids": [category["id"], 9876]},
        headers=manager,
    )
    assert response.status_code == 422
    assert "9876" in response.json()["detail"]
    assert str(category["id"]) not in response.json()["detail"].split(":")[-1]
    assert count(db, Product) == 0
    assert count(db, ProductCategory) == 0
    assert count(db, StockMovement) == 0


def test_duplicate_category_ids_are_harmless(client, manager, category, db):
    response = client.post(
        PRODUCTS,
        json={"name": "Spade", "price": "9", "category_ids": [category["id"], category["id"]]},
        headers=manager,
    )
    assert response.status_code == 201
    assert response.json()["categories"] == [{"id": category["id"], "name": "Garden"}]
    assert category_ids_of(db, response.json()["id"]) == [category["id"]]


def test_category_ids_on_patch_replace_the_set(client, manager, product, category, db):
    tools = create_category(client, manager, "Tools")
    response = client.patch(
        f"{PRODUCTS}/{product['id']}", json={"category_ids": [tools["id"]]}, headers=manager
    )
    assert response.status_code == 200
    assert response.json()["categories"] == [{"id": tools["id"], "name": "Tools"}]
    assert category_ids_of(db, product["id"]) == [tools["id"]]
    assert response.json()["version"] == 2


def test_an_empty_category_ids_on_patch_clears_the_categories(client, manager, product, db):
    response = client.patch(
        f"{PRODUCTS}/{product['id']}", json={"category_ids": []}, headers=manager
    )
    assert response.status_code == 200
    assert response.json()["categories"] == []
    assert category_ids_of(db, product["id"]) == []


def test_a_patch_without_category_ids_leaves_the_categories(client, manager, product, category, db):
    response = client.patch(f"{PRODUCTS}/{product['id']}", json={"price": "3"}, headers=manager)
    assert response.status_code == 200
    assert response.json()["categories"] == [{"id": category["id"], "name": "Garden"}]
    assert category_ids_of(db, product["id"]) == [category["id"]]


def test_an_unknown_category_id_on_patch_is_422_and_changes_nothing(
    client, manager, product, category, db
):
    tools = create_category(client, manager, "Tools")
    response = client.patch(
        f"{PRODUCTS}/{product['id']}",
        json={"name": "Renamed", "category_ids": [tools["id"], 5555]},
        headers=manager,
    )
    assert response.status_code == 422
    assert "5555" in response.json()["detail"]
    assert category_ids_of(db, product["id"]) == [category["id"]]
    row = stored_product(db, product["id"])
    assert (row.name, row.version) == ("Garden hose", 1)


@pytest.mark.parametrize("bad_ids", [[0], [-3], ["x"], [2**31], 7])
def test_impossible_category_ids_are_422(client, manager, db, bad_ids):
    response = client.post(
        PRODUCTS, json={"name": "Spade", "price": "9", "category_ids": bad_ids}, headers=manager
    )
    assert response.status_code == 422
    assert "category_ids" in response.json()["detail"]
    assert count(db, Product) == 0


def test_the_product_table_enforces_its_rules_even_behind_the_api(db):
    with pytest.raises(Exception, match="ck_products_price_non_negative"):
        db.execute(
            text(
                "INSERT INTO products (name, price, stock_quantity, low_stock_threshold) "
                "VALUES ('x', -1, 0, 0)"
            )
        )
    db.rollback()
