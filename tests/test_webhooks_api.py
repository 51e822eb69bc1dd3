"""/webhooks: subscriptions, their one-time secret, and the checks on where they may send.
(Delivery itself, with workers and a receiver, is in test_webhook_delivery.py.)"""

import pytest
from sqlalchemy import select, text
from standardwebhooks.webhooks import Webhook as Verifier

from inventory.models import Event, Webhook, WebhookDelivery
from tests.factories import count

WEBHOOKS = "/api/v1/webhooks"
PUBLIC_URL = "https://93.184.216.34/inventory-hooks"
"""A public address written as such: saving it resolves nothing and sends nothing."""


@pytest.fixture
def webhook(client, admin) -> dict:
    response = client.post(
        WEBHOOKS,
        json={"url": PUBLIC_URL, "event_types": ["product.created"], "description": "Reorder"},
        headers=admin,
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_creating_a_webhook_answers_its_secret_once(client, db, admin, webhook):
    assert webhook["secret"].startswith("whsec_")
    Verifier(webhook["secret"])  # a valid Standard Webhooks secret
    assert {k: v for k, v in webhook.items() if k not in ("id", "secret", "created_at")} == {
        "url": PUBLIC_URL,
        "event_types": ["product.created"],
        "description": "Reorder",
        "is_active": True,
        "failing_since": None,
    }
    fetched = client.get(f"{WEBHOOKS}/{webhook['id']}", headers=admin).json()
    listed = client.get(WEBHOOKS, headers=admin).json()
    assert "secret" not in fetched
    assert [set(item) for item in listed["items"]] == [set(fetched)]
    assert db.get(Webhook, webhook["id"]).secret == webhook["secret"]


def test_the_created_webhook_is_at_its_location(client, admin):
    response = client.post(WEBHOOKS, json={"url": PUBLIC_URL, "event_types": ["*"]}, headers=admin)

    assert response.headers["Location"] == f"{WEBHOOKS}/{response.json()['id']}"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://10.0.0.7/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
    ],
)
def test_a_private_loopback_or_link_local_url_is_refused(client, db, admin, url):
    response = client.post(WEBHOOKS, json={"url": url, "event_types": ["*"]}, headers=admin)

    assert response.status_code == 422
    assert "public addresses only" in response.json()["detail"]
    assert response.json()["errors"][0]["loc"] == ["body", "url"]
    assert count(db, Webhook) == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"url": "ftp://93.184.216.34/x", "event_types": ["*"]}, "http:// or https://"),
        ({"url": "https://u:p@93.184.216.34/x", "event_types": ["*"]}, "user name or password"),
        ({"url": PUBLIC_URL, "event_types": ["Product Created"]}, "is not an event type"),
        ({"url": PUBLIC_URL, "event_types": ["*", "product.created"]}, "is not an event type"),
        ({"url": PUBLIC_URL, "event_types": []}, "at least 1 item"),
        ({"url": PUBLIC_URL}, "Field required"),
        ({"url": PUBLIC_URL, "event_types": ["*"], "secret": "whsec_mine"}, "Extra inputs"),
    ],
)
def test_a_bad_subscription_is_a_422_and_nothing_is_saved(client, db, admin, body, message):
    response = client.post(WEBHOOKS, json=body, headers=admin)

    assert response.status_code == 422
    assert message in response.text
    assert count(db, Webhook) == 0


def test_changing_the_url_checks_it_again(client, db, admin, webhook):
    response = client.patch(
        f"{WEBHOOKS}/{webhook['id']}", json={"url": "http://192.168.0.2/x"}, headers=admin
    )

    assert response.status_code == 422
    db.expire_all()
    assert db.get(Webhook, webhook["id"]).url == PUBLIC_URL


def test_turning_a_webhook_on_again_forgets_its_failures(client, db, admin, webhook):
    db.execute(
        text("UPDATE webhooks SET is_active = false, failing_since = now() WHERE id = :id"),
        {"id": webhook["id"]},
    )
    db.commit()

    response = client.patch(f"{WEBHOOKS}/{webhook['id']}", json={"is_active": True}, headers=admin)

    assert response.status_code == 200
    assert (response.json()["is_active"], response.json()["failing_since"]) == (True, None)
    [event] = db.scalars(select(Event).where(Event.type == "webhook.updated"))
    assert event.data == {"changes": {"is_active": [False, True]}, "url_changed": False}


