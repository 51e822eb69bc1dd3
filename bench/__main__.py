"""`python -m bench`: seed, serve, load, report. See bench/README.md.

python -m bench                          100,000 products, every scenario at 16/64/256, 20 s
python -m bench --products 1000000       a bigger catalogue
python -m bench --scenarios get_by_id,list_page --connections 64 --duration 10
python -m bench --scale-check            list and search p50 at 10,000 vs 1,000,000 products
python -m bench --smoke                  2,000 products, one scenario, 2 s (CI)
python -m bench --instances 2            one instance, then 2, each behind HAProxy
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from bench import report
from bench.balancer import Balancer, find_haproxy
from bench.load import Load, find_wrk, run_wrk, wrk_version
from bench.progress import Countdown, say
from bench.seed import USERNAMES, SeedResult, plain_url, seed
from bench.servers import (
    ROOT,
    BalancedServers,
    Scrape,
    Server,
    api_server,
    ceiling_server,
    free_port,
    login,
    wait_until_idle,
)

BENCH_DIR = Path(__file__).resolve().parent
WORK_DIR = BENCH_DIR / ".work"
MB = 1024 * 1024


@dataclass(frozen=True)
class Scenario:
    """One kind of request, and the route the server counts it under."""

    name: str
    method: str
    route: str
    expects_conflicts: bool = False


SCENARIOS = {
    scenario.name: scenario
    for scenario in (
        Scenario("get_by_id", "GET", "/api/v1/products/{product_id}"),
        Scenario("list_page", "GET", "/api/v1/products"),
        Scenario("search", "GET", "/api/v1/products"),
        Scenario("semantic_search", "GET", "/api/v1/products"),
        Scenario("create_product", "POST", "/api/v1/products"),
        Scenario("adjust_stock", "POST", "/api/v1/products/{product_id}/stock", True),
        Scenario("reserve_commit", "POST", "/api/v1/reservations", True),
        Scenario("transfer", "POST", "/api/v1/stock-transfers", True),
        Scenario("login", "POST", "/api/v1/auth/login"),
    )
}
STOCK_SCENARIOS = ("adjust_stock", "reserve_commit", "transfer")
"""Scenarios that change stock: the ledger is checked after each."""
SCALE_SIZES = (10_000, 1_000_000)
MAX_ATTEMPTS = 3
SETTLE_SECONDS = 1.0
LOPSIDED_SHARE = 0.4
"""A run is lopsided when a worker did less than this share of an even split of the work."""
SCALE_SCENARIOS = ("get_by_id", "list_page", "search", "semantic_search")
RATIO_SCENARIOS = ("list_page", "search", "semantic_search")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--products", type=int, default=100_000, help="catalogue size")
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help="comma-separated, of: " + ", ".join(SCENARIOS),
    )
    parser.add_argument(
        "--connections", default="16,64,256", help="comma-separated connection counts"
    )
    parser.add_argument("--duration", type=int, default=20, help="seconds per run")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per scenario")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--timeout", type=int, default=10, help="wrk's request timeout in seconds")
    parser.add_argument("--no-ceiling", action="store_true", help="skip the bare app")
    parser.add_argument(
        "--scale-check",
        action="store_true",
        help="instead of the run: list and search at 10,000 and 1,000,000 products",
    )
    parser.add_argument(
        "--scale-sizes", default=",".join(map(str, SCALE_SIZES)), help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--scale-connections", type=int, default=16, help="connections for --scale-check"
    )
    parser.add_argument(
        "--instances",
        type=int,
        default=1,
        help="instead of the run: the scenarios on one API instance, then on this many, each "
        "time behind HAProxy (round-robin), every instance with --workers workers",
    )
    parser.add_argument("--output", type=Path, default=BENCH_DIR, help="where results go")
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 on any error, server 5xx or ledger mismatch",
    )
    parser.add_argument(
        "--wipe", action="store_true", help="allow wiping a DATABASE_URL that holds other data"
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="CI preset: 2,000 products, get_by_id, 16 connections, 2 s, --check",
    )
    args = parser.parse_args(argv)
    args.command_line = shlex.join(argv if argv is not None else sys.argv[1:])
    if args.smoke:
        args.products, args.scenarios, args.connections = 2_000, "get_by_id", "16"
        args.duration, args.warmup, args.check = 2, 1, True
        args.output = WORK_DIR / "smoke"
    args.scenario_list = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    unknown = sorted(set(args.scenario_list) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(unknown)}")
    args.connection_list = [int(value) for value in args.connections.split(",")]
    if args.products < 1 or min(args.connection_list) < 1 or args.duration <= 0:
        parser.error("--products, --connections and --duration must be positive")
    if args.instances < 1:
        parser.error("--instances must be at least 1")
    return args


class Bench:
    """One bench invocation: its database, its settings, its results."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.wrk = find_wrk()
        self.secret_key = secrets.token_urlsafe(48)
        WORK_DIR.mkdir(parents=True, exist_ok=True)
        self.database_url = self._database()
        self.env = {
            "ENVIRONMENT": "production",
            "SECRET_KEY": self.secret_key,
            "BCRYPT_ROUNDS": "12",
            "DATABASE_URL": self.database_url,
        }
        self.failures: list[str] = []

    def _database(self) -> str:
        if os.environ.get("DATABASE_URL"):
            say("Using DATABASE_URL (its tables are wiped and refilled).")
            from inventory.config import normalise_database_url

            return normalise_database_url(os.environ["DATABASE_URL"])
        from inventory.db import start_embedded_postgres

        folder = WORK_DIR / "pg"
        say(f"Starting the embedded PostgreSQL in {folder.relative_to(ROOT)} ...")
        return start_embedded_postgres(folder)

    def postgres_version(self) -> str:
        with psycopg.connect(plain_url(self.database_url)) as conn:
            return conn.execute("SHOW server_version").fetchone()[0].split(" ")[0]

    def migrate(self) -> None:
        say("Migrating ...")
        completed = subprocess.run(
            [sys.executable, "-m", "inventory", "migrate"],
            cwd=ROOT,
            env={**os.environ, **self.env},
            check=False,
            capture_output=True,
            text=True,
        )
        if completed.returncode:
            raise SystemExit(f"error: migrating failed:\n{completed.stdout}{completed.stderr}")

    def seed(self, products: int) -> SeedResult:
        say(f"Seeding {products:,} products ...")
        started = time.perf_counter()
        result = seed(
            self.database_url,
            products,
            bcrypt_rounds=12,
            work_dir=WORK_DIR,
            allow_wipe=self.args.wipe or not os.environ.get("DATABASE_URL"),
        )
        result.timings["seed_seconds"] = round(time.perf_counter() - started, 1)
        say(f"  seeded in {result.timings['seed_seconds']} s")
        return result

    def pool_description(self) -> str:
        from inventory.config import Settings

        defaults = Settings()
        size = os.environ.get("DB_POOL_SIZE") or defaults.db_pool_size
        overflow = os.environ.get("DB_MAX_OVERFLOW") or defaults.db_max_overflow
        return f"{size}+{overflow} per worker"

    # -- running loads ---------------------------------------------------------------------

    def _load(self, connections: int, seconds: float | None = None) -> Load:
        return Load(
            connections=connections,
            seconds=seconds if seconds is not None else self.args.duration,
            threads=self.args.threads,
            timeout=self.args.timeout,
        )

    def start_ceiling(self) -> Server:
        """The bare app, warmed up; it stays up for the whole run, measured next to each
        scenario run."""
        port = free_port()
        server = ceiling_server(port, self.args.workers, WORK_DIR / "ceiling.log")
        say(f"Ceiling: the bare app on {server.base_url}, {self.args.workers} workers")
        server.start(self.args.workers)
        if self.args.warmup:
            warm_up = self._load(16, self.args.warmup)
            self._measure(server, "ceiling", warm_up, {}, "warm-up", warm_up=True)
        return server

    def _measure(
        self,
        server: Server,
        scenario: str,
        load: Load,
        env: dict[str, str],
        label: str,
        counted_as: Scenario | None = None,
        warm_up: bool = False,
    ) -> dict[str, Any]:
        """One wrk run, its progress line and its row, with what the server counted for
        `counted_as` (its /metrics before the run, and after the requests still queued when
        the run ended were answered).

        wrk opens all its connections at once, and the worker that wakes first may accept
        them all: a run where one worker did (nearly) all the work measures that lottery, not
        the server, so it is run again (up to MAX_ATTEMPTS times; the row says how often).
        A warm-up is run once and fails nothing.
        """
        for attempt in range(1, 2 if warm_up else MAX_ATTEMPTS + 1):
            before = wait_until_idle(server.metrics_urls) if counted_as else None
            # Let every worker fall asleep on the listening socket: one that has just answered
            # a request (the scrape) wakes first and accepts all of wrk's connections.
            time.sleep(SETTLE_SECONDS)
            countdown = Countdown(label if attempt == 1 else f"{label} (again)", load.seconds)
            server.memory.start_window()
            result = run_wrk(self.wrk, server.base_url, scenario, load, env, countdown)
            shares = server.memory.cpu_shares()
            counts = None
            if counted_as:
                counts = self._server_counts(
                    before, wait_until_idle(server.metrics_urls), counted_as
                )
            row = self._row(scenario, load.connections, result, server, counts)
            row["attempts"] = attempt
            row["worker_cpu_shares"] = [round(share, 2) for share in shares]
            lopsided = len(shares) > 1 and shares[-1] < LOPSIDED_SHARE / len(shares)
            row["lopsided"] = lopsided
            summary = self._summary(row)
            if lopsided:
                summary += f"  (one worker did {shares[0]:.0%} of the work)"
            countdown.finish(summary)
            if not lopsided:
                break
        failures = row.pop("_failures")
        if not warm_up:
            self.failures.extend(failures)
        return row

    @staticmethod
    def _summary(row: dict[str, Any]) -> str:
        latency = row["latency_us"]
        summary = (
            f"{row['rps']:9,.0f} req/s  p50 {latency['p50'] / 1000:6.1f} ms  "
            f"p99 {latency['p99'] / 1000:7.1f} ms  errors {row['errors_total']}"
        )
        if row["expected_409"]:
            summary += f"  409s {row['expected_409']}"
        if "server_5xx" in row:
            summary += f"  server 5xx {report.server_5xx_text(row)}"
        return summary

    @staticmethod
    def _non_2xx(result: dict) -> int:
        """Answers that were not a success and not an expected 409 (a script that expects
        409s counts them itself; for the others wrk counts every status of 400 or more)."""
        if result["counts_statuses"]:
            return result["unexpected_status"]
        return result["errors"]["status"]

    def _row(
        self,
        scenario: str,
        connections: int,
        result: dict,
        server: Server,
        server_counts: dict[str, Any] | None,
    ) -> dict[str, Any]:
        seconds = result["duration_us"] / 1e6
        errors = dict(result["errors"])
        non_2xx = self._non_2xx(result)
        row = {
            "scenario": scenario,
            "connections": connections,
            "seconds": round(seconds, 2),
            "requests": result["requests"],
            "rps": round(result["requests"] / seconds, 1) if seconds else 0.0,
            "latency_us": result["latency_us"],
            "errors": errors,
            "unexpected_status": non_2xx,
            "expected_409": result["expected_409"],
        }
        if server_counts is not None:
            row.update(server_counts)
        row["peak_worker_rss_mb"] = round(server.memory.window_peak / MB, 1)
        # A request wrk still waited for when the run ended is in no wrk count; the server's
        # latency histogram still has it if it took longer than the timeout.
        row["timeouts"] = max(errors["timeout"], row.get("server_slow") or 0)
        row["errors_total"] = (
            sum(errors[kind] for kind in ("connect", "read", "write")) + row["timeouts"] + non_2xx
        )
        failures = row["_failures"] = []
        if row.get("server_5xx"):
            failures.append(f"{scenario} c={connections}: server 5xx")
        if row["errors_total"]:
            failures.append(f"{scenario} c={connections}: {row['errors_total']} errors")
        if not result["requests"]:
            failures.append(f"{scenario} c={connections}: no requests completed")
        return row

    def _server_counts(
        self, before: Scrape | None, after: Scrape | None, scenario: Scenario
    ) -> dict[str, Any]:
        """What the server says it answered during a run and the drain after it: its 5xx, the
        scenario's statuses, and how many of its answers took longer than wrk's timeout (wrk
        never counts a request it was still waiting for when the run ended)."""
        if before is None or after is None:
            self.failures.append(f"{scenario.name}: /metrics did not answer")
            return {"server_5xx": None, "server_statuses": None, "server_slow": None}

        def delta(new: dict, old: dict) -> dict:
            return {key: new[key] - old.get(key, 0) for key in new}

        statuses = delta(after.statuses, before.statuses)
        mine = {
            status: int(count)
            for (method, route, status), count in statuses.items()
            if method == scenario.method and route == scenario.route and count
        }
        durations = delta(after.durations, before.durations)
        buckets = sorted(
            (float(le), count)
            for (method, route, le), count in durations.items()
            if method == scenario.method and route == scenario.route and le != "+Inf"
        )
        within = next((count for le, count in buckets if le >= self.args.timeout), None)
        answered = sum(mine.values())
        return {
            "server_5xx": int(sum(count for key, count in statuses.items() if key[2][0] == "5")),
            "server_statuses": dict(sorted(mine.items())),
            "server_slow": int(answered - within) if within is not None else None,
        }

    def start_api(
        self, label: str, instances: int | None = None
    ) -> tuple[Server | BalancedServers, dict[str, str]]:
        """The API, warmed by nothing yet; with `instances`, that many behind HAProxy."""
        workers = self.args.workers
        if instances is None:
            server = self._api_instance("api")
            say(f"API ({label}) on {server.base_url}, {workers} workers ...")
        else:
            folder = WORK_DIR / "balancer"
            servers = [self._api_instance(f"api{number}") for number in range(1, instances + 1)]
            balancer = Balancer(free_port(), [one.port for one in servers], folder)
            server = BalancedServers(servers, balancer)
            say(
                f"API ({label}): {instances} instance(s) of {workers} workers behind HAProxy "
                f"on {server.base_url} ..."
            )
        server.start(workers)
        try:
            token = login(server.base_url, USERNAMES["manager"], self.seeded.passwords["manager"])
        except BaseException:
            server.stop()
            raise
        return server, {"BENCH_TOKEN": token}

    def run_scenarios(
        self,
        server: Server,
        env: dict[str, str],
        names: list[str],
        connection_list: list[int],
        ceiling: Server | None = None,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Every scenario at every connection count; with a `ceiling`, the bare app is run
        just before each of them at the same connection count (the machine's speed drifts
        over a run: a ratio to a ceiling measured minutes apart drifts with it)."""
        rows, ceiling_rows = [], []
        lua_env = {
            **env,
            "BENCH_MAX_ID": str(self.seeded.products),
            "BENCH_SEARCH_TERMS": str(self.seeded.search_terms),
            "BENCH_USERNAME": USERNAMES["viewer"],
            "BENCH_PASSWORD": self.seeded.passwords["viewer"],
        }
        for name in names:
            scenario = SCENARIOS[name]
            if self.args.warmup:
                warm_up = self._load(16, self.args.warmup)
                self._measure(server, name, warm_up, lua_env, "warm-up", warm_up=True)
            for connections in connection_list:
                load = self._load(connections)
                top = None
                if ceiling is not None:
                    top = self._measure(ceiling, "ceiling", load, {}, f"ceiling c={connections}")
                    top["next_to"] = name
                    ceiling_rows.append(top)
                row = self._measure(
                    server, name, load, lua_env, f"{name} c={connections}", scenario
                )
                if top is not None:
                    row["ceiling_rps"] = top["rps"]
                rows.append(row)
            if name in STOCK_SCENARIOS:
                self.ledger = self.check_ledger("the stock loads")
        return rows, ceiling_rows

    def check_ledger(self, after: str) -> dict[str, Any]:
        """Does every product's ledger sum to its stock at each location, and does each
        product hold the sums of its locations (on hand and reserved)?"""
        with psycopg.connect(plain_url(self.database_url)) as conn:
            levels, level_mismatches = conn.execute(
                """
                SELECT count(*), count(*) FILTER (WHERE l.on_hand <> coalesce(m.total, 0))
                FROM stock_levels l
                FULL JOIN (
                    SELECT product_id, location_id, sum(delta) AS total
                    FROM stock_movements GROUP BY product_id, location_id
                ) m ON m.product_id = l.product_id AND m.location_id = l.location_id
                """
            ).fetchone()
            products, mismatches, negative = conn.execute(
                """
                SELECT count(*),
                       count(*) FILTER (WHERE p.stock_quantity <> coalesce(l.on_hand, 0)
                                        OR p.reserved <> coalesce(l.reserved, 0)),
                       count(*) FILTER (WHERE p.stock_quantity < p.reserved)
                FROM products p
                LEFT JOIN (
                    SELECT product_id, sum(on_hand) AS on_hand, sum(reserved) AS reserved
                    FROM stock_levels GROUP BY product_id
                ) l ON l.product_id = p.id
                """
            ).fetchone()
            movements = conn.execute("SELECT count(*) FROM stock_movements").fetchone()[0]
        bad = level_mismatches + mismatches + negative
        verdict = "OK" if not bad else "MISMATCH"
        say(
            f"  ledger: {verdict} ({level_mismatches} of {levels:,} levels, "
            f"{mismatches} of {products:,} products off their sums)"
        )
        if verdict != "OK":
            self.failures.append(
                f"ledger: {level_mismatches} levels, {mismatches} products off, {negative} negative"
            )
        return {
            "after": after,
            "products": products,
            "levels": levels,
            "mismatches": bad,
            "movements": movements,
        }

    def _api_instance(self, name: str) -> Server:
        return api_server(
            free_port(),
            self.args.workers,
            self.database_url,
            self.secret_key,
            WORK_DIR / f"{name}.log",
            {},
        )

    # -- the modes -------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Seed once, then every scenario at every connection count, each next to the
        ceiling at the same connection count."""
        self.migrate()
        self.seeded = self.seed(self.args.products)
        info = report.machine(ROOT, self.postgres_version(), wrk_version(self.wrk))
        self.ledger = None
        ceiling = None if self.args.no_ceiling else self.start_ceiling()
        try:
            server, env = self.start_api(f"{self.args.products:,} products")
            try:
                rows, ceiling_rows = self.run_scenarios(
                    server, env, self.args.scenario_list, self.args.connection_list, ceiling
                )
                worker_peaks = sorted(server.memory.peak_by_pid.values(), reverse=True)
            finally:
                server.stop()
        finally:
            if ceiling is not None:
                ceiling.stop()
        if self.ledger is None:
            self.ledger = self.check_ledger("the run")
        return {
            "machine": info,
            "settings": self._settings(self.args.products),
            "ceiling": ceiling_rows,
            "rows": rows,
            "ledger": self.ledger,
            "worker_peak_rss_mb": [round(value / MB, 1) for value in worker_peaks],
        }

    def scale_check(self) -> dict[str, Any]:
        """List and search latency at each size, seeded in turn."""
        self.migrate()
        sizes: dict[str, Any] = {}
        info = None
        for size in [int(value) for value in self.args.scale_sizes.split(",")]:
            self.seeded = self.seed(size)
            info = info or report.machine(ROOT, self.postgres_version(), wrk_version(self.wrk))
            server, env = self.start_api(f"{size:,} products")
            try:
                rows, _ = self.run_scenarios(
                    server, env, list(SCALE_SCENARIOS), [self.args.scale_connections]
                )
                peak = max(server.memory.peak_by_pid.values(), default=0)
            finally:
                server.stop()
            sizes[str(size)] = {
                "rows": rows,
                "peak_worker_rss_mb": round(peak / MB, 1),
                "seeding": self.seeded.timings,
            }
        smallest, largest = sizes[min(sizes, key=int)], sizes[max(sizes, key=int)]
        ratios = {}
        for name in RATIO_SCENARIOS:
            small = next(row for row in smallest["rows"] if row["scenario"] == name)
            large = next(row for row in largest["rows"] if row["scenario"] == name)
            ratios[name] = round(large["latency_us"]["p50"] / small["latency_us"]["p50"], 2)
        return {
            "machine": info,
            "date": datetime.now(UTC).date().isoformat(),
            "settings": self._settings(None),
            "sizes": sizes,
            "p50_ratio": ratios,
            "peak_worker_rss_mb_largest": largest["peak_worker_rss_mb"],
        }

    def instances_check(self) -> dict[str, Any]:
        """The scenarios on one instance, then on `--instances`, each time behind HAProxy
        (so both pay the same proxy hop), on one seeded catalogue."""
        self.migrate()
        self.seeded = self.seed(self.args.products)
        info = report.machine(ROOT, self.postgres_version(), wrk_version(self.wrk))
        runs: dict[str, Any] = {}
        for count in sorted({1, self.args.instances}):
            server, env = self.start_api(f"{count} instance(s)", instances=count)
            try:
                rows, _ = self.run_scenarios(
                    server, env, self.args.scenario_list, self.args.connection_list
                )
            finally:
                server.stop()
            runs[str(count)] = rows
        return {
            "machine": info,
            "date": datetime.now(UTC).date().isoformat(),
            "settings": self._settings(self.args.products),
            "instances": runs,
            "ledger": self.check_ledger("the instance runs"),
        }

    def _settings(self, products: int | None) -> dict[str, Any]:
        return {
            "command_line": self.args.command_line,
            "products": products,
            "workers": self.args.workers,
            "threads": self.args.threads,
            "seconds": self.args.duration,
            "timeout": self.args.timeout,
            "warmup": self.args.warmup,
            "connections": self.args.connection_list,
            "pool": self.pool_description(),
        }


def main(argv: list[str] | None = None) -> int:
    """Run the bench; the exit status is 1 with --check when anything failed."""
    # A terminated bench still stops the servers it started (the `finally` blocks run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args = parse_args(argv)
    if args.instances > 1 and find_haproxy() is None:
        raise SystemExit("error: --instances needs HAProxy: sudo apt-get install haproxy")
    bench = Bench(args)
    results_path = args.output / "results.json"
    results = report.load_results(results_path)
    if args.scale_check:
        results["scale_check"] = bench.scale_check()
    elif args.instances > 1:
        results["instances_check"] = bench.instances_check()
    else:
        results["run"] = bench.run()
    json_path, md_path = report.write(results, args.output)
    say("")
    say(report.markdown(results))
    say(f"Wrote {json_path} and {md_path}.")
    if args.check and bench.failures:
        say("FAILED: " + "; ".join(bench.failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
