"""`smallrag eval run` end to end with the real tiny packaged generator (SmolLM2-135M) over a few
XQuAD questions: the files are written, the figures are in range, and a resumed run reproduces
the uninterrupted one (greedy decoding is deterministic)."""

from __future__ import annotations

import json

import pytest

from smallrag.eval.datasets import load_eval_dataset
from smallrag.eval.runner import RagSpec, run_eval
from smallrag.eval.summary import TIMING_SECTIONS
from tests.helpers import SHARED_DATA

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def xquad_index(tmp_path_factory):
    from smallrag.indexes.builder import build_index
    from smallrag.indexes.config import IndexConfig

    dataset = load_eval_dataset(SHARED_DATA / "qa" / "xquad.en.json")
    folder = tmp_path_factory.mktemp("xquad") / "index"
    build_index(list(dataset.documents), folder, IndexConfig(retrievers=("bm25",)), progress=False)
    return folder


def test_eval_run_with_the_tiny_generator_and_resume(tmp_path, xquad_index):
    spec = RagSpec(str(xquad_index), generator="smollm2", mode="bm25", options={"k": 2, "max_tokens": 24})
    dataset = SHARED_DATA / "qa" / "xquad.en.json"
    straight = run_eval(dataset, spec, tmp_path / "a", limit=4, progress=False)
    q, e = straight.summary["quality"], straight.summary["efficiency"]
    assert q["examples"] == 4 and q["errors"] == 0
    assert 0.0 <= q["f1"] <= 1.0 and 0.0 <= q["exact_match"] <= q["f1"] + 1e-9
    assert 0.0 <= q["retrieval"]["recall@2"] <= 1.0
    assert e["latency_p50"] > 0 and e["completion_tokens"] > 0 and e["peak_rss_mb"] > 100
    assert straight.summary["energy"]["joules"] > 0 and straight.summary["per"]["per"] >= 0
    assert "smollm" in straight.summary["config"]["pipeline"]["generator"].lower()

    run_eval(dataset, spec, tmp_path / "b", limit=2, progress=False)
    resumed = run_eval(dataset, spec, tmp_path / "b", limit=4, resume=True, progress=False)
    assert resumed.resumed == 2 and resumed.answered == 2
    stable = lambda s: {k: v for k, v in s.items() if k not in TIMING_SECTIONS}  # noqa: E731
    assert stable(resumed.summary) == stable(straight.summary)
    answers_a = [json.loads(line)["answer"] for line in (tmp_path / "a" / "results.jsonl").read_text().splitlines()]
    assert all(isinstance(a, str) and a for a in answers_a)
