"""Optimistic concurrency: a product's version is its ETag; a PATCH with a stale If-Match is a 412
and changes nothing."""

import httpx
import pytest

from tests.factories import PRODUCTS, ledger, product_url, stock_url, stored_product


def test_getting_a_product_returns_its_version_as_the_etag(client, viewer, product):
    response = client.get(product_url(product["id"]), headers=viewer)
    assert response.status_code == 200
    assert response.headers["ETag"] == f'"{response.json()["version"]}"'


def test_creating_a_product_returns_its_etag(client, manager):
    response = client.post(PRODUCTS, json={"name": "Rake", "price": "3.00"}, headers=manager)
    assert response.status_code == 201
    assert response.headers["ETag"] == '"1"'


def test_a_patch_with_the_current_etag_succeeds_and_returns_the_new_one(
    client, db, manager, product
):
    etag = client.get(product_url(product["id"]), headers=manager).headers["ETag"]
    response = client.patch(
        product_url(product["id"]), json={"name": "Hose"}, headers={**manager, "If-Match": etag}
    )
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Hose"
    assert response.json()["version"] == product["version"] + 1
    assert response.headers["ETag"] == f'"{product["version"] + 1}"'
    assert response.headers["ETag"] != etag
    assert stored_product(db, product["id"]).name == "Hose"


def test_a_weak_etag_is_accepted(client, db, manager, product):
    response = client.patch(
        product_url(product["id"]),
        json={"name": "Hose"},
        headers={**manager, "If-Match": f'W/"{product["version"]}"'},
    )
    assert response.status_code == 200
    assert stored_product(db, product["id"]).name == "Hose"


def test_a_patch_with_a_stale_etag_is_refused_and_changes_nothing(client, db, manager, product):
    stale = f'"{product["version"]}"'
    client.post(
        stock_url(product["id"]),
        json={"delta": -1, "reason": "order"},
        headers=manager,
    )
    response = client.patch(
        product_url(product["id"]),
        json={"name": "Hose", "stock_quantity": 5},
        headers={**manager, "If-Match": stale},
    )
    assert response.status_code == 412
    assert "version" in response.json()["detail"]
    stored = stored_product(db, product["id"])
    assert (stored.name, stored.stock_quantity, stored.version) == (
        "Garden hose",
        49,
        product["version"] + 1,
    )
    assert len(ledger(db, product["id"])) == 2


def test_a_second_patch_with_the_same_etag_is_refused(client, db, manager, product):
    headers = {**manager, "If-Match": f'"{product["version"]}"'}
    assert (
        client.patch(product_url(product["id"]), json={"name": "A"}, headers=headers).status_code
        == 200
    )
    response = client.patch(product_url(product["id"]), json={"name": "B"}, headers=headers)
    assert response.status_code == 412
    assert stored_product(db, product["id"]).name == "A"


def test_a_stock_adjustment_changes_the_etag(client, manager, product):
    response = client.post(
        stock_url(product["id"]),
        json={"delta": 1, "reason": "delivery"},
        headers=manager,
    )
    assert response.headers["ETag"] == f'"{product["version"] + 1}"'
    assert client.get(product_url(product["id"]), headers=manager).headers["ETag"] == (
        f'"{product["version"] + 1}"'
    )


def test_if_match_star_matches_any_version(client, db, manager, product):
    response = client.patch(
        product_url(product["id"]), json={"name": "Hose"}, headers={**manager, "If-Match": "*"}
    )
    assert response.status_code == 200
    assert stored_product(db, product["id"]).name == "Hose"


@pytest.mark.parametrize(
    "if_match", [b"garbage", b'"abc"', b'"-1"', b'"1", "2"', b'"\xb2"', b'"' + b"9" * 5000 + b'"']
)
def test_an_unreadable_if_match_is_refused(client, db, manager, product, if_match):
    response = client.patch(
        product_url(product["id"]),
        json={"name": "Hose"},
        headers={**manager, "If-Match": if_match},
    )
    assert response.status_code == 412
    assert "If-Match" in response.json()["detail"]
    assert stored_product(db, product["id"]).name == "Garden hose"


def test_a_patch_without_if_match_still_works(client, db, manager, product):
    client.post(
        stock_url(product["id"]),
        json={"delta": 1, "reason": "delivery"},
        headers=manager,
    )
    response = client.patch(product_url(product["id"]), json={"name": "Hose"}, headers=manager)
    assert response.status_code == 200
    assert response.json()["version"] == product["version"] + 2
    assert stored_product(db, product["id"]).name == "Hose"


def test_a_patch_of_an_unknown_product_with_if_match_is_not_found(client, manager):
    response = client.patch(
        product_url(999), json={"name": "Hose"}, headers={**manager, "If-Match": '"1"'}
    )
    assert response.status_code == 404


@pytest.mark.live
def test_an_if_match_of_non_ascii_digits_is_refused_by_the_real_server(
    live_server, db, manager, product
):
    response = httpx.patch(
        f"{live_server}{product_url(product['id'])}",
        json={"name": "Hose"},
        headers={**manager, "If-Match": b'"\xb2"'},
        timeout=10,
    )
    assert response.status_code == 412
    assert stored_product(db, product["id"]).name == "Garden hose"
