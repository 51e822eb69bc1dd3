"""The product list: its envelope, pages, sorting, filters, literal search and its cost in SQL."""

from decimal import Decimal

import pytest
from sqlalchemy import func, text, update
from sqlmodel import Session

from inventory.models import Category, Product, ProductCategory
from tests.factories import PRODUCTS, count, create_product

SORT_KEYS = ["name", "price", "stock_quantity", "created_at", "id"]


def insert_products(db: Session, how_many: int, category_ids: tuple[int, ...] = ()) -> list[int]:
    """Many products written straight to the database (fast), each in `category_ids`."""
    products = [
        Product(name=f"Item {n:03}", price=Decimal(n), stock_quantity=n, low_stock_threshold=10)
        for n in range(how_many)
    ]
    db.add_all(products)
    db.flush()
    db.add_all(
        ProductCategory(product_id=product.id, category_id=category_id)
        for product in products
        for category_id in category_ids
    )
    db.commit()
    return [product.id for product in products]


def listed(client, headers, **params) -> dict:
    response = client.get(PRODUCTS, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def names(client, headers, **params) -> list[str]:
    return [item["name"] for item in listed(client, headers, **params)["items"]]


# --- envelope and pages -------------------------------------------------------------------------


def test_the_list_is_an_envelope_of_items_total_limit_and_offset(client, viewer, product):
    body = listed(client, viewer)
    assert body == {"items": [product], "total": 1, "limit": 50, "offset": 0}


def test_an_empty_catalogue_lists_no_items(client, viewer):
    assert listed(client, viewer) == {"items": [], "total": 0, "limit": 50, "offset": 0}


def test_the_default_page_holds_50_items_and_total_counts_all(client, viewer, db):
    ids = insert_products(db, 51)
    body = listed(client, viewer)
    assert [item["id"] for item in body["items"]] == ids[:50]
    assert (body["total"], body["limit"], body["offset"]) == (51, 50, 0)


@pytest.mark.parametrize("limit", [1, 200])
def test_limits_from_1_to_200_are_accepted(client, viewer, db, limit):
    insert_products(db, 3)
    body = listed(client, viewer, limit=limit)
    assert len(body["items"]) == min(limit, 3)
    assert (body["limit"], body["total"]) == (limit, 3)


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 201},
        {"limit": -1},
        {"limit": "abc"},
        {"offset": -1},
        {"offset": "x"},
    ],
)
def test_an_out_of_range_page_is_422_never_clamped(client, viewer, params):
    response = client.get(PRODUCTS, params=params, headers=viewer)
    assert response.status_code == 422
    assert next(iter(params)) in response.json()["detail"]


def test_an_offset_past_the_end_gives_no_items_and_the_true_total(client, viewer, db):
    insert_products(db, 3)
    assert listed(client, viewer, offset=10) == {"items": [], "total": 3, "limit": 50, "offset": 10}


@pytest.mark.parametrize("sort", [*SORT_KEYS, *(f"-{key}" for key in SORT_KEYS)])
def test_walking_every_page_returns_every_product_once_in_order(client, viewer, db, sort):
    ids = insert_products(db, 23)
    # Equal prices and creation times, so only the tie-breaker keeps pages stable.
    db.execute(update(Product).values(price=Decimal("3.00"), created_at=func.now()))
    db.commit()
    whole = [item["id"] for item in listed(client, viewer, sort=sort, limit=200)["items"]]
    walked = []
    for offset in range(0, 25, 4):
        page = listed(client, viewer, sort=sort, limit=4, offset=offset)
        assert page["total"] == 23
        walked += [item["id"] for item in page["items"]]
    assert walked == whole
    assert sorted(walked) == ids


# --- sorting ------------------------------------------------------------------------------------


@pytest.fixture
def sortable(client, manager, db) -> list[dict]:
    """Products with ties on every key but id; the first two share a creation time."""
    rows = [
        ("b", "5.00", 3),
        ("a", "5.00", 3),
        ("b", "1.00", 0),
        ("a", "9.00", 3),
        ("c", "5.00", 7),
    ]
    created = [
        create_product(client, manager, name, price=price, stock_quantity=stock)
        for name, price, stock in rows
    ]
    db.execute(
        text("UPDATE products SET created_at = '2030-01-01T00:00:00Z' WHERE id IN (:a, :b)"),
        {"a": created[0]["id"], "b": created[1]["id"]},
    )
    db.commit()
    return [
        client.get(f"{PRODUCTS}/{product['id']}", headers=manager).json() for product in created
    ]


