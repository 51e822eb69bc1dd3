"""Categories through HTTP: create, read, list, rename, delete (which unlinks, never deletes,
products) and the products of one category."""

import pytest
from sqlalchemy import select

from inventory.models import Category, Product, ProductCategory
from tests.factories import (
    CATEGORIES,
    PRODUCTS,
    count,
    create_category,
    create_product,
    stored_category,
)

# --- create -------------------------------------------------------------------------------------


def test_creating_a_category_returns_201_with_its_location(client, manager, db):
    response = client.post(
        CATEGORIES, json={"name": "Tools", "description": "Hand tools"}, headers=manager
    )
    assert response.status_code == 201
    body = response.json()
    assert body == {"id": body["id"], "name": "Tools", "description": "Hand tools"}
    assert response.headers["Location"].endswith(f"{CATEGORIES}/{body['id']}")
    assert client.get(response.headers["Location"], headers=manager).json() == body
    assert stored_category(db, body["id"]).name == "Tools"


def test_a_category_needs_no_description(client, manager):
    response = client.post(CATEGORIES, json={"name": "Tools"}, headers=manager)
    assert response.status_code == 201
    assert response.json()["description"] is None


@pytest.mark.parametrize("name", ["Garden", "GARDEN", "garden"])
def test_a_duplicate_name_ignoring_case_is_409_and_nothing_is_written(
    client, manager, category, db, name
):
    response = client.post(CATEGORIES, json={"name": name}, headers=manager)
    assert response.status_code == 409
    assert name in response.json()["detail"]
    assert count(db, Category) == 1


def test_a_viewer_cannot_create_a_category(client, viewer, db):
    response = client.post(CATEGORIES, json={"name": "Tools"}, headers=viewer)
    assert response.status_code == 403
    assert count(db, Category) == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", ""), ("name", "x" * 101), ("description", "x" * 2001), ("name", None)],
)
def test_an_invalid_category_field_is_422_naming_it_and_nothing_is_written(
    client, manager, db, field, value
):
    response = client.post(CATEGORIES, json={"name": "Tools", field: value}, headers=manager)
    assert response.status_code == 422
    assert f"body.{field}" in response.json()["detail"]
    assert count(db, Category) == 0


def test_the_longest_category_values_are_accepted(client, manager):
    body = {"name": "n" * 100, "description": "d" * 2000}
    response = client.post(CATEGORIES, json=body, headers=manager)
    assert response.status_code == 201
    assert {k: response.json()[k] for k in body} == body


@pytest.mark.parametrize("field", ["id", "products"])
def test_a_server_owned_field_in_a_category_body_is_422(client, manager, db, field):
    response = client.post(CATEGORIES, json={"name": "Tools", field: 5}, headers=manager)
    assert response.status_code == 422
    assert field in response.json()["detail"]
    assert count(db, Category) == 0


# --- read ---------------------------------------------------------------------------------------


def test_a_category_is_read_by_id(client, viewer, category):
    response = client.get(f"{CATEGORIES}/{category['id']}", headers=viewer)
    assert response.status_code == 200
    assert response.json() == category


def test_an_unknown_category_is_404(client, viewer):
    response = client.get(f"{CATEGORIES}/31337", headers=viewer)
    assert response.status_code == 404
    assert response.json()["detail"] == "category 31337 not found"


def test_categories_are_listed_in_the_list_envelope(client, viewer, manager):
    tools = create_category(client, manager, "Tools")
    garden = create_category(client, manager, "Garden")
    response = client.get(CATEGORIES, headers=viewer)
    assert response.status_code == 200
    assert response.json() == {"items": [tools, garden], "total": 2, "limit": 50, "offset": 0}


def test_the_category_list_pages(client, viewer, manager):
    created = [create_category(client, manager, f"C{i}") for i in range(5)]
    response = client.get(CATEGORIES, params={"limit": 2, "offset": 2}, headers=viewer)
    assert response.json() == {"items": created[2:4], "total": 5, "limit": 2, "offset": 2}


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 201}, {"offset": -1}])
def test_an_out_of_range_category_page_is_422(client, viewer, params):
    response = client.get(CATEGORIES, params=params, headers=viewer)
    assert response.status_code == 422
    assert next(iter(params)) in response.json()["detail"]


def test_the_category_list_searches_name_and_description_ignoring_case(client, viewer, manager):
    by_name = create_category(client, manager, "Power TOOLS")
    by_description = create_category(client, manager, "Saws", "all sorts of tools")
    create_category(client, manager, "Garden", "plants")
    response = client.get(CATEGORIES, params={"q": "tools"}, headers=viewer)
    assert response.json()["items"] == [by_name, by_description]
    assert response.json()["total"] == 2


