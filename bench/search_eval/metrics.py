"""Ranking metrics with binary relevance: recall@k and nDCG@k."""

from __future__ import annotations

import math
from collections.abc import Sequence


def recall_at(ranked: Sequence[str], relevant: frozenset[str], k: int = 10) -> float:
    """The share of the relevant products found in the first k results."""
    return len(set(ranked[:k]) & relevant) / len(relevant)


def ndcg_at(ranked: Sequence[str], relevant: frozenset[str], k: int = 10) -> float:
    """Discounted gain of the first k results over the best possible ordering's."""
    gain = sum(1 / math.log2(rank + 2) for rank, key in enumerate(ranked[:k]) if key in relevant)
    ideal = sum(1 / math.log2(rank + 2) for rank in range(min(k, len(relevant))))
    return gain / ideal
