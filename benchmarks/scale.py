"""The folder store and the PostgreSQL store at scale, side by side (issue 17), plus Ray encoding.

1. Synthetic: --chunks N (default 1,000,000) chunks of generated text (Zipf-distributed
   vocabulary) with random 384-d unit vectors, so encoding does not dominate. For each store:
   build time; open time and RSS after open (and after the first dense query, which loads the
   HNSW graph); BM25, dense and hybrid query p50/p95; recall@10 of HNSW against exact search;
   `index add` of 100 documents (seconds and bytes written); filtered query latency.
   Open and queries run in a fresh process per store, so RSS is the reader's alone.
2. Real data: Cranfield and HaluEval knowledge passages (records 8,000-9,999's questions) built
   in both stores with the packaged encoder: nDCG@10 and recall@100 of bm25 and dense (flat and
   HNSW) side by side.
3. Ray: docs/s encoding Cranfield with the packaged encoder on 1 and 2 local Ray workers, and
   locally in this process for reference.

    HF_HUB_OFFLINE=1 python benchmarks/scale.py [--chunks 1000000] [--skip-real] [--skip-ray]

A PostgreSQL 16 + pgvector server is started with pgserver in a temp folder, with shared_buffers
4GB (--pg-shared-buffers) so that the HNSW index fits, as pgvector advises (or pass --pg-url).
Ends with one JSON line."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"
DIM = 384
WORDS_PER_CHUNK = 40
VOCABULARY = 50_000
GROUPS = 100  # metadata "group" values: a filter on one keeps 1% of the chunks


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def written_bytes() -> int:
    with open("/proc/self/io") as fh:
        for line in fh:
            if line.startswith("wchar:"):
                return int(line.split()[1])
    return 0


def percentiles(samples: list[float]) -> dict[str, float]:
    ms = np.array(samples) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 2), "p95_ms": round(float(np.percentile(ms, 95)), 2)}


CENTERS = 20_000  # clustered vectors: this many random directions, each chunk near one of them
SPREAD = 0.6  # a chunk is normalize(center + SPREAD * unit noise): cosine ~0.85 to its center


class SyntheticEncoder:
    """Random unit vectors (seeded), standing in for a model so that encoding does not dominate.

    "uniform": independent uniform directions. Nothing is anyone's neighbour there: the 10 nearest
    of a million such vectors are the extremes of a million near-equal draws, which no graph
    index finds (HNSW recall@10 0.016 at ef_search 128, measured). "clustered" (default): each
    vector lies near one of CENTERS random directions, as real embeddings cluster by topic."""

    name = "synthetic-random-384"
    path = None
    dimension = DIM
    fingerprint = "synthetic-random-384-v1"

    def __init__(self, seed: int = 0, table: dict[str, np.ndarray] | None = None, kind: str = "clustered") -> None:
        self.rng = np.random.default_rng(seed)
        self.table = table or {}
        self.kind = kind
        centers = np.random.default_rng(12345).standard_normal((CENTERS, DIM), dtype=np.float32)
        self.centers = centers / np.linalg.norm(centers, axis=1, keepdims=True)

    def encode(self, texts, *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        if self.table:
            return np.stack([self.table[t] for t in texts]).astype(np.float32)
        out = np.empty((len(texts), DIM), dtype=np.float32)
        for start in range(0, len(texts), 100_000):
            n = min(100_000, len(texts) - start)
            block = self.rng.standard_normal((n, DIM), dtype=np.float32)
            if self.kind == "clustered":
                block /= np.linalg.norm(block, axis=1, keepdims=True)
                block = self.centers[self.rng.integers(0, CENTERS, size=n)] + SPREAD * block
            out[start:start + n] = block / np.linalg.norm(block, axis=1, keepdims=True)
        return out


def synthetic_documents(n: int, seed: int, prefix: str = "d"):
    from smallrag.core.types import Document

    rng = np.random.default_rng(seed)
    ranks = np.minimum(rng.zipf(1.15, size=n * WORDS_PER_CHUNK), VOCABULARY) - 1
    words = np.array([f"w{i}" for i in range(VOCABULARY)])[ranks].reshape(n, WORDS_PER_CHUNK)
    return [Document(id=f"{prefix}{i}", text=" ".join(row), metadata={"group": int(i % GROUPS)})
            for i, row in enumerate(words)]


def synthetic_queries(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    # mid-frequency words (ranks 20..2,000): common enough to hit thousands of chunks
    return [" ".join(f"w{r}" for r in rng.integers(20, 2000, size=3)) for _ in range(n)]


# -- the reader side, in a fresh process -------------------------------------------------------

def probe(args: argparse.Namespace) -> None:
    """Open `args.probe` and time queries; prints one JSON object."""
    from smallrag.indexes.opening import open_index
    from smallrag.retrievers.bm25 import BM25Retriever
    from smallrag.retrievers.dense import DenseRetriever
    from smallrag.retrievers.hybrid import HybridRetriever

    base_rss = rss_mb()
    started = time.perf_counter()
    index = open_index(args.probe, verify=False)
    open_seconds = time.perf_counter() - started
    out: dict[str, Any] = {"open_seconds": round(open_seconds, 3), "rss_after_open_mb": round(rss_mb(), 1),
                           "rss_before_open_mb": round(base_rss, 1)}
    texts = synthetic_queries(args.queries, 1)
    vectors = np.load(args.query_vectors)
    table = {t: v for t, v in zip(texts, vectors)}
    bm25, dense = BM25Retriever(index), DenseRetriever(index, SyntheticEncoder(table=table))
    hybrid = HybridRetriever([bm25, dense])
    first = time.perf_counter()
    dense.retrieve(texts[0], 10)
    out["first_dense_query_seconds"] = round(time.perf_counter() - first, 3)
    out["rss_after_first_dense_query_mb"] = round(rss_mb(), 1)
    for name, retriever, filters in (("bm25", bm25, None), ("dense", dense, None), ("hybrid", hybrid, None),
                                     ("bm25_filtered", bm25, {"group": 7}), ("dense_filtered", dense, {"group": 7})):
        samples = []
        for text in texts:
            t0 = time.perf_counter()
            retriever.retrieve(text, 10, filters)
            samples.append(time.perf_counter() - t0)
        out[name] = percentiles(samples)
    # recall@10 of the HNSW search against exact inner products over every vector
    if args.exact_url:
        exact = DenseRetriever(open_index(args.exact_url, verify=False), SyntheticEncoder(table=table))
        truth = [[h.chunk.id for h in exact.retrieve(t, 10)] for t in texts[:args.recall_queries]]
    else:
        embeddings = [np.asarray(seg.embeddings) for seg in index.segments]
        truth = []
        for text in texts[:args.recall_queries]:
            scores = np.concatenate([e @ table[text] for e in embeddings])
            rows = np.argsort(-scores, kind="stable")[:10]
            truth.append([index.chunk_at(int(r)).id for r in rows])
    found = [[h.chunk.id for h in dense.retrieve(t, 10)] for t in texts[:args.recall_queries]]
    out["hnsw_recall_at_10"] = round(float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth)])), 4)
    out["rss_end_mb"] = round(rss_mb(), 1)
    print(json.dumps(out))


def run_probe(where: str, query_vectors: Path, queries: int, recall_queries: int, exact_url: str | None) -> dict:
    command = [sys.executable, __file__, "--probe", where, "--query-vectors", str(query_vectors), "--queries",
               str(queries), "--recall-queries", str(recall_queries)]
    if exact_url:
        command += ["--exact-url", exact_url]
    proc = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if proc.returncode != 0:
        raise RuntimeError(f"probe of {where} failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- the writer side ---------------------------------------------------------------------------

def add_hundred(where: str, seed: int, runs: int = 3) -> dict[str, Any]:
    """`index add` of 100 new documents, `runs` times (each a fresh set): the median seconds and
    bytes, and every run's."""
    from smallrag.indexes.builder import add_documents
    from smallrag.indexes.location import is_database_url

    conn = None
    if is_database_url(where):
        from smallrag.indexes.location import parse_database_url
        from smallrag.indexes.pg.connection import connect

        conn = connect(parse_database_url(where))
    seconds, written = [], []
    for run in range(runs):
        docs = synthetic_documents(100, seed + run, prefix=f"added{run}-")
        if conn is not None:
            before = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
            conn.rollback()
        wchar = written_bytes()
        t0 = time.perf_counter()
        add_documents(where, docs, encoder=SyntheticEncoder(seed + run), progress=False)
        seconds.append(round(time.perf_counter() - t0, 3))
        if conn is not None:
            written.append(int(conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)",
                                            (before,)).fetchone()[0]))
            conn.rollback()
        else:
            written.append(written_bytes() - wchar)
    if conn is not None:
        conn.close()
    what = "WAL bytes the server wrote" if conn is not None else "bytes this process wrote"
    return {"seconds": float(np.median(seconds)), "bytes_written": int(np.median(written)), "bytes_measure": what,
            "runs_seconds": seconds, "runs_bytes": written}


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def synthetic(args: argparse.Namespace, pg_url: str | None, work: Path) -> dict[str, Any]:
    from smallrag.core.chunking import ChunkingConfig
    from smallrag.indexes.builder import build_index
    from smallrag.indexes.config import IndexConfig
    from smallrag.indexes.dense import DenseParams

    t0 = time.perf_counter()
    docs = synthetic_documents(args.chunks, seed=0)
    print(f"generated {len(docs)} documents in {time.perf_counter() - t0:.1f} s", flush=True)
    # m=16 (pgvector's default) in both stores; ef_search stays 128
    config = IndexConfig(chunking=ChunkingConfig(max_tokens=128, overlap=0), dense=DenseParams(faiss="hnsw", hnsw_m=16))
    rng = np.random.default_rng(7)
    # a query is a stored chunk's vector moved by noise of norm 0.3 (the first 100,000 vectors the
    # build's encoder makes are these, as numpy draws them in the same order)
    stored = SyntheticEncoder(0, kind=args.vectors).encode(["x"] * min(args.chunks, 100_000))
    picks = rng.integers(0, len(stored), size=args.queries)
    noise = rng.standard_normal((args.queries, DIM), dtype=np.float32)
    noisy = stored[picks] + 0.3 * noise / np.linalg.norm(noise, axis=1, keepdims=True)
    query_vectors = (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)
    np.save(work / "queries.npy", query_vectors)
    results: dict[str, Any] = {"chunks": args.chunks, "vectors": args.vectors, "words_per_chunk": WORDS_PER_CHUNK, "vocabulary": VOCABULARY,
                               "zipf_a": 1.15, "queries": args.queries, "recall_queries": args.recall_queries}
    stores = [s for s in args.stores.split(",") if s]
    for store in stores:
        where = str(work / "folder-index") if store == "folder" else f"{pg_url}&index=scale"
        print(f"{store}: building {args.chunks} chunks ...", flush=True)
        t0 = time.perf_counter()
        build_index(docs, where, config, encoder=SyntheticEncoder(0, kind=args.vectors), progress=False)
        build_seconds = time.perf_counter() - t0
        print(f"{store}: built in {build_seconds:.1f} s", flush=True)
        entry: dict[str, Any] = {"build_seconds": round(build_seconds, 1)}
        if store == "folder":
            entry["bytes"] = folder_bytes(Path(where))
        exact = f"{where}&exact=1" if store == "postgres" else None
        entry.update(run_probe(where, work / "queries.npy", args.queries, args.recall_queries, exact))
        entry["add_100"] = add_hundred(where, seed=11)
        print(f"{store}: {json.dumps(entry)}", flush=True)
        results[store] = entry
    return results