def test_the_category_search_takes_wildcards_literally(client, viewer, manager):
    percent = create_category(client, manager, "100% wool")
    create_category(client, manager, "Wool")
    underscore = create_category(client, manager, "snake_case")
    create_category(client, manager, "snakes")
    assert client.get(CATEGORIES, params={"q": "%"}, headers=viewer).json()["items"] == [percent]
    assert client.get(CATEGORIES, params={"q": "_"}, headers=viewer).json()["items"] == [underscore]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["apple", "banana", "cherry"]),
        ("-name", ["cherry", "banana", "apple"]),
        ("id", ["banana", "cherry", "apple"]),
        ("-id", ["apple", "cherry", "banana"]),
    ],
)
def test_the_category_list_sorts(client, viewer, manager, sort, expected):
    for name in ("banana", "cherry", "apple"):
        create_category(client, manager, name)
    response = client.get(CATEGORIES, params={"sort": sort}, headers=viewer)
    assert response.status_code == 200
    assert [item["name"] for item in response.json()["items"]] == expected


@pytest.mark.parametrize("sort", ["description", "price", "--name", "name;", ""])
def test_an_unknown_category_sort_is_422(client, viewer, category, sort):
    response = client.get(CATEGORIES, params={"sort": sort}, headers=viewer)
    assert response.status_code == 422
    assert "sort" in response.json()["detail"]


# --- update -------------------------------------------------------------------------------------


def test_patch_renames_a_category_and_keeps_its_description(client, manager, category, db):
    response = client.patch(
        f"{CATEGORIES}/{category['id']}", json={"name": "Yard"}, headers=manager
    )
    assert response.status_code == 200
    assert response.json() == {"id": category["id"], "name": "Yard", "description": "Outdoor"}
    assert stored_category(db, category["id"]).name == "Yard"


def test_patch_can_clear_a_category_description(client, manager, category, db):
    response = client.patch(
        f"{CATEGORIES}/{category['id']}", json={"description": None}, headers=manager
    )
    assert response.status_code == 200
    assert response.json()["description"] is None
    assert stored_category(db, category["id"]).description is None


def test_renaming_a_category_shows_in_its_products(client, manager, category, product):
    client.patch(f"{CATEGORIES}/{category['id']}", json={"name": "Yard"}, headers=manager)
    categories = client.get(f"{PRODUCTS}/{product['id']}", headers=manager).json()["categories"]
    assert categories == [{"id": category["id"], "name": "Yard"}]


def test_renaming_to_a_taken_name_ignoring_case_is_409_and_nothing_changes(
    client, manager, category, db
):
    tools = create_category(client, manager, "Tools", "hand tools")
    response = client.patch(
        f"{CATEGORIES}/{tools['id']}",
        json={"name": "gARDEN", "description": "changed"},
        headers=manager,
    )
    assert response.status_code == 409
    assert "gARDEN" in response.json()["detail"]
    row = stored_category(db, tools["id"])
    assert (row.name, row.description) == ("Tools", "hand tools")


def test_renaming_a_category_to_another_case_of_its_own_name_is_allowed(client, manager, category):
    response = client.patch(
        f"{CATEGORIES}/{category['id']}", json={"name": "GARDEN"}, headers=manager
    )
    assert response.status_code == 200
    assert response.json()["name"] == "GARDEN"


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", ""), ("name", None), ("name", "x" * 101), ("description", "x" * 2001), ("id", 9)],
)
def test_an_invalid_category_patch_is_422_and_nothing_changes(
    client, manager, category, db, field, value
):
    response = client.patch(f"{CATEGORIES}/{category['id']}", json={field: value}, headers=manager)
    assert response.status_code == 422
    assert field in response.json()["detail"]
    row = stored_category(db, category["id"])
    assert (row.id, row.name, row.description) == (category["id"], "Garden", "Outdoor")


def test_patching_an_unknown_category_is_404(client, manager):
    response = client.patch(f"{CATEGORIES}/4040", json={"name": "X"}, headers=manager)
    assert response.status_code == 404
    assert response.json()["detail"] == "category 4040 not found"


def test_a_viewer_cannot_patch_a_category(client, viewer, category, db):
    response = client.patch(f"{CATEGORIES}/{category['id']}", json={"name": "X"}, headers=viewer)
    assert response.status_code == 403
    assert stored_category(db, category["id"]).name == "Garden"


# --- delete -------------------------------------------------------------------------------------


