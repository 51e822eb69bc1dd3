"""The evaluation's product set and judged queries, read from the TSV files beside this module."""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class EvalProduct:
    """A product of the evaluation set; `key` is its id in the judgements."""

    key: str
    categories: tuple[str, ...]
    name: str
    description: str

    @property
    def price(self) -> Decimal:
        """A stable made-up price (the evaluation never looks at it)."""
        digest = int(hashlib.sha256(self.key.encode()).hexdigest(), 16)
        return Decimal(digest % 20000 + 99) / 100


@dataclass(frozen=True)
class EvalQuery:
    """A query as a shopper types it, and the keys of the products that answer it."""

    text: str
    relevant: frozenset[str]


def _rows(name: str) -> list[dict[str, str]]:
    with (HERE / name).open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file, delimiter="\t"))


def load_products() -> list[EvalProduct]:
    """The product set, in file order."""
    return [
        EvalProduct(
            key=row["key"],
            categories=tuple(name.strip() for name in row["categories"].split(",")),
            name=row["name"],
            description=row["description"],
        )
        for row in _rows("products.tsv")
    ]


def load_queries() -> list[EvalQuery]:
    """The judged queries, in file order."""
    return [
        EvalQuery(row["query"], frozenset(row["relevant"].split(",")))
        for row in _rows("queries.tsv")
    ]