def sort_value(product: dict, key: str):
    return Decimal(product[key]) if key == "price" else product[key]


@pytest.mark.parametrize("key", SORT_KEYS)
def test_every_sort_key_orders_ascending_with_id_breaking_ties(client, viewer, sortable, key):
    expected = [p["id"] for p in sorted(sortable, key=lambda p: (sort_value(p, key), p["id"]))]
    body = listed(client, viewer, sort=key)
    assert [item["id"] for item in body["items"]] == expected


@pytest.mark.parametrize("key", SORT_KEYS)
def test_a_minus_sorts_descending_and_ties_descend_by_id_too(client, viewer, sortable, key):
    ascending = [item["id"] for item in listed(client, viewer, sort=key)["items"]]
    descending = [item["id"] for item in listed(client, viewer, sort=f"-{key}")["items"]]
    assert descending == ascending[::-1]
    assert descending != ascending


def test_equal_prices_come_in_id_order(client, viewer, sortable):
    fives = [p["id"] for p in sortable if p["price"] == "5.00"]
    listed_fives = [
        item["id"]
        for item in listed(client, viewer, sort="price")["items"]
        if item["price"] == "5.00"
    ]
    assert listed_fives == sorted(fives)
    assert len(fives) == 3


def test_the_default_sort_is_by_id(client, viewer, sortable):
    assert [item["id"] for item in listed(client, viewer)["items"]] == [p["id"] for p in sortable]


@pytest.mark.parametrize(
    "sort", ["colour", "description", "sku", "--name", "+name", "name,id", "NAME", ""]
)
def test_an_unknown_sort_key_is_422(client, viewer, product, sort):
    response = client.get(PRODUCTS, params={"sort": sort}, headers=viewer)
    assert response.status_code == 422
    assert "sort" in response.json()["detail"]


# --- filters ------------------------------------------------------------------------------------


def test_q_matches_name_description_and_sku_ignoring_case(client, viewer, manager):
    by_name = create_product(client, manager, "Garden HOSE")
    by_description = create_product(client, manager, "Sprinkler", description="fits any Hose")
    by_sku = create_product(client, manager, "Nozzle", sku="hose-nz")
    create_product(client, manager, "Rake", description="steel", sku="RAKE")
    body = listed(client, viewer, q="hOsE")
    assert body["items"] == [by_name, by_description, by_sku]
    assert body["total"] == 3


def test_q_matches_a_substring_in_the_middle(client, viewer, manager):
    hose = create_product(client, manager, "Garden hose")
    create_product(client, manager, "Rake")
    assert listed(client, viewer, q="den ho")["items"] == [hose]


def test_an_empty_q_filters_nothing(client, viewer, manager):
    create_product(client, manager, "Garden hose")
    create_product(client, manager, "Rake")
    assert listed(client, viewer, q="")["total"] == 2


def test_a_too_long_q_is_422(client, viewer):
    response = client.get(PRODUCTS, params={"q": "x" * 201}, headers=viewer)
    assert response.status_code == 422
    assert "q" in response.json()["detail"]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("%", ["100% cotton"]),
        ("_", ["snake_case"]),
        ("\\", ["back\\slash"]),
        ("0%", ["100% cotton"]),
        ("e_c", ["snake_case"]),
        ("%%", []),
    ],
)
def test_like_wildcards_in_q_match_only_themselves(client, viewer, manager, q, expected):
    for name in (
        "100% cotton",
        "100 cotton",
        "snake_case",
        "snakeXcase",
        "back\\slash",
        "backslash",
    ):
        create_product(client, manager, name)
    assert names(client, viewer, q=q) == expected


