"""Many hosts, one primary and a streaming replica: everything shared lives in PostgreSQL, so
two independent API instances behind a round-robin balancer behave as one host, and GETs are
served by the replica without anyone reading stale data after their own write.

The cluster (tests/cluster.py) is real: PostgreSQL primary and `pg_basebackup` replica, two
`python -m inventory serve` processes, HAProxy. One cluster serves the whole module.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from bench.balancer import find_haproxy
from tests.cluster import ADMIN, REPLICA_MAX_LAG_SECONDS, Cluster, make_cluster

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        find_haproxy() is None,
        reason="needs HAProxy as the load balancer: apt-get install haproxy (.ci/run does)",
    ),
]

APP_TABLES = (
    "products",
    "categories",
    "stock_movements",
    "low_stock_alerts",
    "idempotency_keys",
    "login_failures",
    "users",
    "read_fences",
)
PASSWORD = "cluster-password-42"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Primary, replica, two API instances, HAProxy: started once for this module."""
    started = make_cluster(tmp_path_factory.mktemp("cluster"))
    yield started
    started.stop()
    shutil.rmtree(started.folder, ignore_errors=True)


@pytest.fixture
def api(cluster: Cluster) -> Iterator[httpx.Client]:
    """A client of the balancer (one keep-alive connection; HAProxy balances each request)."""
    with httpx.Client(base_url=cluster.url, timeout=15) as client:
        yield client


