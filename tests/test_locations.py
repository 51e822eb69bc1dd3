"""Locations: CRUD, exactly one default, no delete while stock is there; stock per location."""

from sqlalchemy import text

from tests.stock_setup import MAIN, level, make_location, make_product, put_stock

URL = "/api/v1/locations"


def defaults(db) -> list[int]:
    ids = list(db.execute(text("SELECT id FROM locations WHERE is_default")).scalars())
    db.commit()
    return ids


def test_the_default_location_main_exists_from_the_start(client, viewer):
    response = client.get(URL, headers=viewer)
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 1
    assert body["items"][0] | {"created_at": None} == {
        "id": MAIN,
        "name": "Main",
        "code": None,
        "description": None,
        "is_default": True,
        "created_at": None,
    }


def test_a_manager_creates_a_location_and_gets_its_address(client, manager, db):
    response = client.post(
        URL,
        json={"name": "Leeds warehouse", "code": "LDS-1", "description": "Unit 4"},
        headers=manager,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["name"] == "Leeds warehouse" and body["code"] == "LDS-1"
    assert body["is_default"] is False
    assert response.headers["Location"].endswith(f"{URL}/{body['id']}")
    assert client.get(f"{URL}/{body['id']}", headers=manager).json() == body
    assert defaults(db) == [MAIN]


def test_a_location_name_taken_ignoring_case_is_a_409(client, manager):
    make_location(client, manager, "Leeds")
    response = client.post(URL, json={"name": "LEEDS"}, headers=manager)
    assert response.status_code == 409
    assert "already exists" in response.json()["detail"]
    assert client.get(URL, headers=manager).json()["total"] == 2


def test_a_taken_code_is_a_409_naming_the_code(client, manager):
    make_location(client, manager, "Leeds", code="LDS")
    response = client.post(URL, json={"name": "York", "code": "LDS"}, headers=manager)
    assert response.status_code == 409
    assert "'LDS'" in response.json()["detail"]


def test_a_code_outside_the_alphabet_is_a_422(client, manager):
    response = client.post(URL, json={"name": "York", "code": "york 1"}, headers=manager)
    assert response.status_code == 422
    assert client.get(URL, headers=manager).json()["total"] == 1


def test_creating_a_location_as_default_moves_the_default(client, manager, db):
    leeds = make_location(client, manager, "Leeds", is_default=True)
    assert leeds["is_default"] is True
    assert defaults(db) == [leeds["id"]]
    assert client.get(f"{URL}/{MAIN}", headers=manager).json()["is_default"] is False


def test_patching_is_default_true_moves_the_default(client, manager, db):
    leeds = make_location(client, manager, "Leeds")
    response = client.patch(f"{URL}/{leeds['id']}", json={"is_default": True}, headers=manager)
    assert response.status_code == 200, response.text
    assert response.json()["is_default"] is True
    assert defaults(db) == [leeds["id"]]


def test_unsetting_the_default_directly_is_a_422_and_it_stays_the_default(client, manager, db):
    response = client.patch(f"{URL}/{MAIN}", json={"is_default": False}, headers=manager)
    assert response.status_code == 422
    assert "another" in response.json()["detail"]
    assert defaults(db) == [MAIN]


def test_patching_changes_only_the_fields_sent(client, manager):
    leeds = make_location(client, manager, "Leeds", code="LDS", description="North")
    response = client.patch(f"{URL}/{leeds['id']}", json={"name": "Leeds 2"}, headers=manager)
    assert response.status_code == 200
    assert response.json() == leeds | {"name": "Leeds 2"}


def test_patching_a_name_to_null_is_a_422(client, manager):
    response = client.patch(f"{URL}/{MAIN}", json={"name": None}, headers=manager)
    assert response.status_code == 422
    assert client.get(f"{URL}/{MAIN}", headers=manager).json()["name"] == "Main"


def test_a_viewer_may_read_locations_but_not_create_them(client, viewer):
    assert client.get(f"{URL}/{MAIN}", headers=viewer).status_code == 200
    response = client.post(URL, json={"name": "Leeds"}, headers=viewer)
    assert response.status_code == 403
    assert client.get(URL, headers=viewer).json()["total"] == 1


def test_an_unknown_location_is_a_404(client, viewer):
    response = client.get(f"{URL}/99", headers=viewer)
    assert response.status_code == 404
    assert response.json()["detail"] == "location 99 not found"


def test_an_admin_deletes_an_empty_location(client, admin, manager):
    leeds = make_location(client, manager, "Leeds")
    response = client.delete(f"{URL}/{leeds['id']}", headers=admin)
    assert response.status_code == 204
    assert client.get(f"{URL}/{leeds['id']}", headers=admin).status_code == 404


def test_a_manager_cannot_delete_a_location(client, manager):
    leeds = make_location(client, manager, "Leeds")
    response = client.delete(f"{URL}/{leeds['id']}", headers=manager)
    assert response.status_code == 403
    assert client.get(f"{URL}/{leeds['id']}", headers=manager).status_code == 200


def test_the_default_location_cannot_be_deleted(client, admin):
    response = client.delete(f"{URL}/{MAIN}", headers=admin)
    assert response.status_code == 409
    assert "default" in response.json()["detail"]
    assert client.get(f"{URL}/{MAIN}", headers=admin).status_code == 200


def test_a_location_holding_stock_cannot_be_deleted(client, admin, db):
    leeds = make_location(client, admin, "Leeds")
    product = make_product(client, admin)
    put_stock(db, product["id"], leeds["id"], 3)
    response = client.delete(f"{URL}/{leeds['id']}", headers=admin)
    assert response.status_code == 409
    assert "holds stock" in response.json()["detail"]
    assert level(db, product["id"], leeds["id"]) == (3, 0)


def test_a_location_whose_stock_left_is_deleted_and_its_ledger_rows_stay(client, admin, db):
    leeds = make_location(client, admin, "Leeds")
    product = make_product(client, admin)
    put_stock(db, product["id"], leeds["id"], 3)
    put_stock(db, product["id"], leeds["id"], 0)
    response = client.delete(f"{URL}/{leeds['id']}", headers=admin)
    assert response.status_code == 204
    rows = db.execute(
        text("SELECT location_id FROM stock_movements WHERE product_id = :id"),
        {"id": product["id"]},
    ).scalars()
    assert list(rows) == [None, None]


def test_stock_levels_list_each_location_with_on_hand_reserved_and_available(
    client, manager, viewer, db
):
    leeds = make_location(client, manager, "Leeds")
    product = make_product(client, manager)
    put_stock(db, product["id"], MAIN, 5)
    put_stock(db, product["id"], leeds["id"], 8)
    reserved = client.post(
        "/api/v1/reservations",
        json={"items": [{"product_id": product["id"], "quantity": 3, "location_id": leeds["id"]}]},
        headers=manager,
    )
    assert reserved.status_code == 201, reserved.text

    response = client.get(f"/api/v1/products/{product['id']}/stock-levels", headers=viewer)

    assert response.status_code == 200
    assert response.json() == {
        "items": [
            {
                "location_id": MAIN,
                "location_name": "Main",
                "on_hand": 5,
                "reserved": 0,
                "available": 5,
            },
            {
                "location_id": leeds["id"],
                "location_name": "Leeds",
                "on_hand": 8,
                "reserved": 3,
                "available": 5,
            },
        ],
        "total": 2,
        "limit": 50,
        "offset": 0,
    }


def test_stock_levels_of_an_unknown_product_are_a_404(client, viewer):
    response = client.get("/api/v1/products/99/stock-levels", headers=viewer)
    assert response.status_code == 404
    assert response.json()["detail"] == "product 99 not found"
