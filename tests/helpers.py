"""Plain things several test modules share: data paths, the animal corpus, a scripted QA set over it,
small file writers and the console-script runner. Fake models are in fakes.py, tiny real ones in
tiny_models.py, fixtures built from them in conftest.py; test modules import from these, never
from each other."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import threading
import sys
from pathlib import Path

from smallrag.prompt import NO_ANSWER

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"  # the demo corpus shipped in the repository
SHARED_DATA = REPO.parent / "shared" / "data"
CRANFIELD = SHARED_DATA / "retrieval" / "cranfield"  # CI always has ../shared: missing data fails, never skips
SMALLRAG = Path(sys.executable).with_name("smallrag")  # the console script of the venv running the tests

ANIMAL_DOCS = [
    {"id": "cats", "text": "Cats are small carnivorous mammals. Domestic cats purr and hunt mice.",
     "metadata": {"topic": "animals", "lang": "en"}},
    {"id": "dogs", "text": "Dogs are loyal companions. A dog barks at strangers and loves to fetch.",
     "metadata": {"topic": "animals", "lang": "en"}},
    {"id": "python", "text": "Python is a programming language. It is popular for data science.",
     "metadata": {"topic": "code", "lang": "en"}},
    {"id": "rust", "text": "Rust is a systems programming language focused on memory safety.",
     "metadata": {"topic": "code", "lang": "en"}},
    {"id": "paris", "text": "Paris is the capital of France. The Eiffel Tower stands in Paris.",
     "metadata": {"topic": "places", "lang": "en"}},
]


def make_animal_documents():
    from smallrag.core.types import Document

    return [Document(id=d["id"], text=d["text"], metadata=d["metadata"]) for d in ANIMAL_DOCS]


def run(*args: str, check: int | None = 0) -> subprocess.CompletedProcess:
    """The `smallrag` console script as a real subprocess; `check` is the exit code it must give."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([str(SMALLRAG), *args], capture_output=True, text=True, env=env, timeout=300)
    if check is not None:
        assert proc.returncode == check, (proc.returncode, proc.stdout, proc.stderr)
    return proc


def write_jsonl(path: Path, rows) -> Path:
    """One JSON object per line; a str row is written as it is (to test broken lines)."""
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def beir_folder(folder: Path, qrels: str = "query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td2\t0\nq3\td2\t1\n") -> Path:
    """A two-document BEIR folder (corpus, queries, qrels/test.tsv); q2 is not judged."""
    (folder / "qrels").mkdir(parents=True)
    write_jsonl(folder / "corpus.jsonl", [{"_id": "d1", "title": "Cats", "text": "Cats purr."},
                                          {"_id": "d2", "text": "Dogs bark."}])
    write_jsonl(folder / "queries.jsonl", [{"_id": "q1", "text": "Do cats purr?"}, {"_id": "q2", "text": "unjudged"},
                                           {"_id": "q3", "text": "Do dogs bark?"}])
    (folder / "qrels" / "test.tsv").write_text(qrels, encoding="utf-8")
    return folder


# -- a scripted QA set over the animal corpus: the gold answers make some replies right, some wrong

REPLIES = {
    "Do cats purr?": "Cats purr [1].",
    "What do domestic cats hunt?": "Domestic cats hunt mice [1].",
    "Who barks at strangers?": "A dog [1].",
    "What is Python popular for?": "Python is popular for web pages [1].",
    "What is Rust focused on?": "Rust focuses on memory safety [1].",
    "What is the capital of France?": "Paris [1].",
    "Where does the Eiffel Tower stand?": NO_ANSWER,
    "What do dogs love to fetch?": "Dogs love to fetch sticks [2].",
}
DATASET = [
    {"id": "q1", "question": "Do cats purr?", "answers": ["yes", "cats purr"], "gold_doc_ids": ["cats"]},
    {"id": "q2", "question": "What do domestic cats hunt?", "answers": ["mice"], "gold_doc_ids": ["cats"]},
    {"id": "q3", "question": "Who barks at strangers?", "answers": ["a dog"], "gold_doc_ids": ["dogs"]},
    {"id": "q4", "question": "What is Python popular for?", "answers": ["data science"], "gold_doc_ids": ["python"]},
    {"id": "q5", "question": "What is Rust focused on?", "answers": ["memory safety"], "gold_doc_ids": ["rust"]},
    {"id": "q6", "question": "What is the capital of France?", "answers": ["Paris"], "gold_doc_ids": ["paris"]},
    {"id": "q7", "question": "Where does the Eiffel Tower stand?", "answers": ["Paris"], "gold_doc_ids": ["paris"]},
    {"id": "q8", "question": "What do dogs love to fetch?", "answers": ["sticks"], "gold_doc_ids": ["dogs"]},
]
_QUESTION = re.compile(r"Question: (.*)\s*$", re.S)


def reply(messages) -> str:
    """The scripted generator's reply to a prompt built by smallrag.prompt: REPLIES by the question."""
    user = next(m["content"] for m in messages if m["role"] == "user")
    return REPLIES.get(_QUESTION.search(user).group(1).strip(), NO_ANSWER)


SERVER_GUARD = 20.0  # seconds a test server may take to start or stop


class LiveServer:
    """A uvicorn server for `app` on an ephemeral loopback port, in a background thread."""

    def __init__(self, app) -> None:
        import uvicorn

        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", log_config=None,
                                lifespan="off", timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + SERVER_GUARD
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("uvicorn exited before it started")
            if time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start within {SERVER_GUARD} s")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(SERVER_GUARD)
        assert not self.thread.is_alive(), "uvicorn did not shut down"