def _login(api: httpx.Client, username: str, password: str) -> dict[str, str]:
    response = api.post("/api/v1/auth/login", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def admin(api: httpx.Client) -> dict[str, str]:
    return _login(api, *ADMIN)


@pytest.fixture
def make_user(api: httpx.Client, admin: dict[str, str]) -> Callable[[str], tuple[dict, dict]]:
    """make_user("manager") -> (the user, their Authorization header); a fresh name each time."""

    def make(role: str) -> tuple[dict, dict[str, str]]:
        username = f"{role}-{uuid.uuid4().hex[:10]}"
        body = {"username": username, "password": PASSWORD, "role": role}
        response = api.post("/api/v1/users", json=body, headers=admin)
        assert response.status_code == 201, response.text
        return response.json(), _login(api, username, PASSWORD)

    return make


@pytest.fixture
def manager(make_user) -> dict[str, str]:
    return make_user("manager")[1]


@pytest.fixture
def viewer(make_user) -> dict[str, str]:
    return make_user("viewer")[1]


def _create_product(api: httpx.Client, headers: dict[str, str], **fields) -> dict:
    body = {"name": f"Hose {uuid.uuid4().hex[:8]}", "price": "9.99", "stock_quantity": 50}
    response = api.post("/api/v1/products", json=body | fields, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def _wait_until_replica_has(cluster: Cluster, product_id: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    with cluster.replica.connect() as connection:
        while time.monotonic() < deadline:
            query = "SELECT 1 FROM products WHERE id = %s"
            if connection.execute(query, (product_id,)).fetchone():
                return
            time.sleep(0.05)
    raise AssertionError(f"the replica never got product {product_id}")


def test_the_balancer_spreads_requests_over_both_instances(api):
    served_by = Counter(api.get("/health").headers["X-Served-By"] for _ in range(20))
    assert set(served_by) == {"i1", "i2"}
    assert min(served_by.values()) >= 5


def test_failed_logins_count_across_instances(api, make_user):
    user, _ = make_user("viewer")
    served_by = set()
    for _ in range(5):
        wrong = {"username": user["username"], "password": "not-the-password"}
        response = api.post("/api/v1/auth/login", data=wrong)
        assert response.status_code == 401
        served_by.add(response.headers["X-Served-By"])
    right = api.post(
        "/api/v1/auth/login", data={"username": user["username"], "password": PASSWORD}
    )
    assert served_by == {"i1", "i2"}
    assert right.status_code == 429
    assert int(right.headers["Retry-After"]) > 0


def test_an_idempotency_key_replays_on_the_other_instance(api, cluster, manager):
    product = _create_product(api, manager, stock_quantity=50)
    url, key = f"/api/v1/products/{product['id']}/stock", {"Idempotency-Key": uuid.uuid4().hex}
    first = api.post(url, json={"delta": -3, "reason": "sale"}, headers=manager | key)
    replays = [
        api.post(url, json={"delta": -3, "reason": "sale"}, headers=manager | key) for _ in range(3)
    ]
    assert first.status_code == 200 and first.json()["stock_quantity"] == 47
    assert {r.headers["X-Served-By"] for r in replays} - {first.headers["X-Served-By"]}
    for replay in replays:
        assert replay.status_code == 200
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert replay.json() == first.json()
    with cluster.primary.connect() as connection:
        stock, movements = connection.execute(
            "SELECT stock_quantity, (SELECT count(*) FROM stock_movements m"
            " WHERE m.product_id = p.id) FROM products p WHERE p.id = %s",
            (product["id"],),
        ).fetchone()
    assert (stock, movements) == (47, 2)  # the opening stock and one sale


def test_low_stock_alerts_open_once_and_resolve_across_instances(api, cluster, manager):
    product = _create_product(api, manager, stock_quantity=12, low_stock_threshold=10)
    url = f"/api/v1/products/{product['id']}/stock"
    served_by = set()
    for delta in (-2, -1, -1):  # 10 (crosses), 9, 8: still one alert
        response = api.post(url, json={"delta": delta, "reason": "sale"}, headers=manager)
        assert response.status_code == 200
        served_by.add(response.headers["X-Served-By"])
    assert served_by == {"i1", "i2"}
    alerts = api.get("/api/v1/alerts?active=true&limit=200", headers=manager).json()["items"]
    assert [a["quantity"] for a in alerts if a["product_id"] == product["id"]] == [10]
    assert api.post(url, json={"delta": 5, "reason": "delivery"}, headers=manager).is_success
    with cluster.primary.connect() as connection:
        states = connection.execute(
            "SELECT active FROM low_stock_alerts WHERE product_id = %s", (product["id"],)
        ).fetchall()
    assert states == [(False,)]


def test_a_disabled_user_is_refused_at_once_on_every_instance(api, admin, make_user):
    user, headers = make_user("viewer")
    assert api.get("/api/v1/auth/me", headers=headers).status_code == 200
    disabled = api.patch(f"/api/v1/users/{user['id']}", json={"is_active": False}, headers=admin)
    assert disabled.status_code == 200
    answers = [api.get("/api/v1/products", headers=headers) for _ in range(4)]
    assert {a.headers["X-Served-By"] for a in answers} == {"i1", "i2"}
    assert [a.status_code for a in answers] == [401] * 4


def test_a_client_reads_its_own_writes_through_the_balancer(api, cluster, manager):
    product = _create_product(api, manager)
    url = f"/api/v1/products/{product['id']}"
    stale_on_replica = 0
    with cluster.replica.connect() as replica:
        for round_number in range(25):
            name = f"Hose, round {round_number}"
            assert api.patch(url, json={"name": name}, headers=manager).status_code == 200
            replica_has = replica.execute(
                "SELECT name FROM products WHERE id = %s", (product["id"],)
            ).fetchone()
            stale_on_replica += replica_has != (name,)
            for _ in range(4):
                read = api.get(url, headers=manager)
                assert read.status_code == 200
                assert read.json()["name"] == name
    # The replica really was behind after the writes: a read sent there would have been stale.
    assert stale_on_replica > 0


def test_list_and_search_reads_are_served_by_the_replica(api, cluster, manager, viewer):
    product = _create_product(api, manager, name="Replica watering can")
    _wait_until_replica_has(cluster, product["id"])
    on_replica = cluster.statements_on(cluster.replica, ("products",))
    on_primary = cluster.statements_on(cluster.primary, ("products",))
    for _ in range(10):
        listed = api.get("/api/v1/products?limit=5", headers=viewer)
        found = api.get("/api/v1/products?q=watering", headers=viewer)
        assert listed.status_code == 200 and found.status_code == 200
        assert [item["id"] for item in found.json()["items"]] == [product["id"]]
    replica_delta = cluster.statements_on(cluster.replica, ("products",)) - on_replica
    primary_delta = cluster.statements_on(cluster.primary, ("products",)) - on_primary
    assert (replica_delta >= 20, primary_delta) == (True, 0), (replica_delta, primary_delta)


def test_writes_never_reach_the_replica(api, cluster, manager):
    before = cluster.statements_on(cluster.replica, APP_TABLES)
    product = _create_product(api, manager)
    category = api.post("/api/v1/categories", json={"name": uuid.uuid4().hex}, headers=manager)
    patched = api.patch(
        f"/api/v1/products/{product['id']}",
        json={"price": "12.50", "category_ids": [category.json()["id"]]},
        headers=manager,
    )
    adjusted = [
        api.post(
            f"/api/v1/products/{product['id']}/stock",
            json={"delta": -1, "reason": "sale"},
            headers=manager | {"Idempotency-Key": uuid.uuid4().hex},
        )
        for _ in range(4)
    ]
    assert category.status_code == 201 and patched.status_code == 200
    assert [response.status_code for response in adjusted] == [200] * 4
    with cluster.primary.connect() as connection:
        stock = connection.execute(
            "SELECT stock_quantity FROM products WHERE id = %s", (product["id"],)
        ).fetchone()
    assert stock == (46,)
    assert cluster.statements_on(cluster.replica, APP_TABLES) == before


def _metrics(cluster: Cluster) -> str:
    return "\n".join(httpx.get(f"{instance}/metrics").text for instance in cluster.instances)


def _reads_counted(cluster: Cluster, target: str, reason: str) -> float:
    """Reads served by `target` for `reason`, summed over both instances."""
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in _metrics(cluster).splitlines()
        if line.startswith("inventory_db_reads_total{")
        and f'target="{target}"' in line
        and f'reason="{reason}"' in line
    )


def _wait_until_replica_caught_up(cluster: Cluster, timeout: float = 10) -> None:
    with cluster.primary.connect() as primary:
        (position,) = primary.execute("SELECT pg_current_wal_lsn()").fetchone()
    deadline = time.monotonic() + timeout
    with cluster.replica.connect() as replica:
        while time.monotonic() < deadline:
            query = "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn"
            if replica.execute(query, (position,)).fetchone()[0]:
                return
            time.sleep(0.05)
    raise AssertionError("the replica never caught up with the primary")


def test_the_metrics_count_reads_per_database_and_show_the_replica_lag(api, cluster, viewer):
    _wait_until_replica_caught_up(cluster)  # past the viewer's fence (logging in writes)
    before = _reads_counted(cluster, "replica", "replica_ok")
    for _ in range(4):
        assert api.get("/api/v1/products", headers=viewer).status_code == 200
    assert _reads_counted(cluster, "replica", "replica_ok") >= before + 4
    text = _metrics(cluster)
    assert "inventory_replica_lag_seconds " in text
    assert "inventory_replica_up 1.0" in text


def test_what_the_replica_has_not_replayed_yet_is_found_on_the_primary(
    api, cluster, manager, viewer
):
    """A product someone else created a moment ago (a webhook receiver fetching the product an
    event names) is found at once: a 404 from the replica is checked on the primary."""
    _wait_until_replica_caught_up(cluster)  # the viewer's own login is no reason to skip it
    before = _reads_counted(cluster, "primary", "not_found_on_replica")
    with cluster.replica.connect() as replica:
        replica.execute("SELECT pg_wal_replay_pause()")
        try:
            product = _create_product(api, manager)
            paths = [f"/api/v1/products/{product['id']}"] * 2 + [
                f"/api/v1/products/{product['id']}/stock-movements"
            ] * 2
            reads = [api.get(path, headers=viewer) for path in paths]
        finally:
            replica.execute("SELECT pg_wal_replay_resume()")
    assert [read.status_code for read in reads] == [200] * 4
    assert reads[0].json()["name"] == product["name"]
    assert reads[2].json()["items"][0]["reason"] == "initial stock"
    assert _reads_counted(cluster, "primary", "not_found_on_replica") >= before + 1
    missing = api.get("/api/v1/products/2000000000", headers=viewer)
    assert missing.status_code == 404


def test_a_lagging_replica_is_skipped_and_reported(api, cluster, manager, viewer):
    with cluster.replica.connect() as replica:
        replica.execute("SELECT pg_wal_replay_pause()")
        try:
            product = _create_product(api, manager)
            time.sleep(REPLICA_MAX_LAG_SECONDS + 1.5)
            reads = [api.get(f"/api/v1/products/{product['id']}", headers=viewer) for _ in range(6)]
            ready = api.get("/health/ready")
        finally:
            replica.execute("SELECT pg_wal_replay_resume()")
    # The viewer never wrote, so only the lag check keeps them off the paused replica.
    assert [read.status_code for read in reads] == [200] * 6
    assert ready.status_code == 200
    assert ready.json()["replica"] == "lagging"
    assert ready.json()["replica_lag_seconds"] > REPLICA_MAX_LAG_SECONDS


def test_reservations_hold_stock_across_instances(api, cluster, manager):
    product = _create_product(api, manager, stock_quantity=4)
    cart = {"items": [{"product_id": product["id"], "quantity": 1}]}
    answers = [api.post("/api/v1/reservations", json=cart, headers=manager) for _ in range(6)]
    assert {answer.headers["X-Served-By"] for answer in answers} == {"i1", "i2"}
    assert [answer.status_code for answer in answers] == [201] * 4 + [409] * 2
    assert answers[-1].json()["shortages"][0]["available"] == 0
    with cluster.primary.connect() as connection:
        on_hand, reserved = connection.execute(
            "SELECT stock_quantity, reserved FROM products WHERE id = %s", (product["id"],)
        ).fetchone()
    assert (on_hand, reserved) == (4, 4)


def test_a_reservation_key_replays_on_the_other_instance(api, cluster, manager):
    product = _create_product(api, manager, stock_quantity=5)
    cart = {"items": [{"product_id": product["id"], "quantity": 2}]}
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = api.post("/api/v1/reservations", json=cart, headers=manager | key)
    retries = [api.post("/api/v1/reservations", json=cart, headers=manager | key) for _ in range(3)]
    assert first.status_code == 201, first.text
    assert {r.headers["X-Served-By"] for r in retries} - {first.headers["X-Served-By"]}
    assert {r.json()["id"] for r in retries} == {first.json()["id"]}
    with cluster.primary.connect() as connection:
        reservations, reserved = connection.execute(
            "SELECT (SELECT count(*) FROM reservation_lines WHERE product_id = p.id), p.reserved"
            " FROM products p WHERE p.id = %s",
            (product["id"],),
        ).fetchone()
    assert (reservations, reserved) == (1, 2)


def test_killing_the_replica_mid_load_gives_no_server_error(api, cluster, manager, viewer):
    """Last in the module: it stops the replica (and starts it again at the end)."""
    product = _create_product(api, manager)
    paths = [
        "/api/v1/products?limit=20",
        "/api/v1/products?q=hose",
        f"/api/v1/products/{product['id']}",
        f"/api/v1/products/{product['id']}/stock-movements",
        "/api/v1/alerts",
    ]
    deadline = time.monotonic() + 4

    def read_until_deadline(headers: dict[str, str]) -> list[int]:
        statuses = []
        with httpx.Client(base_url=cluster.url, timeout=15) as client:
            while time.monotonic() < deadline:
                for path in paths:
                    statuses.append(client.get(path, headers=headers).status_code)
        return statuses

    with ThreadPoolExecutor(max_workers=6) as pool:
        loads = [pool.submit(read_until_deadline, viewer if n % 2 else manager) for n in range(6)]
        time.sleep(1.5)
        cluster.replica.stop("immediate")
        statuses = Counter(status for load in loads for status in load.result())
    ready = api.get("/health/ready")
    try:
        assert statuses and set(statuses) == {200}, statuses
        assert ready.status_code == 200
        assert ready.json()["replica"] == "unreachable"
    finally:
        cluster.replica.start()
    deadline = time.monotonic() + 15
    while api.get("/health/ready").json()["replica"] != "ok" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert api.get("/health/ready").json()["replica"] == "ok"