def test_sql_in_q_is_only_data(client, viewer, product, db):
    response = client.get(PRODUCTS, params={"q": "'; DROP TABLE products; --"}, headers=viewer)
    assert response.status_code == 200
    assert response.json()["items"] == []
    assert response.json()["total"] == 0
    assert count(db, Product) == 1
    assert listed(client, viewer)["items"] == [product]


def test_category_id_keeps_only_that_categorys_products(client, viewer, manager, category):
    tools = client.post("/api/v1/categories", json={"name": "Tools"}, headers=manager).json()
    in_garden = create_product(client, manager, "Hose", category_ids=[category["id"]])
    create_product(client, manager, "Hammer", category_ids=[tools["id"]])
    in_both = create_product(client, manager, "Shears", category_ids=[tools["id"], category["id"]])
    create_product(client, manager, "Loose")
    assert listed(client, viewer, category_id=category["id"])["items"] == [in_garden, in_both]


def test_a_category_id_nobody_uses_lists_nothing(client, viewer, product):
    assert listed(client, viewer, category_id=98765)["total"] == 0


@pytest.mark.parametrize("category_id", [0, -1, "abc", 2**31])
def test_an_impossible_category_id_filter_is_422(client, viewer, category_id):
    response = client.get(PRODUCTS, params={"category_id": category_id}, headers=viewer)
    assert response.status_code == 422
    assert "category_id" in response.json()["detail"]


def test_min_and_max_price_are_inclusive(client, viewer, manager):
    for price in ("4.99", "5.00", "7.50", "10.00", "10.01"):
        create_product(client, manager, price, price=price)
    assert names(client, viewer, min_price="5", max_price="10") == ["5.00", "7.50", "10.00"]
    assert names(client, viewer, min_price="10.00") == ["10.00", "10.01"]
    assert names(client, viewer, max_price="5.00") == ["4.99", "5.00"]


def test_min_price_above_max_price_is_422(client, viewer):
    response = client.get(PRODUCTS, params={"min_price": "10", "max_price": "5"}, headers=viewer)
    assert response.status_code == 422
    assert "min_price" in response.json()["detail"]


@pytest.fixture
def stocked(client, manager) -> None:
    """Out (0 of 10), low (10 of 10), fine (11 of 10), zero-threshold out (0 of 0)."""
    create_product(client, manager, "out", stock_quantity=0, low_stock_threshold=10)
    create_product(client, manager, "low", stock_quantity=10, low_stock_threshold=10)
    create_product(client, manager, "fine", stock_quantity=11, low_stock_threshold=10)
    create_product(client, manager, "empty-no-alarm", stock_quantity=0, low_stock_threshold=0)


def test_in_stock_true_keeps_products_with_stock(client, viewer, stocked):
    assert names(client, viewer, in_stock="true") == ["low", "fine"]


def test_in_stock_false_keeps_products_without_stock(client, viewer, stocked):
    assert names(client, viewer, in_stock="false") == ["out", "empty-no-alarm"]


def test_low_stock_true_keeps_products_at_or_below_their_threshold(client, viewer, stocked):
    assert names(client, viewer, low_stock="true") == ["out", "low", "empty-no-alarm"]


def test_low_stock_false_keeps_products_above_their_threshold(client, viewer, stocked):
    assert names(client, viewer, low_stock="false") == ["fine"]


@pytest.mark.parametrize("flag", ["in_stock", "low_stock"])
def test_a_non_boolean_flag_is_422(client, viewer, flag):
    response = client.get(PRODUCTS, params={flag: "maybe"}, headers=viewer)
    assert response.status_code == 422
    assert flag in response.json()["detail"]


def test_filters_combine_with_and(client, viewer, manager, category):
    wanted = create_product(
        client, manager, "Hose A", price="20", stock_quantity=5, category_ids=[category["id"]]
    )
    create_product(
        client, manager, "Hose B", price="20", stock_quantity=50, category_ids=[category["id"]]
    )
    create_product(
        client, manager, "Hose C", price="99", stock_quantity=5, category_ids=[category["id"]]
    )
    create_product(client, manager, "Hose D", price="20", stock_quantity=5)
    create_product(
        client, manager, "Rake", price="20", stock_quantity=5, category_ids=[category["id"]]
    )
    create_product(
        client, manager, "Hose E", price="20", stock_quantity=0, category_ids=[category["id"]]
    )
    body = listed(
        client,
        viewer,
        q="hose",
        category_id=category["id"],
        min_price="10",
        max_price="50",
        in_stock="true",
        low_stock="true",
        sort="-price",
    )
    assert body["items"] == [wanted]
    assert body["total"] == 1