def test_deleting_a_category_unlinks_its_products_and_deletes_none(
    client, admin, category, product, db
):
    tools = create_category(client, admin, "Tools")
    both = create_product(client, admin, "Shears", category_ids=[category["id"], tools["id"]])
    response = client.delete(f"{CATEGORIES}/{category['id']}", headers=admin)
    assert response.status_code == 204
    assert response.content == b""
    assert client.get(f"{CATEGORIES}/{category['id']}", headers=admin).status_code == 404
    assert count(db, Product) == 2
    assert client.get(f"{PRODUCTS}/{product['id']}", headers=admin).json()["categories"] == []
    assert client.get(f"{PRODUCTS}/{both['id']}", headers=admin).json()["categories"] == [
        {"id": tools["id"], "name": "Tools"}
    ]
    assert db.scalars(select(ProductCategory.category_id)).all() == [tools["id"]]


def test_deleting_an_unknown_category_is_404(client, admin):
    response = client.delete(f"{CATEGORIES}/777", headers=admin)
    assert response.status_code == 404
    assert response.json()["detail"] == "category 777 not found"


def test_a_manager_cannot_delete_a_category(client, manager, category, product, db):
    response = client.delete(f"{CATEGORIES}/{category['id']}", headers=manager)
    assert response.status_code == 403
    assert count(db, Category) == 1
    assert count(db, ProductCategory) == 1


# --- products of a category ---------------------------------------------------------------------


def test_a_categorys_products_come_in_the_list_envelope(client, viewer, manager, category):
    tools = create_category(client, manager, "Tools")
    first = create_product(client, manager, "Hose", category_ids=[category["id"]])
    create_product(client, manager, "Hammer", category_ids=[tools["id"]])
    second = create_product(client, manager, "Shears", category_ids=[tools["id"], category["id"]])
    response = client.get(f"{CATEGORIES}/{category['id']}/products", headers=viewer)
    assert response.status_code == 200
    assert response.json() == {"items": [first, second], "total": 2, "limit": 50, "offset": 0}


def test_a_categorys_products_take_the_product_filters_sort_and_page(
    client, viewer, manager, category
):
    create_product(client, manager, "Cheap hose", category_ids=[category["id"]], price="2.00")
    pricey = create_product(
        client, manager, "Fancy hose", category_ids=[category["id"]], price="50.00"
    )
    mid = create_product(
        client, manager, "Plain hose", category_ids=[category["id"]], price="20.00"
    )
    create_product(client, manager, "Fancy rake", category_ids=[category["id"]], price="60.00")
    create_product(client, manager, "Other hose", category_ids=[], price="30.00")
    response = client.get(
        f"{CATEGORIES}/{category['id']}/products",
        params={"q": "hose", "min_price": "10", "sort": "-price", "limit": 1, "offset": 1},
        headers=viewer,
    )
    assert response.status_code == 200
    assert response.json() == {"items": [mid], "total": 2, "limit": 1, "offset": 1}
    first_page = client.get(
        f"{CATEGORIES}/{category['id']}/products",
        params={"q": "hose", "min_price": "10", "sort": "-price", "limit": 1},
        headers=viewer,
    )
    assert first_page.json()["items"] == [pricey]


@pytest.mark.parametrize(
    "params", [{"sort": "colour"}, {"limit": 0}, {"min_price": "5", "max_price": "1"}]
)
def test_a_categorys_products_refuse_bad_queries(client, viewer, category, params):
    response = client.get(f"{CATEGORIES}/{category['id']}/products", params=params, headers=viewer)
    assert response.status_code == 422


def test_the_products_of_an_unknown_category_are_404(client, viewer):
    response = client.get(f"{CATEGORIES}/9999/products", headers=viewer)
    assert response.status_code == 404
    assert response.json()["detail"] == "category 9999 not found"


def test_an_empty_category_has_an_empty_product_list(client, viewer, manager, product):
    empty = create_category(client, manager, "Empty")
    response = client.get(f"{CATEGORIES}/{empty['id']}/products", headers=viewer)
    assert response.json() == {"items": [], "total": 0, "limit": 50, "offset": 0}


def test_category_endpoints_need_a_token(client, category):
    assert client.get(CATEGORIES).status_code == 401
    assert client.get(f"{CATEGORIES}/{category['id']}").status_code == 401
    assert client.get(f"{CATEGORIES}/{category['id']}/products").status_code == 401
    assert client.post(CATEGORIES, json={"name": "X"}).status_code == 401
    assert client.patch(f"{CATEGORIES}/{category['id']}", json={"name": "X"}).status_code == 401
    assert client.delete(f"{CATEGORIES}/{category['id']}").status_code == 401
