"""`make eval-search`: load the evaluation's products into a throwaway PostgreSQL through the
app's own API, then ask every judged query with `search=text`, `semantic` and `hybrid` and print
recall@10 and nDCG@10 of each.

    python -m bench.search_eval              the configured EMBEDDING_MODEL (default wordllama)
    python -m bench.search_eval --per-query  also each query's recall@10 by mode
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
from pathlib import Path

MODES = ("text", "semantic", "hybrid")


def _throwaway_database() -> None:
    """Point this process at a fresh embedded PostgreSQL, deleted when it exits."""
    from inventory.db import start_embedded_postgres

    folder = Path(tempfile.mkdtemp(prefix="inventory-search-eval-")) / "pg"
    os.environ.update(
        {
            "DATABASE_URL": start_embedded_postgres(folder, throwaway=True),
            "ENV_FILE": os.devnull,
            "ENVIRONMENT": "test",
            "LOG_LEVEL": "WARNING",
            "BCRYPT_ROUNDS": "4",
        }
    )


def main(argv: list[str] | None = None) -> None:
    """Load, search, score, print."""
    parser = argparse.ArgumentParser(prog="python -m bench.search_eval")
    parser.add_argument("--per-query", action="store_true", help="print each query's recall@10")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    _throwaway_database()

    from bench.search_eval.api import EvalApi
    from bench.search_eval.data import load_products, load_queries
    from bench.search_eval.metrics import ndcg_at, recall_at

    products, queries = load_products(), load_queries()
    with EvalApi() as api:
        api.load(products)
        print(f"{len(products)} products, {len(queries)} queries, model {api.model}\n")
        scores: dict[str, tuple[list[float], list[float]]] = {m: ([], []) for m in MODES}
        for query in queries:
            row = []
            for mode in MODES:
                ranked = api.search(query.text, mode)
                recall = recall_at(ranked, query.relevant)
                scores[mode][0].append(recall)
                scores[mode][1].append(ndcg_at(ranked, query.relevant))
                row.append(f"{recall:5.2f}")
            if args.per_query:
                print(f"{'  '.join(row)}  {query.text}")
    if args.per_query:
        print()
    print(f"{'search':10} {'recall@10':>10} {'nDCG@10':>10}")
    for mode in MODES:
        recalls, ndcgs = scores[mode]
        print(f"{mode:10} {statistics.mean(recalls):>10.3f} {statistics.mean(ndcgs):>10.3f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
