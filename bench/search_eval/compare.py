"""Compare embedders on the evaluation set, in memory: quality (exact cosine ranking of the
whole set, recall@10 and nDCG@10) and speed (load time, one product at a time p50, batch
throughput, resident memory).

    python -m bench.search_eval.compare wordllama:l2_supercat_256 \
        sentence-transformers:all-MiniLM-L6-v2

Each embedder is measured in a process of its own, so memory figures do not mix.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

from bench.search_eval.data import load_products, load_queries
from bench.search_eval.metrics import ndcg_at, recall_at


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(spec: str) -> dict[str, float | str]:
    """Quality and speed of the embedder `spec` (an EMBEDDING_MODEL value)."""
    from inventory.embeddings import load_embedder, product_text

    products, queries = load_products(), load_queries()
    texts = [product_text(p.name, p.description, p.categories) for p in products]
    before = _rss_mib()
    started = time.perf_counter()
    embedder = load_embedder(spec)
    embedder.embed(["warm up"])
    load_seconds = time.perf_counter() - started
    vectors = embedder.embed(texts)
    recalls, ndcgs = [], []
    for query in queries:
        scores = vectors @ embedder.embed_one(query.text)
        ranked = [products[i].key for i in np.argsort(-scores, kind="stable")]
        recalls.append(recall_at(ranked, query.relevant))
        ndcgs.append(ndcg_at(ranked, query.relevant))
    singles = []
    for text in texts * 3:
        started = time.perf_counter()
        embedder.embed([text])
        singles.append(time.perf_counter() - started)
    batch = texts * 20
    started = time.perf_counter()
    embedder.embed(batch)
    throughput = len(batch) / (time.perf_counter() - started)
    return {
        "model": embedder.model,
        "dimension": embedder.dimension,
        "recall@10": statistics.mean(recalls),
        "nDCG@10": statistics.mean(ndcgs),
        "load_s": load_seconds,
        "single_p50_ms": statistics.median(singles) * 1000,
        "batch_per_s": throughput,
        "rss_mib": _rss_mib() - before,
    }


def main(specs: list[str]) -> None:
    """Measure each embedder in a fresh process and print one table."""
    if os.environ.get("COMPARE_ONE"):
        print(json.dumps(measure(os.environ["COMPARE_ONE"])))
        return
    print(
        f"{'model':45} {'dim':>4} {'R@10':>6} {'nDCG':>6} {'load s':>7} "
        f"{'1 ms p50':>9} {'batch/s':>9} {'RSS MiB':>8}"
    )
    for spec in specs:
        result = subprocess.run(
            [sys.executable, "-m", "bench.search_eval.compare"],
            env={**os.environ, "COMPARE_ONE": spec, "HF_HUB_OFFLINE": "1"},
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode:
            print(f"{spec}: failed: {result.stderr.strip().splitlines()[-1:]}")
            continue
        row = json.loads(result.stdout.strip().splitlines()[-1])
        print(
            f"{row['model']:45} {row['dimension']:>4} {row['recall@10']:>6.3f} "
            f"{row['nDCG@10']:>6.3f} {row['load_s']:>7.2f} {row['single_p50_ms']:>9.3f} "
            f"{row['batch_per_s']:>9.0f} {row['rss_mib']:>8.0f}"
        )


if __name__ == "__main__":
    main(sys.argv[1:] or ["wordllama:l2_supercat_256"])
