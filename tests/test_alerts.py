"""Low-stock alerts: opened on every crossing to at or below the threshold, once, with a WARNING;
resolved when the stock rises above it. The low-stock list and the alert list."""

import logging
from datetime import timedelta

import pytest
from sqlalchemy import update

from inventory.models import LowStockAlert
from tests.factories import active_alerts, alerts, create_product, product_url, stock_url

STOCK_LOGGER = "inventory.stock"


def warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name == STOCK_LOGGER and record.levelno == logging.WARNING
    ]


def adjust(client, headers, product_id: int, delta: int) -> dict:
    response = client.post(
        stock_url(product_id),
        json={"delta": delta, "reason": "test"},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return response.json()


def patch(client, headers, product_id: int, **changes) -> dict:
    response = client.patch(product_url(product_id), json=changes, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def low_product(client, manager) -> dict:
    """A product created at 5 in stock with a threshold of 10: low from the start."""
    return create_product(client, manager, stock_quantity=5, low_stock_threshold=10, sku="CAN-5")


# Opening


def test_creating_a_product_below_its_threshold_opens_an_alert(db, low_product):
    [alert] = alerts(db, low_product["id"])
    assert alert.active
    assert (alert.quantity, alert.threshold) == (5, 10)
    assert alert.resolved_at is None


def test_creating_a_product_below_its_threshold_logs_a_warning(client, manager, caplog):
    caplog.set_level(logging.WARNING, logger=STOCK_LOGGER)
    created = create_product(
        client,
        manager,
        name="Rake",
        stock_quantity=3,
        low_stock_threshold=10,
        sku="RAKE-1",
    )
    [record] = warnings(caplog)
    message = record.getMessage()
    assert f"id={created['id']}" in message
    assert "RAKE-1" in message
    assert "Rake" in message
    assert "quantity=3" in message
    assert "threshold=10" in message
    assert (record.product_id, record.sku, record.quantity, record.threshold) == (
        created["id"],
        "RAKE-1",
        3,
        10,
    )


def test_creating_a_product_at_its_threshold_opens_an_alert(client, db, manager, caplog):
    caplog.set_level(logging.WARNING, logger=STOCK_LOGGER)
    created = create_product(client, manager, stock_quantity=10, low_stock_threshold=10)
    assert len(active_alerts(db, created["id"])) == 1
    assert len(warnings(caplog)) == 1


def test_creating_a_product_without_stock_opens_an_alert(client, db, manager):
    created = create_product(client, manager, stock_quantity=0, low_stock_threshold=1)
    assert len(active_alerts(db, created["id"])) == 1


def test_creating_a_product_above_its_threshold_opens_no_alert(client, db, manager, caplog):
    caplog.set_level(logging.WARNING, logger=STOCK_LOGGER)
    created = create_product(client, manager, stock_quantity=11, low_stock_threshold=10)
    assert alerts(db, created["id"]) == []
    assert warnings(caplog) == []


def test_the_default_threshold_comes_from_the_settings(client, db, manager):
    created = create_product(client, manager, stock_quantity=10)
    assert created["low_stock_threshold"] == 10
    assert len(active_alerts(db, created["id"])) == 1


def test_an_adjustment_crossing_the_threshold_opens_an_alert_and_logs(
    client, db, manager, caplog, product
):
    caplog.set_level(logging.WARNING, logger=STOCK_LOGGER)
    adjust(client, manager, product["id"], -41)
    [alert] = alerts(db, product["id"])
    assert alert.active
    assert (alert.quantity, alert.threshold) == (9, 10)
    [record] = warnings(caplog)
    message = record.getMessage()
    assert f"id={product['id']}" in message
    assert "HOSE-25" in message
    assert "Garden hose" in message
    assert "quantity=9" in message
    assert "threshold=10" in message


def test_an_adjustment_to_exactly_the_threshold_counts_as_low(client, db, manager, caplog, product):
    caplog.set_level(logging.WARNING, logger=STOCK_LOGGER)
    adjust(client, manager, product["id"], -40)
    [alert] = alerts(db, product["id"])
    assert alert.active
    assert alert.quantity == 10
    assert len(warnings(caplog)) == 1


def test_an_adjustment_staying_above_the_threshold_opens_no_alert(
    client, db, manager, caplog, product
):
    caplog.set_level(logging.WARNING, logger=STOCK_LOGGER)
    adjust(client, manager, product["id"], -39)
    assert alerts(db, product["id"]) == []
    assert warnings(caplog) == []


def test_further_drops_while_low_do_not_open_another_alert(client, db, manager, caplog, product):
    adjust(client, manager, product["id"], -41)
    caplog.clear()
    caplog.set_level(logging.WARNING, logger=STOCK_LOGGER)
    adjust(client, manager, product["id"], -3)
    adjust(client, manager, product["id"], -6)
    [alert] = alerts(db, product["id"])
    assert alert.active
    assert alert.quantity == 9
    assert warnings(caplog) == []


def test_a_rise_that_stays_low_keeps_the_one_alert(client, db, manager, caplog, low_product):
    caplog.set_level(logging.WARNING, logger=STOCK_LOGGER)
    adjust(client, manager, low_product["id"], 5)
    [alert] = alerts(db, low_product["id"])
    assert alert.active
    assert warnings(caplog) == []


def test_rising_above_the_threshold_resolves_the_alert(client, db, manager, low_product):
    adjust(client, manager, low_product["id"], 6)
    [alert] = alerts(db, low_product["id"])
    assert not alert.active
    assert alert.resolved_at is not None
    assert alert.resolved_at >= alert.created_at


def test_falling_again_after_a_resolution_opens_a_new_alert(
    client, db, manager, caplog, low_product
):
    adjust(client, manager, low_product["id"], 6)
    caplog.set_level(logging.WARNING, logger=STOCK_LOGGER)
    adjust(client, manager, low_product["id"], -1)
    first, second = alerts(db, low_product["id"])
    assert not first.active
    assert second.active
    assert (second.quantity, second.threshold) == (10, 10)
    assert len(warnings(caplog)) == 1


def test_a_refused_adjustment_opens_no_alert(client, db, manager, caplog, product):
    caplog.set_level(logging.WARNING, logger=STOCK_LOGGER)
    response = client.post(
        stock_url(product["id"]),
        json={"delta": -51, "reason": "too much"},
        headers=manager,
    )
    assert response.status_code == 409
    assert alerts(db, product["id"]) == []
    assert warnings(caplog) == []


# Changes by PATCH


def test_raising_the_threshold_above_the_stock_opens_an_alert(client, db, manager, caplog, product):
    caplog.set_level(logging.WARNING, logger=STOCK_LOGGER)
    patch(client, manager, product["id"], low_stock_threshold=60)
    [alert] = alerts(db, product["id"])
    assert alert.active
    assert (alert.quantity, alert.threshold) == (50, 60)
    [record] = warnings(caplog)
    assert "threshold=60" in record.getMessage()


def test_raising_the_threshold_to_the_stock_opens_an_alert(client, db, manager, product):
    patch(client, manager, product["id"], low_stock_threshold=50)
    assert len(active_alerts(db, product["id"])) == 1


@pytest.mark.parametrize(
    "change",
    [{"low_stock_threshold": 4}, {"stock_quantity": 11}],
    ids=["lowering the threshold below the stock", "patching the stock above the threshold"],
)
def test_a_patch_that_lifts_a_low_product_resolves_the_alert(
    client, db, manager, low_product, change
):
    patch(client, manager, low_product["id"], **change)
    [alert] = alerts(db, low_product["id"])
    assert not alert.active
    assert alert.resolved_at is not None


def test_patching_the_stock_below_the_threshold_opens_an_alert(
    client, db, manager, caplog, product
):
    caplog.set_level(logging.WARNING, logger=STOCK_LOGGER)
    patch(client, manager, product["id"], stock_quantity=2)
    [alert] = alerts(db, product["id"])
    assert alert.active
    assert alert.quantity == 2
    [record] = warnings(caplog)
    assert "quantity=2" in record.getMessage()


def test_patching_other_fields_of_a_low_product_opens_no_second_alert(
    client, db, manager, caplog, low_product
):
    caplog.set_level(logging.WARNING, logger=STOCK_LOGGER)
    patch(client, manager, low_product["id"], name="Bigger can", price="9.00")
    assert len(alerts(db, low_product["id"])) == 1
    assert warnings(caplog) == []


def test_the_database_refuses_a_second_active_alert_for_a_product(db, low_product):
    db.add(LowStockAlert(product_id=low_product["id"], quantity=5, threshold=10))
    with pytest.raises(Exception, match="ux_low_stock_alerts_active_product"):
        db.commit()
    db.rollback()


# The alert list


def test_the_alert_list_is_newest_first(client, manager):
    first = create_product(client, manager, name="A", stock_quantity=1)
    second = create_product(client, manager, name="B", stock_quantity=2)
    third = create_product(client, manager, name="C", stock_quantity=3)
    response = client.get("/api/v1/alerts", headers=manager)
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 3
    assert (body["limit"], body["offset"]) == (50, 0)
    assert [item["product_id"] for item in body["items"]] == [
        third["id"],
        second["id"],
        first["id"],
    ]
    assert set(body["items"][0]) == {
        "id",
        "product_id",
        "quantity",
        "threshold",
        "active",
        "created_at",
        "resolved_at",
    }


def test_the_alert_list_orders_by_creation_time_before_id(client, db, manager):
    older = create_product(client, manager, name="A", stock_quantity=1)
    newer = create_product(client, manager, name="B", stock_quantity=1)
    [older_alert] = alerts(db, older["id"])
    db.execute(
        update(LowStockAlert)
        .where(LowStockAlert.product_id == newer["id"])
        .values(created_at=older_alert.created_at - timedelta(hours=1))
    )
    db.commit()
    items = client.get("/api/v1/alerts", headers=manager).json()["items"]
    assert [item["product_id"] for item in items] == [older["id"], newer["id"]]


def test_the_alert_list_filters_active_alerts(client, manager):
    resolved = create_product(client, manager, name="A", stock_quantity=1)
    still_low = create_product(client, manager, name="B", stock_quantity=2)
    adjust(client, manager, resolved["id"], 20)
    response = client.get("/api/v1/alerts", params={"active": "true"}, headers=manager)
    body = response.json()
    assert response.status_code == 200
    assert body["total"] == 1
    assert [item["product_id"] for item in body["items"]] == [still_low["id"]]
    assert body["items"][0]["active"] is True


def test_the_alert_list_filters_resolved_alerts(client, manager):
    resolved = create_product(client, manager, name="A", stock_quantity=1)
    create_product(client, manager, name="B", stock_quantity=2)
    adjust(client, manager, resolved["id"], 20)
    body = client.get("/api/v1/alerts", params={"active": "false"}, headers=manager).json()
    assert body["total"] == 1
    [item] = body["items"]
    assert item["product_id"] == resolved["id"]
    assert item["active"] is False
    assert item["resolved_at"] is not None


def test_the_alert_list_without_a_filter_shows_all(client, manager):
    resolved = create_product(client, manager, name="A", stock_quantity=1)
    create_product(client, manager, name="B", stock_quantity=2)
    adjust(client, manager, resolved["id"], 20)
    assert client.get("/api/v1/alerts", headers=manager).json()["total"] == 2


def test_the_alert_list_is_paginated(client, manager):
    made = [create_product(client, manager, name=f"P{i}", stock_quantity=i) for i in range(5)]
    response = client.get("/api/v1/alerts", params={"limit": 2, "offset": 1}, headers=manager)
    body = response.json()
    assert body["total"] == 5
    assert (body["limit"], body["offset"]) == (2, 1)
    assert [item["product_id"] for item in body["items"]] == [made[3]["id"], made[2]["id"]]


def test_the_alert_list_refuses_an_unreadable_filter(client, manager):
    response = client.get("/api/v1/alerts", params={"active": "maybe"}, headers=manager)
    assert response.status_code == 422


def test_a_viewer_may_read_the_alerts(client, viewer, low_product):
    response = client.get("/api/v1/alerts", headers=viewer)
    assert response.status_code == 200
    assert response.json()["total"] == 1


def test_the_alert_list_needs_a_token(client):
    assert client.get("/api/v1/alerts").status_code == 401


# The low-stock list


def test_the_low_stock_list_holds_products_at_or_below_their_threshold(client, manager):
    at = create_product(client, manager, name="At", stock_quantity=10, low_stock_threshold=10)
    below = create_product(client, manager, name="Below", stock_quantity=4, low_stock_threshold=5)
    create_product(client, manager, name="Above", stock_quantity=11, low_stock_threshold=10)
    create_product(client, manager, name="Zero limit", stock_quantity=1, low_stock_threshold=0)
    response = client.get("/api/v1/inventory/low-stock", headers=manager)
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 2
    assert {item["id"] for item in body["items"]} == {at["id"], below["id"]}


def test_the_low_stock_list_puts_the_lowest_stock_first(client, manager):
    five = create_product(client, manager, name="Five", stock_quantity=5, low_stock_threshold=20)
    zero = create_product(client, manager, name="Zero", stock_quantity=0, low_stock_threshold=1)
    two = create_product(client, manager, name="Two", stock_quantity=2, low_stock_threshold=2)
    body = client.get("/api/v1/inventory/low-stock", headers=manager).json()
    assert [item["id"] for item in body["items"]] == [zero["id"], two["id"], five["id"]]


def test_the_low_stock_list_puts_the_larger_shortfall_first_for_equal_stock(client, manager):
    near = create_product(client, manager, name="Near", stock_quantity=3, low_stock_threshold=5)
    far = create_product(client, manager, name="Far", stock_quantity=3, low_stock_threshold=20)
    body = client.get("/api/v1/inventory/low-stock", headers=manager).json()
    assert [item["id"] for item in body["items"]] == [far["id"], near["id"]]


def test_the_low_stock_list_follows_adjustments(client, manager, product):
    assert client.get("/api/v1/inventory/low-stock", headers=manager).json()["total"] == 0
    adjust(client, manager, product["id"], -45)
    body = client.get("/api/v1/inventory/low-stock", headers=manager).json()
    assert [item["id"] for item in body["items"]] == [product["id"]]
    assert body["items"][0]["stock_quantity"] == 5


def test_the_low_stock_list_is_paginated(client, manager):
    made = [create_product(client, manager, name=f"P{i}", stock_quantity=i) for i in range(5)]
    response = client.get(
        "/api/v1/inventory/low-stock", params={"limit": 2, "offset": 2}, headers=manager
    )
    body = response.json()
    assert body["total"] == 5
    assert (body["limit"], body["offset"]) == (2, 2)
    assert [item["id"] for item in body["items"]] == [made[2]["id"], made[3]["id"]]


def test_the_low_stock_list_refuses_a_negative_offset(client, manager):
    response = client.get("/api/v1/inventory/low-stock", params={"offset": -1}, headers=manager)
    assert response.status_code == 422


def test_the_low_stock_list_needs_a_token(client):
    assert client.get("/api/v1/inventory/low-stock").status_code == 401
