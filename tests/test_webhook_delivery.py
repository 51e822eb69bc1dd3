"""Webhook delivery end to end: real worker processes, a real receiver on 127.0.0.1, real HTTP,
signatures checked with the `standardwebhooks` library as a receiver would."""

import json
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select, text
from sqlmodel import Session
from standardwebhooks.webhooks import Webhook as Verifier

from inventory.config import get_settings
from inventory.events import record_event
from inventory.models import Event, Webhook, WebhookDelivery
from inventory.webhook_delivery import STOPPED
from inventory.webhooks import create_webhook
from tests.processes import ROOT, Receiver, jobs_left, wait_until, workers


@pytest.fixture
def private_targets(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process may subscribe receivers on 127.0.0.1 (the workers always may, in tests)."""
    monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE_TARGETS", "true")
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("WEBHOOK_ALLOW_PRIVATE_TARGETS")
    get_settings.cache_clear()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def subscribe(engine: Engine, url: str, event_types: list[str]) -> Webhook:
    with Session(engine, expire_on_commit=False) as session:
        return create_webhook(session, url, event_types, "test receiver", None)


def change(engine: Engine, *events: tuple[str, int]) -> None:
    """Commit one transaction that records `events` (type, entity id)."""
    with Session(engine) as session:
        for event_type, entity_id in events:
            entity_type = event_type.split(".")[0]
            record_event(session, event_type, entity_type, entity_id, {"n": entity_id}, None)
        session.commit()


def attempts(db: Session, webhook: Webhook) -> list[tuple[int, int | None, str | None]]:
    db.expire_all()
    rows = db.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == webhook.id)
        .order_by(WebhookDelivery.id)
    )
    return [(row.attempt, row.status_code, row.error) for row in rows]


def test_a_receiver_gets_each_subscribed_event_once_signed_and_nothing_else(
    engine, db, tmp_path, private_targets
):
    with Receiver() as receiver, workers(tmp_path, engine):
        webhook = subscribe(engine, receiver.url, ["product.created", "product.deleted"])
        change(engine, ("product.created", 1), ("category.created", 2))
        change(engine, ("product.updated", 1), ("product.deleted", 1))

        received = receiver.wait_for(2)
        wait_until(lambda: jobs_left(engine) == 0, "the queue to empty")

    assert len(receiver.requests) == 2
    bodies = [Verifier(webhook.secret).verify(r.body, r.headers) for r in received]
    assert sorted(body["type"] for body in bodies) == ["product.created", "product.deleted"]
    stored = {event.id: event for event in db.scalars(select(Event))}
    for request, body in zip(received, bodies, strict=True):
        event = stored[body["id"]]
        assert (body["entity_type"], body["entity_id"], body["data"]) == ("product", 1, {"n": 1})
        assert request.headers["webhook-id"] == f"msg_{event.id}_{webhook.id}"
        assert request.headers["content-type"] == "application/json"


def test_a_signature_made_with_another_secret_does_not_verify(engine, tmp_path, private_targets):
    with Receiver() as receiver, workers(tmp_path, engine):
        subscribe(engine, receiver.url, ["product.created"])
        change(engine, ("product.created", 1))
        [request] = receiver.wait_for(1)

    other = Verifier(subscribe(engine, receiver.url, ["*"]).secret)
    with pytest.raises(Exception, match="No matching signature"):
        other.verify(request.body, request.headers)


def test_a_receiver_that_fails_twice_gets_the_event_and_every_attempt_is_listed(
    engine, db, tmp_path, private_targets
):
    answer_500_twice = Receiver(answer=lambda seen: 500 if seen < 2 else 200)
    with answer_500_twice as receiver, workers(tmp_path, engine):
        webhook = subscribe(engine, receiver.url, ["product.created"])
        change(engine, ("product.created", 1))
        received = receiver.wait_for(3)
        wait_until(lambda: jobs_left(engine) == 0, "the queue to empty")

    assert len({request.headers["webhook-id"] for request in received}) == 1
    for request in received:
        Verifier(webhook.secret).verify(request.body, request.headers)
    assert attempts(db, webhook) == [
        (1, 500, "the receiver answered 500"),
        (2, 500, "the receiver answered 500"),
        (3, 200, None),
    ]


def test_an_event_survives_a_worker_killed_mid_delivery(engine, db, tmp_path, private_targets):
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    with Receiver() as receiver:
        receiver.hold.clear()  # the first request hangs: the worker is mid-delivery
        with workers(tmp_path / "first", engine) as [doomed]:
            webhook = subscribe(engine, receiver.url, ["product.created"])
            change(engine, ("product.created", 1))
            [first] = receiver.wait_for(1)
            doomed.kill()
        receiver.hold.set()
        with workers(tmp_path / "second", engine):
            received = receiver.wait_for(2)
            wait_until(lambda: jobs_left(engine) == 0, "the queue to empty")

    assert received[1].headers["webhook-id"] == first.headers["webhook-id"]
    Verifier(webhook.secret).verify(received[1].body, received[1].headers)
    assert attempts(db, webhook) == [(1, None, STOPPED), (2, 200, None)]


def test_a_change_that_rolled_back_is_never_delivered(engine, db, tmp_path, private_targets):
    with Receiver() as receiver, workers(tmp_path, engine):
        subscribe(engine, receiver.url, ["product.created"])
        with Session(engine) as session:
            record_event(session, "product.created", "product", 1, {}, None)
            session.rollback()
        change(engine, ("product.created", 2))
        [request] = receiver.wait_for(1)
        wait_until(lambda: jobs_left(engine) == 0, "the queue to empty")

    assert json.loads(request.body)["entity_id"] == 2
    assert len(receiver.requests) == 1
    assert db.scalar(text("SELECT count(*) FROM events WHERE type = 'product.created'")) == 1


def test_a_thousand_events_in_a_burst_all_arrive_once_with_three_workers(
    engine, db, tmp_path, private_targets
):
    with Receiver() as receiver, workers(tmp_path, engine, count=3):
        subscribe(engine, receiver.url, ["product.updated"])
        for start in range(0, 1000, 100):
            change(engine, *(("product.updated", n) for n in range(start, start + 100)))
        receiver.wait_for(1000, timeout=120)
        wait_until(lambda: jobs_left(engine) == 0, "the queue to empty")

    per_message = Counter(request.headers["webhook-id"] for request in receiver.requests)
    attempt_numbers = db.scalars(select(WebhookDelivery.attempt)).all()
    assert len(attempt_numbers) == 1000 and set(attempt_numbers) == {1}
    assert len(per_message) == 1000
    assert set(per_message.values()) == {1}
    assert sorted(json.loads(r.body)["entity_id"] for r in receiver.requests) == list(range(1000))


def test_a_worker_refuses_a_target_that_is_private_at_delivery_time(
    engine, db, tmp_path, private_targets
):
    with Receiver() as receiver:
        webhook = subscribe(engine, receiver.url, ["product.created"])
        with workers(tmp_path, engine, WEBHOOK_ALLOW_PRIVATE_TARGETS="false"):
            change(engine, ("product.created", 1))
            wait_until(lambda: len(attempts(db, webhook)) >= 1, "an attempt")

    assert receiver.requests == []
    [(number, status, error), *_] = attempts(db, webhook)
    assert (number, status) == (1, None)
    assert "refused: the host '127.0.0.1' resolves to 127.0.0.1" in error


def test_a_redirect_is_not_followed_and_counts_as_a_failure(engine, db, tmp_path, private_targets):
    redirect_once = Receiver(answer=lambda seen: 302 if seen == 0 else 204)
    with redirect_once as receiver, workers(tmp_path, engine):
        webhook = subscribe(engine, receiver.url, ["product.created"])
        change(engine, ("product.created", 1))
        receiver.wait_for(2)
        wait_until(lambda: jobs_left(engine) == 0, "the queue to empty")

    assert attempts(db, webhook) == [
        (1, 302, "the receiver redirected; redirects are not followed"),
        (2, 204, None),
    ]


def test_a_receiver_that_does_not_answer_in_time_is_retried(engine, db, tmp_path, private_targets):
    with Receiver() as receiver, workers(tmp_path, engine, WEBHOOK_TIMEOUT_SECONDS="0.5"):
        receiver.hold.clear()
        webhook = subscribe(engine, receiver.url, ["product.created"])
        change(engine, ("product.created", 1))
        receiver.wait_for(1)
        wait_until(lambda: len(attempts(db, webhook)) >= 2, "a retry")
        receiver.hold.set()
        wait_until(lambda: jobs_left(engine) == 0, "the queue to empty")

    assert attempts(db, webhook)[0] == (1, None, "no answer within 0.5 s")
    assert attempts(db, webhook)[-1][1] == 200


def test_a_webhook_failing_for_the_set_time_is_disabled_and_an_event_says_so(
    engine, db, tmp_path, private_targets
):
    always_500 = Receiver(answer=lambda seen: 500)
    with always_500 as receiver, workers(tmp_path, engine, WEBHOOK_DISABLE_AFTER_SECONDS="1"):
        webhook = subscribe(engine, receiver.url, ["product.created"])
        change(engine, ("product.created", 1))
        wait_until(lambda: jobs_left(engine) == 0, "the retries to stop")

    db.expire_all()
    assert db.get(Webhook, webhook.id).is_active is False
    [disabled] = db.scalars(select(Event).where(Event.type == "webhook.disabled"))
    assert (disabled.entity_type, disabled.entity_id) == ("webhook", webhook.id)
    assert disabled.data["target"] == receiver.url.removesuffix("/hooks")
    assert "secret" not in json.dumps(disabled.data)
    assert len(attempts(db, webhook)) < 7  # stopped before the schedule ran out


def test_an_api_change_reaches_the_receiver_and_can_be_sent_again_by_hand(
    client, admin, engine, tmp_path, private_targets
):
    with Receiver() as receiver, workers(tmp_path, engine):
        created = client.post(
            "/api/v1/webhooks",
            json={"url": receiver.url, "event_types": ["product.created"]},
            headers=admin,
        ).json()
        client.post("/api/v1/products", json={"name": "Rake", "price": "9.99"}, headers=admin)
        [first] = receiver.wait_for(1)
        wait_until(lambda: jobs_left(engine) == 0, "the delivery to finish")
        deliveries = f"/api/v1/webhooks/{created['id']}/deliveries"
        [delivery] = client.get(deliveries, headers=admin).json()["items"]

        again = client.post(f"{deliveries}/{delivery['id']}/redeliver", headers=admin)
        second = receiver.wait_for(2)[1]
        wait_until(lambda: jobs_left(engine) == 0, "the redelivery to finish")
        log = client.get(deliveries, headers=admin).json()["items"]

    assert again.status_code == 202
    assert again.json() == {"webhook_id": created["id"], "event_id": delivery["event_id"]}
    body = Verifier(created["secret"]).verify(first.body, first.headers)
    assert (body["type"], body["data"]["name"], body["data"]["price"]) == (
        "product.created",
        "Rake",
        "9.99",
    )
    assert second.headers["webhook-id"] == first.headers["webhook-id"]
    assert second.body == first.body
    assert [(item["attempt"], item["status_code"]) for item in log] == [(2, 200), (1, 200)]


def test_the_receiver_example_in_the_readme_verifies_a_real_delivery(
    engine, tmp_path, private_targets
):
    doc = (ROOT / "README.md").read_text()
    example = doc.split("### Verifying the signature")[1].split("```python\n")[1].split("```")[0]
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    webhook = subscribe(engine, url, ["product.created"])
    receiver_code = example.replace("whsec_...", webhook.secret).replace(
        '("0.0.0.0", 9000)', f'("127.0.0.1", {port})'
    )
    (tmp_path / "receiver.py").write_text(receiver_code)
    receiver = subprocess.Popen(
        [sys.executable, str(tmp_path / "receiver.py")], stdout=subprocess.PIPE, text=True
    )
    try:
        wait_until(lambda: port_open(port), "the example receiver to listen")
        with workers(tmp_path, engine):
            change(engine, ("product.created", 5))
            line = receiver.stdout.readline()
            wait_until(lambda: jobs_left(engine) == 0, "the delivery to finish")
    finally:
        receiver.kill()
        receiver.wait()

    with engine.connect() as connection:
        event_id = connection.scalar(text("SELECT max(id) FROM events"))
    assert line == f"msg_{event_id}_{webhook.id} product.created {{'n': 5}}\n"


def test_a_worker_stops_cleanly_on_sigterm_and_leaves_the_register(engine, tmp_path):
    with workers(tmp_path, engine) as [worker]:
        worker.process.terminate()
        assert worker.process.wait(timeout=30) == 0

    with engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM procrastinate_workers")) == 0
    assert "Traceback" not in worker.log
