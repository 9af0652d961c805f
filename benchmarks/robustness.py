"""Robustness benchmark: smallrag probed as a hostile or careless user would.

Four parts, each counted; one run ends with ONE JSON line holding every figure.

- bad input: CLI invocations with bad flags, files and folders, each run as `smallrag ...` in a
  forked child (so a hang can be timed out). Outcomes: `clean` (exit 1 or 2, one line
  "smallrag: error: ..." that names no raw exception class), `raw` (an error line that is a bare
  exception such as "TypeError: ..."), `traceback`, `hang` (over --case-timeout), `wrong_success`
  (exit 0 where an error was due) and `ok` (a case meant to succeed, e.g. a build that skips a
  malformed file with a warning). Data-loss events: files of the user's that a case removed.
- kills: `smallrag index add` SIGKILLed at random moments; after each kill the index must open
  with every sha256 verified, holding either the old or the new documents.
- writers: rounds of two concurrent `smallrag index add` processes; a lost update is a round
  after which a document is missing.
- burst: (see --burst) concurrent POST /ask to `smallrag serve`'s app, by status.

Targets (issue "nothing lost"): 0 tracebacks, 0 raw errors, 0 wrong successes, 0 data-loss
events, 0 lost updates, 0 x 504 under the burst.

Usage:  HF_HUB_OFFLINE=1 python benchmarks/robustness.py [--kills 20] [--writer-rounds 5]
        [--case-timeout 120] [--burst N] [--burst-generator scripted|smollm2] [--only PART]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import multiprocessing
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"
RAW_EXCEPTION = re.compile(r"^smallrag: error: [A-Z]\w*(Error|Exception)\b")


@dataclass(frozen=True)
class Case:
    name: str
    argv: list[str]  # after `smallrag`; {w} is the work folder, {idx} a ready bm25 index
    expect: str = "error"  # "error" or "ok"
    keep: tuple[str, ...] = ()  # paths (relative to {w}) whose bytes must survive


def _write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))


def make_inputs(work: Path) -> None:
    """The files and folders the cases point at."""
    _write(work / "src.txt", "Alpine lakes freeze in winter. Bees make honey from nectar.")
    _write(work / "mydocs/notes.txt", "notes")
    _write(work / "mydocs/sub/thesis.docx", "draft")
    _write(work / "photos/holiday.jpg", b"\xff\xd8\xff\xe0jpeg")
    _write(work / "afile", "precious")
    _write(work / "sandbox/keep.txt", "keep")
    _write(work / "deep/deep.json", "[" * 100_000)
    _write(work / "deep/good.txt", "A good file beside a bad one.")
    _write(work / "bigcsv/big.csv", "id,text\n1," + "x" * 200_000 + "\n")
    _write(work / "bigcsv/good.txt", "A good file beside a bad one.")
    os.makedirs(work / "badname", exist_ok=True)
    _write(Path(os.fsdecode(os.fsencode(str(work / "badname")) + b"/caf\xe9.txt")), "bad file name")
    _write(work / "badname/good.txt", "A good file beside a bad one.")
    _write(work / "binary/blob.txt", bytes(range(256)) * 4)
    _write(work / "binary/good.txt", "A good file beside a bad one.")
    _write(work / "q/badutf8.jsonl", b'{"id": 1, "text": "caf\xe9 ol\xe9"}\n')
    _write(work / "q/surrogate.jsonl", '{"id": 1, "text": "bad \\ud800 text"}\n')
    _write(work / "q/deep.jsonl", "[" * 100_000 + "\n")
    _write(work / "q/notjson.jsonl", "{not json\n")
    _write(work / "q/notext.jsonl", '{"id": 1}\n')
    _write(work / "q/list.jsonl", '[1, 2]\n')
    _write(work / "q/empty.jsonl", "")
    _write(work / "p/badutf8.jsonl", b'{"premise": "caf\xe9", "hypothesis": "x"}\n')
    _write(work / "p/surrogate.jsonl", '{"premise": "a \\ud800", "hypothesis": "b"}\n')
    _write(work / "p/deep.jsonl", "[" * 100_000 + "\n")
    _write(work / "p/missing.jsonl", '{"premise": "a"}\n')
    _write(work / "p/number.jsonl", '{"premise": 5, "hypothesis": "b"}\n')
    _write(work / "h/notlist.json", '{"role": "user"}')
    _write(work / "h/badrole.json", '[{"role": "system", "content": "x"}]')
    _write(work / "h/notjson.json", "[{")
    _write(work / "e/cands.txt", "a\nb\n")
    _write(work / "e/refs.txt", "a\n")
    _write(work / "t/bad-label.jsonl", '{"premise": "a", "hypothesis": "b", "label": "maybe"}\n')
    _write(work / "t/deep.jsonl", "[" * 100_000 + "\n")
    _write(work / "d/bad.jsonl", '{"question": 5}\n')
    for name, change in {
        "nofiles": lambda m: m.update(files={}),
        "boolversion": lambda m: m.update(format_version=True),
        "escape": lambda m: m["files"].update({"../../../../etc/hostname": {"bytes": 1, "sha256": "0"}}),
        "absolute": lambda m: m["files"].update({"/etc/hostname": {"bytes": 1, "sha256": "0"}}),
        "stringentry": lambda m: m["files"].update({"chunks.jsonl": "abc"}),
        "noversion": lambda m: m.pop("smallrag_version"),
    }.items():
        shutil.copytree(work / "idx", work / f"broken-{name}")
        manifest_path = work / f"broken-{name}" / "manifest.json"
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        change(manifest)
        manifest_path.write_text(json.dumps(manifest), encoding="utf-8")


def cases() -> list[Case]:
    bm25 = ["--retrievers", "bm25", "--quiet"]
    out: list[Case] = [
        # --out never replaces what is not an index
        Case("out-is-source", ["index", "build", "{w}/mydocs", "--out", "{w}/mydocs", *bm25],
             keep=("mydocs/notes.txt", "mydocs/sub/thesis.docx")),
        Case("out-is-users-folder", ["index", "build", "{w}/src.txt", "--out", "{w}/photos", *bm25],
             keep=("photos/holiday.jpg",)),
        Case("out-is-cwd", ["index", "build", "{w}/src.txt", "--out", ".", *bm25], keep=("sandbox/keep.txt",)),
        Case("out-is-file", ["index", "build", "{w}/src.txt", "--out", "{w}/afile", *bm25], keep=("afile",)),
        Case("out-is-parent-of-source", ["index", "build", "{w}/mydocs/notes.txt", "--out", "{w}/mydocs", *bm25],
             keep=("mydocs/notes.txt",)),
        Case("out-new", ["index", "build", "{w}/src.txt", "--out", "{w}/fresh-idx", *bm25], expect="ok"),
        # one bad file never aborts a build
        Case("deep-json-skipped", ["index", "build", "{w}/deep", "--out", "{w}/o-deep", *bm25], expect="ok"),
        Case("huge-csv-field-skipped", ["index", "build", "{w}/bigcsv", "--out", "{w}/o-csv", *bm25], expect="ok"),
        Case("bad-file-name-skipped", ["index", "build", "{w}/badname", "--out", "{w}/o-name", *bm25], expect="ok"),
        Case("binary-skipped", ["index", "build", "{w}/binary", "--out", "{w}/o-bin", *bm25], expect="ok"),
        Case("missing-source", ["index", "build", "{w}/nope", "--out", "{w}/o1", *bm25]),
        Case("chunk-tokens-0", ["index", "build", "{w}/src.txt", "--out", "{w}/o2", "--chunk-tokens", "0", *bm25]),
        Case("chunk-tokens-text", ["index", "build", "{w}/src.txt", "--out", "{w}/o2", "--chunk-tokens", "x", *bm25]),
        Case("overlap-negative", ["index", "build", "{w}/src.txt", "--out", "{w}/o2", "--overlap", "-1", *bm25]),
        Case("unknown-retriever", ["index", "build", "{w}/src.txt", "--out", "{w}/o2", "--retrievers", "x"]),
        Case("unknown-stemmer", ["index", "build", "{w}/src.txt", "--out", "{w}/o2", "--stemmer", "klingon", *bm25]),
        Case("lock-timeout-negative", ["index", "add", "{idx}", "{w}/src.txt", "--lock-timeout", "-1"]),
        Case("add-missing-index", ["index", "add", "{w}/nope", "{w}/src.txt"]),
        Case("add-not-an-index", ["index", "add", "{w}/photos", "{w}/src.txt"], keep=("photos/holiday.jpg",)),
        Case("delete-unknown-id", ["index", "delete", "{idx}", "--doc-id", "zzz"]),
        Case("info-not-an-index", ["index", "info", "{w}/photos"]),
        *[Case(f"info-broken-{n}", ["index", "info", f"{{w}}/broken-{n}"])
          for n in ("nofiles", "boolversion", "escape", "absolute", "stringentry", "noversion")],
        # search
        Case("search-empty-query", ["search", "{idx}", "--query", "  "]),
        Case("search-k-0", ["search", "{idx}", "--query", "x", "-k", "0"]),
        Case("search-k-text", ["search", "{idx}", "--query", "x", "-k", "ten"]),
        Case("search-bad-mode", ["search", "{idx}", "--query", "x", "--mode", "magic"]),
        Case("search-dense-on-bm25-index", ["search", "{idx}", "--query", "x", "--mode", "dense"]),
        Case("search-filter-no-equals", ["search", "{idx}", "--query", "x", "--filter", "topic"]),
        Case("search-missing-index", ["search", "{w}/nope", "--query", "x"]),
        *[Case(f"search-queries-{n}", ["search", "{idx}", "--queries", f"{{w}}/q/{n}.jsonl"])
          for n in ("badutf8", "surrogate", "deep", "notjson", "notext", "list", "empty", "missing")],
        # ask (all fail before a generator loads)
        Case("ask-empty-question", ["ask", "{idx}", " "]),
        *[Case(f"ask-temperature-{t}", ["ask", "{idx}", "q?", "--temperature", t])
          for t in ("nan", "inf", "-1", "x")],
        Case("ask-max-tokens-0", ["ask", "{idx}", "q?", "--max-tokens", "0"]),
        Case("ask-n-ctx-0", ["ask", "{idx}", "q?", "--n-ctx", "0"]),
        Case("ask-escalate-without-target", ["ask", "{idx}", "q?", "--on-unsupported", "escalate"]),
        Case("ask-min-confidence-2", ["ask", "{idx}", "q?", "--min-confidence", "2"]),
        Case("ask-bad-openai-spec", ["ask", "{idx}", "q?", "--generator", "openai:nourl"]),
        Case("ask-missing-gguf", ["ask", "{idx}", "q?", "--generator", "{w}/nope.gguf"]),
        *[Case(f"ask-history-{n}", ["ask", "{idx}", "q?", "--history", f"{{w}}/h/{n}.json"])
          for n in ("notlist", "badrole", "notjson", "missing")],
        Case("ask-missing-index", ["ask", "{w}/nope", "q?"]),
        # verify
        *[Case(f"verify-pairs-{n}", ["verify", "--pairs", f"{{w}}/p/{n}.jsonl"])
          for n in ("badutf8", "surrogate", "deep", "missing", "number", "absent")],
        Case("verify-premise-only", ["verify", "--premise", "a"]),
        Case("verify-empty-hypothesis", ["verify", "--premise", "a", "--hypothesis", " "]),
        Case("verify-lone-surrogate-arg", ["verify", "--premise", "a\udcff", "--hypothesis", "b"]),
        Case("verify-batch-0", ["verify", "--premise", "a", "--hypothesis", "b", "--batch-size", "0"]),
        Case("verify-missing-model", ["verify", "--premise", "a", "--hypothesis", "b", "--model", "{w}/nope"]),
        # eval and train
        Case("eval-score-line-mismatch", ["eval", "score", "--metric", "bertscore", "--cands", "{w}/e/cands.txt",
                                          "--refs", "{w}/e/refs.txt"]),
        Case("eval-score-missing-file", ["eval", "score", "--metric", "nli", "--cands", "{w}/nope",
                                         "--refs", "{w}/e/refs.txt"]),
        Case("eval-run-bad-dataset", ["eval", "run", "--dataset", "{w}/d/bad.jsonl", "--index", "{idx}",
                                      "--out", "{w}/run1"]),
        Case("train-bad-label", ["train", "nli", "--train", "{w}/t/bad-label.jsonl", "--out", "{w}/m1"]),
        Case("train-deep", ["train", "nli", "--train", "{w}/t/deep.jsonl", "--out", "{w}/m2"]),
        Case("train-out-is-users-folder", ["train", "nli", "--train", "{w}/t/bad-label.jsonl", "--out", "{w}/photos"],
             keep=("photos/holiday.jpg",)),
        Case("no-command", []),
        Case("unknown-command", ["frobnicate"]),
    ]
    return out


def _run_case(argv: list[str], cwd: str, conn) -> None:
    """In a forked child: run the CLI in-process, send back (code, stdout, stderr)."""
    os.chdir(cwd)
    out, err = io.StringIO(), io.StringIO()
    code: Any
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            from smallrag.cli.main import main

            code = main(argv)
        except SystemExit as exc:  # argparse usage errors
            code = exc.code
        except BaseException:  # an escaped exception is a traceback to a user
            import traceback

            traceback.print_exc()
            code = "traceback"
    conn.send((code, out.getvalue(), err.getvalue()))
    conn.close()


def classify(case: Case, code: Any, stderr: str) -> str:
    if code == "traceback" or "Traceback (most recent call last)" in stderr:
        return "traceback"
    if case.expect == "ok":
        return "ok" if code == 0 else "wrong_failure"
    if code == 0:
        return "wrong_success"
    errors = [line for line in stderr.splitlines() if line.startswith("smallrag: error:") or ": error:" in line]
    if not errors:
        return "no_message"
    return "raw" if any(RAW_EXCEPTION.match(line) for line in errors) else "clean"


def run_bad_input(work: Path, timeout: float) -> dict[str, Any]:
    from smallrag.core.types import Document
    from smallrag.indexes.builder import build_index
    from smallrag.indexes.config import IndexConfig

    build_index([Document(id="a", text="Alpine lakes freeze in winter."),
                 Document(id="b", text="Bees make honey from nectar.")], work / "idx",
                IndexConfig(retrievers=("bm25",)), progress=False)
    make_inputs(work)
    context = multiprocessing.get_context("fork")
    counts: dict[str, int] = {}
    details: list[dict[str, Any]] = []
    data_loss = 0
    for case in cases():
        argv = [a.replace("{w}", str(work)).replace("{idx}", str(work / "idx")) for a in case.argv]
        before = {k: (work / k).read_bytes() for k in case.keep}
        parent, child = context.Pipe(duplex=False)
        cwd = str(work / "sandbox") if case.name == "out-is-cwd" else str(work)
        proc = context.Process(target=_run_case, args=(argv, cwd, child))
        proc.start()
        child.close()
        if parent.poll(timeout):
            code, _stdout, stderr = parent.recv()
            outcome = classify(case, code, stderr)
        else:
            os.kill(proc.pid, signal.SIGKILL)
            code, stderr, outcome = None, "", "hang"
        proc.join()
        lost = [k for k, data in before.items() if not (work / k).is_file() or (work / k).read_bytes() != data]
        if case.name == "out-is-cwd" and not (work / "sandbox" / "keep.txt").is_file():
            lost.append("sandbox/keep.txt")
        data_loss += bool(lost)
        counts[outcome] = counts.get(outcome, 0) + 1
        message = next((line for line in stderr.splitlines() if "error" in line), "")
        details.append({"case": case.name, "outcome": outcome, "exit": code, "lost": lost, "message": message[:200]})
        mark = "ok " if outcome in ("clean", "ok") and not lost else "BAD"
        print(f"  {mark} {case.name:32s} {outcome:14s} exit={code!s:5s} {message[:110]}", flush=True)
    return {"cases": len(details), "outcomes": counts, "data_loss_events": data_loss,
            "bad": [d for d in details if d["outcome"] not in ("clean", "ok") or d["lost"]]}


def _cli(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "smallrag.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def _doc_ids(index: Path) -> list[str] | None:
    from smallrag.core.errors import SmallragError
    from smallrag.indexes.index import Index

    try:
        return sorted(Index.open(index, verify=True).doc_ids)
    except SmallragError:
        return None


def run_kills(work: Path, rounds: int, seed: int) -> dict[str, Any]:
    """SIGKILL `index add` at a random moment; the index must be the old or the new one."""
    rng = random.Random(seed)
    index = work / "kill-idx"
    subprocess.run([sys.executable, "-m", "smallrag.cli", "index", "build", str(SAMPLE), "--out", str(index),
                    "--retrievers", "bm25", "--quiet"], check=True, capture_output=True)
    def source(i: int) -> Path:
        path = work / f"kill-src-{i}.txt"
        path.write_text("".join(f"Kill round {i}, line {n}: glaciers carve fjords, word{n % 997}.\n"
                                for n in range(60_000)))
        return path

    # How long one whole add takes, so the kills can land all over it (start-up, reading, writing).
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "smallrag.cli", "index", "add", str(index), str(source(-1)), "--quiet"],
                   check=True, capture_output=True)
    add_seconds = time.perf_counter() - started
    survivors, outcomes = 0, {"old": 0, "new": 0, "broken": 0}
    for i in range(rounds):
        old = _doc_ids(index)
        path = source(i)
        new = sorted([*old, path.name])
        proc = _cli("index", "add", str(index), str(path), "--quiet")
        time.sleep(rng.uniform(0.3, 2.0) * add_seconds)  # before, during and after the publishing rename
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        now = _doc_ids(index)
        state = "old" if now == old else "new" if now == new else "broken"
        outcomes[state] += 1
        survivors += state != "broken"
    return {"kills": rounds, "survivors": survivors, "states": outcomes, "add_seconds": round(add_seconds, 2)}


def run_writers(work: Path, rounds: int) -> dict[str, Any]:
    index = work / "writers-idx"
    subprocess.run([sys.executable, "-m", "smallrag.cli", "index", "build", str(SAMPLE), "--out", str(index),
                    "--retrievers", "bm25", "--quiet"], check=True, capture_output=True)
    lost = 0
    for i in range(rounds):
        sources = []
        for side in ("a", "b"):
            path = work / f"writer-{i}-{side}.txt"
            path.write_text(f"Writer {side} of round {i} adds this text about rivers.")
            sources.append(path)
        procs = [_cli("index", "add", str(index), str(s), "--quiet") for s in sources]
        codes = [p.wait() for p in procs]
        ids = set(_doc_ids(index) or [])
        missing = [s.name for s in sources if s.name not in ids]
        lost += bool(missing) or codes != [0, 0]
        print(f"  round {i}: exits {codes}, missing {missing}", flush=True)
    return {"rounds": rounds, "lost_updates": lost}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("bad-input", "kills", "writers", "burst"), action="append")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--writer-rounds", type=int, default=5)
    parser.add_argument("--case-timeout", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--burst", type=int, default=50, help="concurrent requests in the burst")
    parser.add_argument("--burst-generator", action="append", choices=("scripted", "smollm2"))
    args = parser.parse_args()
    parts = args.only or ["bad-input", "kills", "writers", "burst"]
    figures: dict[str, Any] = {"benchmark": "robustness", "load_average": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="smallrag-robust-") as tmp:
        work = Path(tmp)
        steps: dict[str, Callable[[], dict[str, Any]]] = {
            "bad-input": lambda: run_bad_input(work / "bad", args.case_timeout),
            "kills": lambda: run_kills(work / "kills", args.kills, args.seed),
            "writers": lambda: run_writers(work / "writers", args.writer_rounds),
            "burst": lambda: run_bursts(work / "burst", args.burst, args.burst_generator or ["scripted", "smollm2"]),
        }
        for part in parts:
            (work / part.replace("-input", "")).mkdir(parents=True, exist_ok=True)
            print(f"== {part}", flush=True)
            started = time.perf_counter()
            figures[part] = steps[part]()
            figures[part]["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(figures, ensure_ascii=False))


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def run_burst(work: Path, requests: int, generator_name: str) -> dict[str, Any]:
    """`requests` concurrent POST /ask against the app `smallrag serve` runs (default limits,
    NLI verification on), on a real uvicorn server on loopback, in this process (for its RSS)."""
    import asyncio
    import gc
    import threading

    import httpx
    import uvicorn

    from smallrag.generators.scripted import ScriptedGenerator
    from smallrag.pipeline import RAG
    from smallrag.server import create_app

    index = work / f"burst-idx-{generator_name}"
    if not index.exists():
        subprocess.run([sys.executable, "-m", "smallrag.cli", "index", "build", str(SAMPLE), "--out", str(index),
                        "--retrievers", "bm25", "--quiet"], check=True, capture_output=True)
    generator: Any = ScriptedGenerator("The answer is in the documents [1].") if generator_name == "scripted" \
        else "smollm2"
    rag = RAG.from_index(index, mode="bm25", generator=generator, verifier="nli", max_tokens=64, progress=False)
    app = create_app(rag)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    questions = ["Who invented the pneumatic tyre?", "Why is Venus hotter than Mercury?",
                 "What gas do plants release during photosynthesis?", "How do volcanoes form?",
                 "Where does coffee come from?"]

    async def one(client: httpx.AsyncClient, i: int) -> tuple[int, float, str | None]:
        started = time.perf_counter()
        response = await client.post("/ask", json={"question": questions[i % len(questions)]})
        return response.status_code, time.perf_counter() - started, response.headers.get("retry-after")

    async def burst(n: int) -> list[tuple[int, float, str | None]]:
        async with httpx.AsyncClient(base_url=url, timeout=600) as client:
            return await asyncio.gather(*(one(client, i) for i in range(n)))

    def settled_rss() -> float:
        time.sleep(1.0)
        gc.collect()
        return _rss_mb()

    try:
        # Warm-up: models loaded and the worker threads the server answers in started, each with
        # its own allocator arena; the level "before the burst" is that of a server in use.
        asyncio.run(burst(8))
        rss_before = settled_rss()
        started = time.perf_counter()
        results = asyncio.run(burst(requests))
        wall = time.perf_counter() - started
        rss_after = settled_rss()
        asyncio.run(burst(requests))  # a second burst: memory that grows again would be a leak
        rss_after_second = settled_rss()
    finally:
        server.should_exit = True
        thread.join(30)
    statuses: dict[str, int] = {}
    for status, _, _ in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    ok = sorted(seconds for status, seconds, _ in results if status == 200)
    refused = sorted(seconds for status, seconds, _ in results if status == 503)

    def pct(values: list[float], q: float) -> float | None:
        import numpy as np

        return round(float(np.quantile(values, q)), 3) if values else None

    figures = {"requests": requests, "statuses": statuses, "wall_seconds": round(wall, 2),
               "ok_p50_s": pct(ok, 0.5), "ok_p95_s": pct(ok, 0.95), "refused_p95_s": pct(refused, 0.95),
               "retry_after": sorted({int(r) for s, _, r in results if s == 503 and r}),
               "rss_before_mb": round(rss_before, 1), "rss_after_mb": round(rss_after, 1),
               "rss_change": round(rss_after / rss_before - 1, 4),
               "rss_after_second_burst_mb": round(rss_after_second, 1)}
    print(f"  {generator_name}: {figures}", flush=True)
    return figures


def run_bursts(work: Path, requests: int, generators: list[str]) -> dict[str, Any]:
    return {name: run_burst(work, requests, name) for name in generators}


if __name__ == "__main__":
    main()