# -- real data ---------------------------------------------------------------------------------

def real(args: argparse.Namespace, pg_url: str | None, work: Path) -> dict[str, Any]:
    from smallrag.eval.datasets import load_cranfield, load_halueval_retrieval
    from smallrag.eval.metrics import retrieval_metrics
    from smallrag.indexes.builder import build_index
    from smallrag.indexes.config import IndexConfig
    from smallrag.indexes.dense import DenseParams
    from smallrag.indexes.encoders import SentenceTransformerEncoder
    from smallrag.retrievers.factory import open_retriever

    encoder = SentenceTransformerEncoder()
    sets = {"cranfield": load_cranfield(args.data / "retrieval" / "cranfield"),
            "halueval": load_halueval_retrieval(args.data / "qa" / "halueval_qa.jsonl")}
    out: dict[str, Any] = {}
    for name, data in sets.items():
        vectors = encoder.encode([d.text for d in data.documents], progress=False)
        table = {d.text: v for d, v in zip(data.documents, vectors)}

        class Cached:  # the corpus is encoded once for all four builds; chunk text == document text here
            name, path, dimension, fingerprint = encoder.name, encoder.path, encoder.dimension, encoder.fingerprint

            def encode(self, texts, **kw):
                return np.stack([table[t] if t in table else encoder.encode([t])[0] for t in texts])

        entry: dict[str, Any] = {}
        # HaluEval: every knowledge passage is indexed, the evaluation records' questions are asked
        qids = [q for q in data.queries if name != "halueval" or int(q[1:]) >= 8000]
        qrels = {q: data.qrels[q] for q in qids}
        for store in args.stores.split(","):
            for kind in ("flat", "hnsw"):
                where = str(work / f"{name}-{kind}") if store == "folder" else f"{pg_url}&index={name}_{kind}"
                from smallrag.core.chunking import ChunkingConfig

                config = IndexConfig(chunking=ChunkingConfig(max_tokens=512, overlap=0), dense=DenseParams(faiss=kind))
                build_index(data.documents, where, config, encoder=Cached(), progress=False)
                for mode in (("bm25", "dense") if kind == "flat" else ("dense",)):
                    retriever = open_retriever(where, mode, encoder=Cached() if mode == "dense" else None)
                    hits = retriever.retrieve_batch([data.queries[q] for q in qids], 100)
                    run = {q: {h.chunk.doc_id: float(h.score) for h in hs} for q, hs in zip(qids, hits)}
                    metrics = retrieval_metrics(qrels, run)
                    entry[f"{store}_{mode}{'_hnsw' if kind == 'hnsw' else ''}"] = {
                        "ndcg@10": round(metrics["ndcg@10"], 4), "recall@100": round(metrics["recall@100"], 4)}
        print(f"{name}: {json.dumps(entry)}", flush=True)
        out[name] = entry
    return out


