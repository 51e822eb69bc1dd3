"""What embedding a product adds to a write: `python -m bench.search_eval.write_cost`.

In a throwaway PostgreSQL, through the API in process: N product renames (PATCH name, which
re-embeds) and N creations, alternately with the embedding step on and switched off, so the
machine's drift hits both alike (on: the vector rides on the product's own INSERT or UPDATE,
with its index entries; off: the product is written without one); then the embedding step
alone. Prints the p50 of each.
"""

from __future__ import annotations

import logging
import statistics
import sys
import time
from collections.abc import Callable

ROUNDS = 300


def _p50_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    """Measure and print."""
    logging.basicConfig(level=logging.WARNING)
    from bench.search_eval.__main__ import _throwaway_database

    _throwaway_database()
    from sqlmodel import Session

    from bench.search_eval.api import API, EvalApi
    from inventory import product_search
    from inventory.db import get_engine
    from inventory.models import Product

    refresh = product_search.embed_written_product
    samples: dict[str, list[float]] = {
        "rename, embedding on": [],
        "rename, embedding off": [],
        "create, embedding on": [],
        "create, embedding off": [],
    }
    with EvalApi() as api:
        category = api._post("/categories", {"name": "Garden"})["id"]
        body = {"name": "Garden hose", "price": "19.99", "category_ids": [category]}
        product = api._post("/products", body)["id"]
        for round_ in range(ROUNDS):
            for embedding in ("on", "off"):
                product_search.embed_written_product = refresh if embedding == "on" else _skip
                path, rename = f"{API}/products/{product}", {"name": f"Hose {round_} {embedding}"}
                samples[f"rename, embedding {embedding}"].append(
                    _timed(lambda: api.client.patch(path, json=rename))  # noqa: B023 (called at once)
                )
                samples[f"create, embedding {embedding}"].append(
                    _timed(lambda: api._post("/products", body))
                )
        product_search.embed_written_product = refresh
        alone = []
        with Session(get_engine()) as session:
            written = session.get(Product, product)
            for _ in range(ROUNDS):
                alone.append(_timed(lambda: refresh(session, written, ["Garden"])))
    for name, values in samples.items():
        print(f"{name:24} p50 {_p50_ms(values):6.2f} ms")
    print(f"{'embedding step alone':24} p50 {_p50_ms(alone):6.2f} ms (the text to a vector)")
    sys.stdout.flush()


def _skip(*args: object, **kwargs: object) -> None:
    """The embedding step switched off."""


if __name__ == "__main__":
    main()
