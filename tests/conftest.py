"""Shared fixtures: a deterministic fake encoder, the small animal corpus, sample indexes over it and
a tiny NLI model folder, so unit tests need no real model.

The session-scoped ones are built once per run and are read-only: a test that changes an index or
a model folder copies it first (shutil.copytree) or builds its own in tmp_path."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

# before anything of ours or of Hugging Face's is imported: no test ever reaches the hub
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _test_cache() -> None:
    """A cache folder of the run's own, so the ONNX exports of the random models tests build do not
    pile up in the user's cache. What the user's cache already holds besides exports (the joined
    GGUF generators, seconds to rebuild) is linked in, not copied."""
    import atexit
    import shutil
    import tempfile

    from smallrag.core.models import default_cache_dir

    if "SMALLRAG_CACHE" in os.environ:
        return  # the caller chose a cache
    real = default_cache_dir()
    cache = Path(tempfile.mkdtemp(prefix="smallrag-test-cache-"))
    if real.is_dir():
        for entry in real.iterdir():
            if entry.name != "onnx":
                (cache / entry.name).symlink_to(entry)
    os.environ["SMALLRAG_CACHE"] = str(cache)
    atexit.register(shutil.rmtree, cache, ignore_errors=True)


_test_cache()

from tests.fakes import FakeEncoder  # noqa: E402
from tests.helpers import DATASET, make_animal_documents, write_jsonl  # noqa: E402
from tests.tiny_models import make_classifier  # noqa: E402


@pytest.fixture
def fake_encoder() -> FakeEncoder:
    return FakeEncoder()


@pytest.fixture
def animal_documents():
    return make_animal_documents()


def _build_animal_index(folder: Path, **config) -> Path:
    from smallrag.indexes.builder import build_index
    from smallrag.indexes.config import IndexConfig

    config = IndexConfig(**config)
    encoder = FakeEncoder() if config.has_dense else None
    build_index(make_animal_documents(), folder, config, encoder=encoder, progress=False)
    return folder


@pytest.fixture(scope="session")
def animal_index(tmp_path_factory) -> Path:
    """The animal corpus indexed with the default IndexConfig (bm25 and dense, FakeEncoder's vectors). Read-only."""
    return _build_animal_index(tmp_path_factory.mktemp("animal-index") / "idx")


@pytest.fixture(scope="session")
def animal_bm25_index(tmp_path_factory) -> Path:
    """The animal corpus indexed for bm25 only (no encoder needed to open it). Read-only."""
    return _build_animal_index(tmp_path_factory.mktemp("animal-bm25") / "idx", retrievers=("bm25",))


@pytest.fixture(scope="session")
def tiny_nli_folder(tmp_path_factory) -> Path:
    """A tiny random-weight 3-way NLI classifier (tests/tiny_models.py). Read-only: a test that writes
    beside the model (a calibration file, a changed config) builds its own with make_classifier."""
    return make_classifier(tmp_path_factory.mktemp("tiny-nli") / "tiny-nli")


@pytest.fixture
def dataset_file(tmp_path) -> Path:
    """The scripted QA set over the animal corpus (tests/helpers.py DATASET) as a JSONL file."""
    return write_jsonl(tmp_path / "qa.jsonl", DATASET)


@pytest.fixture
def bm25(animal_bm25_index: Path):
    """A BM25 retriever over animal_bm25_index, fresh for each test."""
    from smallrag.retrievers.factory import open_retriever

    return open_retriever(animal_bm25_index, "bm25")


# -- a real PostgreSQL server with pgvector (pgserver), started by the test suite itself ---------

@pytest.fixture(scope="session")
def pg_server_url():
    """The base URL of a PostgreSQL 16 + pgvector server embedded by the `pgserver` package,
    started once per session in a fresh data folder (as root, pgserver runs it as its own
    `pgserver` system user, so the folder is made outside pytest's private tmp tree)."""
    import shutil
    import tempfile

    import pgserver

    folder = tempfile.mkdtemp(prefix="smallrag-pg-")
    server = pgserver.get_server(folder, cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server_url, request) -> str:
    """A URL naming a fresh index (by test) in the session's server."""
    import re

    name = f"t{next(_PG_NAMES)}_" + re.sub(r"[^a-z0-9_]", "_", request.node.name.lower())[:30]
    return f"{pg_server_url}&index={name}"


_PG_NAMES = itertools.count()