def ray_rates(args: argparse.Namespace) -> dict[str, Any]:
    from smallrag.eval.datasets import load_cranfield
    from smallrag.indexes.encoders import SentenceTransformerEncoder
    from smallrag.indexes.ray_encoder import RayEncoder, local_encoder_factory

    texts = [d.text for d in load_cranfield(args.data / "retrieval" / "cranfield").documents]
    out: dict[str, Any] = {"texts": len(texts)}
    local = SentenceTransformerEncoder()
    local.encode(texts[:64])  # loaded and warm
    t0 = time.perf_counter()
    reference = local.encode(texts)
    out["local_docs_per_s"] = round(len(texts) / (time.perf_counter() - t0), 1)
    for workers in (1, 2):
        encoder = RayEncoder(local_encoder_factory(None), workers=workers, num_cpus=2, shard=128)
        t0 = time.perf_counter()
        vectors = encoder.encode(texts)
        seconds = time.perf_counter() - t0
        out[f"ray_{workers}_workers"] = {"docs_per_s": round(len(texts) / seconds, 1), "seconds": round(seconds, 1),
                                         "max_abs_diff_vs_local": float(np.abs(vectors - reference).max())}
        print(f"ray {workers} worker(s): {out[f'ray_{workers}_workers']}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--recall-queries", type=int, default=100)
    parser.add_argument("--stores", default="folder,postgres")
    parser.add_argument("--vectors", choices=("clustered", "uniform"), default="clustered",
                        help="synthetic vectors: near random centres (default) or uniform directions")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--pg-url", default=None, help="a server to use instead of starting one with pgserver")
    parser.add_argument("--pg-shared-buffers", default="4GB",
                        help="shared_buffers of the server pgserver starts (default 4GB: the HNSW index fits)")
    parser.add_argument("--work", type=Path, default=None, help="where indexes are written (default: a temp folder)")
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--probe", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--query-vectors", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--exact-url", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        probe(args)
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="smallrag-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    server, pg_url, pg_settings = None, args.pg_url, None
    if pg_url is None and "postgres" in args.stores:
        import pgserver

        pg_folder = tempfile.mkdtemp(prefix="smallrag-scale-pg-")
        server = pgserver.get_server(pg_folder, cleanup_mode="stop")
        # pgvector's advice: the HNSW index should fit in shared_buffers (1M x 384-d is ~2 GB);
        # pgserver starts with PostgreSQL's 128 MB, where each insert reads its graph from the OS
        server.psql(f"ALTER SYSTEM SET shared_buffers = '{args.pg_shared_buffers}';")
        server.cleanup()  # restart: shared_buffers applies at start
        server = pgserver.get_server(pg_folder, cleanup_mode="delete")
        pg_url = server.get_uri()
        settings = server.psql("SHOW shared_buffers;")
        pg_settings = {"shared_buffers": settings.split("\n")[2].strip()}
    figures: dict[str, Any] = {"benchmark": "scale", "load_average_at_start": list(os.getloadavg()),
                               "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
                               "postgres_server": pg_settings}
    try:
        if not args.skip_synthetic:
            figures["synthetic"] = synthetic(args, pg_url, work)
        if not args.skip_real:
            figures["real"] = real(args, pg_url, work)
        if not args.skip_ray:
            figures["ray"] = ray_rates(args)
    finally:
        if server is not None:
            server.cleanup()
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
