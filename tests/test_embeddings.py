"""The embedders: the default loads offline from its wheel, every vector is unit length, and the
OpenAI-compatible one speaks to a real HTTP server on 127.0.0.1."""

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import wordllama

from inventory.config import SettingsError
from inventory.embeddings import (
    EmbeddingError,
    OpenAICompatibleEmbedder,
    get_embedder,
    load_embedder,
    product_text,
)
from tests.conftest import ROOT


def test_the_default_embedder_loads_with_the_network_switched_off():
    code = (
        "import socket\n"
        "def refuse(*args, **kwargs): raise OSError('no network here')\n"
        "socket.socket.connect = refuse\n"
        "socket.getaddrinfo = refuse\n"
        "from inventory.embeddings import load_embedder\n"
        "embedder = load_embedder('wordllama:l2_supercat_256')\n"
        "print(embedder.model, embedder.embed(['garden hose']).shape)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
        cwd=ROOT,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "wordllama:l2_supercat_256 (1, 256)"


def test_default_vectors_are_unit_length_and_closer_for_related_products():
    embedder = get_embedder()

    hose, sprinkler, stapler = embedder.embed(
        ["Garden hose with spray nozzle", "Lawn sprinkler for grass", "Desk stapler"]
    )

    assert np.allclose([np.linalg.norm(v) for v in (hose, sprinkler, stapler)], 1, atol=1e-5)
    assert hose @ sprinkler > hose @ stapler


def test_the_shared_float16_table_gives_wordllamas_own_vectors():
    from wordllama import WordLlama

    texts = ["Garden hose with spray nozzle", "Desk stapler", "boil water for tea"]
    package_dir = Path(wordllama.__file__).parent
    own = WordLlama.load(cache_dir=package_dir, disable_download=True).embed(texts, norm=True)

    assert np.allclose(get_embedder().embed(texts), own, atol=1e-5)


def test_a_product_text_joins_name_description_and_category_names():
    assert product_text("Hose", "25 m", ["Garden", "Outdoor"]) == "Hose\n25 m\nGarden Outdoor"
    assert product_text("Hose", None, []) == "Hose"


@pytest.mark.parametrize(
    "spec", ["wordllama", "wordllama:l2_supercat", "openai:text-embed", "word2vec:big_300"]
)
def test_a_malformed_or_incomplete_embedding_model_setting_is_refused_by_name(spec):
    with pytest.raises(SettingsError, match="EMBEDDING_"):
        load_embedder(spec)


@pytest.mark.parametrize(
    "spec",
    ["wordllama:no_such_config_256", "wordllama:l2_supercat_300", "wordllama:l2_supercat_512"],
)
def test_a_wordllama_model_that_is_not_in_the_wheel_is_a_clear_error_without_a_download(
    spec, monkeypatch
):
    """No such config, no such size, or a size the wheel does not ship (it has only 256)."""

    def refuse(*args, **kwargs):
        raise AssertionError("the embedder tried the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    with pytest.raises(EmbeddingError, match=spec.replace("wordllama:", "")):
        load_embedder(spec)


def test_a_sentence_transformers_model_that_is_not_on_this_machine_is_a_clear_error(tmp_path):
    with pytest.raises(EmbeddingError, match="sentence-transformers"):
        load_embedder(f"sentence-transformers:{tmp_path / 'no-such-model'}")


class _FakeEmbeddingsApi(BaseHTTPRequestHandler):
    """An OpenAI-compatible /embeddings answering with 4-dimensional vectors."""

    requests: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(
            {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
        )
        if body["model"] == "broken":
            self.send_response(500)
            self.end_headers()
            return
        data = [
            {"index": i, "embedding": [len(text), 0.0, 3.0, 4.0]}
            for i, text in reversed(list(enumerate(body["input"])))
        ]
        payload = json.dumps({"object": "list", "data": data}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def embeddings_api() -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 that speaks the OpenAI embeddings protocol."""
    _FakeEmbeddingsApi.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeEmbeddingsApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_an_openai_compatible_endpoint_gives_unit_vectors_in_input_order(embeddings_api):
    embedder = load_embedder("openai:text-embed-small", embeddings_api, "sk-local")

    vectors = embedder.embed(["abc", ""])

    assert isinstance(embedder, OpenAICompatibleEmbedder)
    assert embedder.model == "openai:text-embed-small"
    assert embedder.dimension == 4
    assert np.allclose(vectors[0], np.array([3, 0, 3, 4]) / np.sqrt(34))
    assert np.allclose(vectors[1], [0, 0, 0.6, 0.8])
    sent = _FakeEmbeddingsApi.requests[0]
    assert sent["path"] == "/v1/embeddings"
    assert sent["auth"] == "Bearer sk-local"
    assert sent["body"] == {"model": "text-embed-small", "input": ["abc", ""]}


def test_an_endpoint_that_fails_is_an_embedding_error_naming_the_model(embeddings_api):
    embedder = load_embedder("openai:broken", embeddings_api, None)

    with pytest.raises(EmbeddingError, match="openai:broken"):
        embedder.embed(["abc"])
