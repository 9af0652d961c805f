"""CLI cold start (issue 18): wall time of one `smallrag search` process per mode, the way a shell
script calls it, over a Cranfield index (1,400 abstracts).

Measured in the same run: bm25 (the reference), dense and hybrid through the light query encoder
(ONNX Runtime, no torch), and dense and hybrid through the torch encoder
(SMALLRAG_LIGHT_ENCODER=0). Each mode runs once untimed (warm file cache; the first light-path
call also writes the ONNX export), then --runs timed calls, rotating through the queries; the
median is reported. Ends with one JSON line.

    python benchmarks/cold_start.py [--runs 7] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODES = (("bm25", "bm25", True), ("dense_light", "dense", True), ("hybrid_light", "hybrid", True),
         ("dense_torch", "dense", False), ("hybrid_torch", "hybrid", False))


def run_search(index: Path, mode: str, query: str, *, light: bool, cache: Path) -> tuple[float, dict]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", SMALLRAG_CACHE=str(cache), SMALLRAG_LIGHT_ENCODER="1" if light else "0")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "smallrag.cli", "search", str(index), "--query", query,
                           "--mode", mode, "-k", "10", "--json"], capture_output=True, text=True, env=env, cwd=ROOT)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"search --mode {mode} failed: {done.stderr.strip()[-500:]}")
    return seconds, json.loads(done.stdout.splitlines()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--work", help="index and cache folder (default: a temp folder)")
    args = parser.parse_args()

    from smallrag.eval.datasets import load_cranfield
    from smallrag.indexes.builder import build_index

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="cold-start-"))
    data = load_cranfield(Path(args.data) / "retrieval" / "cranfield")
    index = work / "cranfield-index"
    if not (index / "manifest.json").is_file():
        build_index(data.documents, index, progress=False)
    cache = work / "cache"
    queries = list(data.queries.values())
    figures: dict = {"benchmark": "cold_start", "load_average_at_start": list(os.getloadavg()), "runs": args.runs,
                     "documents_indexed": len(data.documents)}
    top: dict[str, list[str]] = {}
    for label, mode, light in MODES:
        run_search(index, mode, queries[0], light=light, cache=cache)  # warm-up (and the export, once)
        times = []
        for i in range(args.runs):
            seconds, result = run_search(index, mode, queries[1 + i % (len(queries) - 1)], light=light, cache=cache)
            times.append(seconds)
            if i == 0:
                top[label] = [h["chunk_id"] for h in result["hits"]]
        figures[f"{label}_s"] = round(statistics.median(times), 3)
        figures[f"{label}_runs_s"] = [round(t, 3) for t in times]
        print(f"{label:13s} median {statistics.median(times):6.2f} s  runs {' '.join(f'{t:.2f}' for t in times)}",
              flush=True)
    for label in ("dense_light", "hybrid_light", "dense_torch", "hybrid_torch"):
        figures[f"{label}_vs_bm25"] = round(figures[f"{label}_s"] / figures["bm25_s"], 2)
    figures["light_equals_torch_top10"] = {m: top[f"{m}_light"] == top[f"{m}_torch"] for m in ("dense", "hybrid")}
    figures["load_average_at_end"] = list(os.getloadavg())
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