def test_deleting_a_webhook_removes_it_and_its_deliveries(client, db, admin, webhook):
    event_id = db.scalar(select(Event.id).limit(1))
    db.add(WebhookDelivery(webhook_id=webhook["id"], event_id=event_id, attempt=1))
    db.commit()

    response = client.delete(f"{WEBHOOKS}/{webhook['id']}", headers=admin)

    assert response.status_code == 204
    assert client.get(f"{WEBHOOKS}/{webhook['id']}", headers=admin).status_code == 404
    assert count(db, WebhookDelivery) == 0
    [deleted] = db.scalars(select(Event).where(Event.type == "webhook.deleted"))
    assert "secret" not in str(deleted.data)


def test_the_delivery_log_of_an_unknown_webhook_is_a_404(client, admin):
    response = client.get(f"{WEBHOOKS}/99/deliveries", headers=admin)

    assert response.status_code == 404
    assert response.json()["detail"] == "webhook 99 not found"


def test_the_delivery_log_lists_attempts_newest_first(client, db, admin, webhook):
    event_id = db.scalar(select(Event.id).limit(1))
    for attempt, status in ((1, 500), (2, 200)):
        db.add(
            WebhookDelivery(
                webhook_id=webhook["id"],
                event_id=event_id,
                attempt=attempt,
                status_code=status,
                duration_ms=12,
            )
        )
    db.commit()

    page = client.get(f"{WEBHOOKS}/{webhook['id']}/deliveries", headers=admin).json()

    assert [(item["attempt"], item["status_code"]) for item in page["items"]] == [
        (2, 200),
        (1, 500),
    ]
    assert set(page["items"][0]) == {
        "id",
        "event_id",
        "attempt",
        "status_code",
        "error",
        "duration_ms",
        "created_at",
    }


def test_a_delivery_of_a_turned_off_webhook_is_not_sent_again(client, db, admin, webhook):
    event_id = db.scalar(select(Event.id).limit(1))
    delivery = WebhookDelivery(webhook_id=webhook["id"], event_id=event_id, attempt=1)
    db.add(delivery)
    db.execute(text("UPDATE webhooks SET is_active = false"))
    db.commit()

    response = client.post(
        f"{WEBHOOKS}/{webhook['id']}/deliveries/{delivery.id}/redeliver", headers=admin
    )

    assert response.status_code == 409
    assert "turned off" in response.json()["detail"]
    assert db.scalar(text("SELECT count(*) FROM procrastinate_jobs")) == 0


def test_redelivering_an_unknown_delivery_is_a_404(client, admin, webhook):
    response = client.post(f"{WEBHOOKS}/{webhook['id']}/deliveries/7/redeliver", headers=admin)

    assert response.status_code == 404
    assert response.json()["detail"] == "delivery 7 not found"


def test_an_event_tells_only_the_origin_of_a_webhook_url_whose_path_may_be_a_credential(
    client, db, admin
):
    secret_path = "https://93.184.216.34:8443/services/T0/B0/s3cr3tT0k3n?sig=abc"
    created = client.post(WEBHOOKS, json={"url": secret_path, "event_types": ["*"]}, headers=admin)
    moved = client.patch(
        f"{WEBHOOKS}/{created.json()['id']}",
        json={"url": "https://93.184.216.34:8443/services/T0/B0/n3wT0k3n"},
        headers=admin,
    )

    assert (created.status_code, moved.status_code) == (201, 200)
    creation, update = db.scalars(
        select(Event).where(Event.entity_type == "webhook").order_by(Event.id)
    )
    assert creation.data["target"] == "https://93.184.216.34:8443"
    assert update.data == {"changes": {}, "url_changed": True}
    everything = db.scalar(text("SELECT string_agg(data::text, ' ') FROM events"))
    assert "T0k3n" not in everything and "sig=" not in everything