def test_the_list_needs_a_token(client):
    assert client.get(PRODUCTS).status_code == 401


# --- the total of the whole catalogue --------------------------------------------------------


def test_the_unfiltered_total_follows_creates_and_deletes_through_the_api(client, manager, admin):
    created = [create_product(client, manager, f"Thing {n}") for n in range(3)]
    assert client.delete(f"{PRODUCTS}/{created[0]['id']}", headers=admin).status_code == 204
    assert listed(client, manager)["total"] == 2


def test_the_unfiltered_total_follows_bulk_writes_behind_the_apis_back(client, viewer, db):
    ids = insert_products(db, 30)
    db.execute(text("DELETE FROM products WHERE id = ANY(:ids)"), {"ids": ids[:7]})
    db.commit()
    assert listed(client, viewer)["total"] == 23
    assert count(db, Product) == 23


def test_a_failed_insert_leaves_the_unfiltered_total_as_it_was(client, manager, viewer):
    create_product(client, manager, "Hose", sku="HOSE-1")
    response = client.post(
        PRODUCTS, json={"name": "Other", "price": "1.00", "sku": "HOSE-1"}, headers=manager
    )
    assert response.status_code == 409
    assert listed(client, viewer)["total"] == 1


def test_a_filtered_total_is_still_counted(client, viewer, db):
    insert_products(db, 12)
    assert listed(client, viewer)["total"] == 12
    assert listed(client, viewer, min_price="5")["total"] == 7
    assert listed(client, viewer, q="Item 00")["total"] == 10


@pytest.mark.parametrize("sort", SORT_KEYS + [f"-{key}" for key in SORT_KEYS])
def test_a_text_search_sorts_and_pages_its_matches_like_any_list(client, viewer, db, sort):
    insert_products(db, 12)
    everything = names(client, viewer, sort=sort, limit=200)
    matching = [name for name in everything if name.startswith("Item 00")]
    body = listed(client, viewer, q="Item 00", sort=sort, limit=4, offset=3)
    assert [item["name"] for item in body["items"]] == matching[3:7]
    assert body["total"] == 10
    past_the_end = listed(client, viewer, q="Item 00", sort=sort, offset=10)
    assert past_the_end["items"] == []
    assert past_the_end["total"] == 10


# --- cost in SQL --------------------------------------------------------------------------------


def statements_for_one_page(client, headers, statements) -> int:
    before = len(statements())
    response = client.get(PRODUCTS, params={"limit": 50}, headers=headers)
    assert response.status_code == 200
    assert all(len(item["categories"]) == 2 for item in response.json()["items"])
    return len(statements()) - before


def test_a_page_costs_the_same_few_statements_for_5_or_50_products(
    client, viewer, db, count_statements
):
    categories = [Category(name="Garden"), Category(name="Tools")]
    db.add_all(categories)
    db.commit()
    category_ids = tuple(category.id for category in categories)
    insert_products(db, 5, category_ids)
    small = statements_for_one_page(client, viewer, count_statements)
    insert_products(db, 45, category_ids)
    large = statements_for_one_page(client, viewer, count_statements)
    assert listed(client, viewer)["total"] == 50
    assert small == large
    assert large <= 5


def test_every_filter_and_sort_has_an_index(db):
    definitions = db.scalars(
        text(
            "SELECT indexdef FROM pg_indexes "
            "WHERE tablename IN ('products', 'product_categories', 'categories')"
        )
    ).all()
    joined = "\n".join(definitions)
    for column in ("name", "description", "sku"):
        assert f"gin ({column} gin_trgm_ops)" in joined, column
    for column in ("name", "price", "stock_quantity", "created_at"):
        assert f"btree ({column}, id)" in joined, column
    assert "btree (category_id)" in joined
    assert "WHERE ((stock_quantity - reserved) <= low_stock_threshold)" in joined
