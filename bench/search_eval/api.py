"""The evaluation's way into the app: the real app in process, over HTTP, as a client uses it."""

from __future__ import annotations

from types import TracebackType

from fastapi.testclient import TestClient
from sqlmodel import Session

from bench.search_eval.data import EvalProduct

TOP = 10
API = "/api/v1"


class EvalApi:
    """Loads the evaluation's products through the API and answers its searches."""

    def __enter__(self) -> EvalApi:
        from inventory.__main__ import migrate
        from inventory.auth import create_access_token
        from inventory.db import get_engine
        from inventory.embeddings import get_embedder
        from inventory.main import app
        from inventory.models import Role
        from inventory.reindex import reindex
        from inventory.users import create_user

        migrate()
        reindex(progress=False)  # fits the column to the model's dimension, if it differs
        with Session(get_engine(), expire_on_commit=False) as session:
            admin = create_user(session, "eval-admin", "eval-password-1", Role.admin)
        token, _ = create_access_token(admin)
        self.client = TestClient(app, headers={"Authorization": f"Bearer {token}"})
        self.client.__enter__()
        self.model = get_embedder().model
        self.keys: dict[int, str] = {}
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.client.__exit__(kind, error, trace)

    def _post(self, path: str, body: dict) -> dict:
        response = self.client.post(f"{API}{path}", json=body)
        response.raise_for_status()
        return response.json()

    def load(self, products: list[EvalProduct]) -> None:
        """Create the categories and products (each embedded as it is written)."""
        names = sorted({name for product in products for name in product.categories})
        category_ids = {name: self._post("/categories", {"name": name})["id"] for name in names}
        for product in products:
            created = self._post(
                "/products",
                {
                    "name": product.name,
                    "description": product.description,
                    "price": str(product.price),
                    "stock_quantity": 25,
                    "category_ids": [category_ids[name] for name in product.categories],
                },
            )
            self.keys[created["id"]] = product.key

    def search(self, q: str, mode: str) -> list[str]:
        """The keys of the first results of `GET /products?q=…&search=mode`."""
        response = self.client.get(f"{API}/products", params={"q": q, "search": mode, "limit": TOP})
        response.raise_for_status()
        return [self.keys[item["id"]] for item in response.json()["items"]]
