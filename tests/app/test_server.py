"""`smallrag serve`: the HTTP API, tested against real uvicorn servers on 127.0.0.1 with a scripted
generator and the fake-encoder index (no model is loaded)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import uvicorn

import smallrag.server
from smallrag.indexes.index import Index
from smallrag.conversation import REWRITE_SYSTEM
from smallrag.core.errors import SmallragError
from smallrag.generators.scripted import ScriptedGenerator
from smallrag.pipeline import RAG
from smallrag.server import INTERNAL_ERROR, create_app, serve
from tests.fakes import FakeEncoder
from tests.helpers import LiveServer

HANG_GUARD = 20.0  # seconds: no request in these tests may take longer, whatever the server does
MAX_K = 4
MAX_BYTES = 2_000
SHORT_TIMEOUT = 2.0  # request_timeout of the server that tests timeouts
REWRITTEN = "Where is the Eiffel Tower?"


# -- a scripted generator whose reply depends on the question ----------------------------------

class Gate:
    """Holds a generation until the test releases it."""

    def __init__(self) -> None:
        self.entered, self.release, self.left = threading.Event(), threading.Event(), threading.Event()

    def hold(self) -> None:
        self.entered.set()
        try:
            self.release.wait(HANG_GUARD)
        finally:
            self.left.set()


class Script:
    """Echoes the question with a citation, after a short sleep so concurrent requests overlap.
    Questions with a marker misbehave: 'explode' raises, 'refuse' raises SmallragError, 'long
    story' replies at length, and a registered gate name holds the generation."""

    def __init__(self) -> None:
        self.gates: dict[str, Gate] = {}
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()

    def gate(self, name: str) -> Gate:
        self.gates[name] = Gate()
        return self.gates[name]

    def __call__(self, messages: list[dict[str, str]]) -> str:
        if messages[0]["content"] == REWRITE_SYSTEM:
            return f"Standalone question: {REWRITTEN}"
        question = messages[-1]["content"].rsplit("Question: ", 1)[-1].strip()
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            if "explode" in question:
                raise RuntimeError("secret-internal-detail in /srv/private/module.py")
            if "refuse" in question:
                raise SmallragError("the scripted generator refuses questions that say 'refuse'")
            for name, gate in list(self.gates.items()):
                if name in question:
                    gate.hold()
            if "long story" in question:
                return " ".join(["word"] * 1000)
            time.sleep(0.01)
            return f"{question} [1]"
        finally:
            with self._lock:
                self.active -= 1


class DripGenerator(ScriptedGenerator):
    """Streams one word every `drip` seconds, like a slow model."""

    def __init__(self, replies, drip: float) -> None:
        super().__init__(replies)
        self.drip = drip

    def stream(self, prompt, **options) -> Iterator[str]:
        for word in super().stream(prompt, **options):
            time.sleep(self.drip)
            yield word


# -- real servers --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def index_dir(animal_index) -> Path:
    return animal_index


@pytest.fixture(scope="module")
def script() -> Script:
    return Script()


@pytest.fixture(scope="module")
def pipeline(index_dir: Path, script: Script) -> RAG:
    return RAG.from_index(index_dir, generator=ScriptedGenerator(script), encoder=FakeEncoder(), k=2, verifier=None)


@pytest.fixture(scope="module")
def server(pipeline: RAG) -> Iterator[LiveServer]:
    # room for the 50-request bursts below; the queue bound itself is tested in test_server_limits.py
    with LiveServer(create_app(pipeline, max_k=MAX_K, max_request_bytes=MAX_BYTES, request_timeout=HANG_GUARD,
                               max_queue=64)) as live:
        yield live


@pytest.fixture(scope="module")
def slow_server(index_dir: Path, script: Script) -> Iterator[LiveServer]:
    slow = RAG.from_index(index_dir, generator=DripGenerator(script, drip=0.05), encoder=FakeEncoder(), k=2,
                          verifier=None)
    with LiveServer(create_app(slow, request_timeout=SHORT_TIMEOUT)) as live:
        yield live


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=HANG_GUARD) as c:
        yield c


# -- helpers -------------------------------------------------------------------------------------

def parse_sse(lines) -> list[tuple[str, dict[str, Any]]]:
    events, name, data = [], None, []
    for line in lines:
        if line == "":
            if name is not None or data:
                events.append((name, json.loads("\n".join(data))))
            name, data = None, []
        elif line.startswith("event:"):
            name = line[len("event:"):].strip()
        elif line.startswith("data:"):
            data.append(line[len("data:"):].strip())
    assert name is None and not data, "the stream ended inside an event"
    return events


def stream_events(client: httpx.Client, body: dict[str, Any]) -> tuple[httpx.Response, list]:
    with client.stream("POST", "/ask", json={**body, "stream": True}) as response:
        if response.status_code != 200:
            response.read()
            return response, []
        return response, parse_sse(response.iter_lines())


def without_timings(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key != "timings"}


# -- answers -------------------------------------------------------------------------------------

def test_ask_returns_the_answer_json(client, pipeline):
    response = client.post("/ask", json={"question": "Do cats purr?"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    data = response.json()
    assert data["answer"] == "Do cats purr? [1]" and data["question"] == "Do cats purr?"
    assert len(data["hits"]) == 2 and data["hits"][0]["doc_id"] == "cats"
    assert data["citations"] == [{"n": 1, "doc_id": "cats", "chunk_id": data["hits"][0]["chunk_id"],
                                  "text": data["hits"][0]["text"]}]
    assert {"retrieve", "prompt", "generate", "total"} <= set(data["timings"])
    # the same object as `smallrag ask --json` prints
    assert without_timings(data) == without_timings(pipeline.ask("Do cats purr?").to_json())


def test_k_filters_and_history_reach_the_pipeline(client):
    assert len(client.post("/ask", json={"question": "Do cats purr?", "k": 1}).json()["hits"]) == 1

    only_paris = client.post("/ask", json={"question": "Do cats purr?", "k": 3, "filters": {"doc_id": "paris"}}).json()
    assert [h["doc_id"] for h in only_paris["hits"]] == ["paris"]
    code = client.post("/ask", json={"question": "Which language is popular?", "filters": {"topic": ["code"]}}).json()
    assert code["hits"] and {h["doc_id"] for h in code["hits"]} <= {"python", "rust"}

    history = [{"role": "user", "content": "Tell me about France."},
               {"role": "assistant", "content": "Paris is its capital [1]."}]
    followed = client.post("/ask", json={"question": "Where does that tower stand?", "history": history}).json()
    assert followed["query"] == REWRITTEN and followed["hits"][0]["doc_id"] == "paris"


def test_health_describes_the_server(client, index_dir):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok", "generator": "scripted", "retriever": "hybrid",
        "chunks": len(Index.open(index_dir).chunks), "version": smallrag.__version__,
        "limits": {"max_k": MAX_K, "max_request_bytes": MAX_BYTES, "request_timeout": HANG_GUARD,
                   "max_queue": 64}, "queue": 0}


def test_stream_sends_deltas_then_the_answer(client, pipeline):
    response, events = stream_events(client, {"question": "Do dogs bark at strangers?"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    names = [name for name, _ in events]
    assert names[-1] == "answer" and set(names[:-1]) == {"delta"} and len(names) > 2
    text = "".join(data["delta"] for _, data in events[:-1])
    answer = events[-1][1]
    assert text.strip() == answer["answer"] == "Do dogs bark at strangers? [1]"
    assert answer["citations"][0]["doc_id"] == "dogs" and answer["citations"][0]["n"] == 1
    assert {"hits", "timings", "citations"} <= set(answer)


# -- bad requests --------------------------------------------------------------------------------

@pytest.mark.parametrize("body, needle", [
    ({"question": "Do cats purr?", "k": MAX_K + 1}, f"from 1 to {MAX_K}"),
    ({"question": "Do cats purr?", "k": 0}, f"from 1 to {MAX_K}"),
    ({"question": "Do cats purr?", "k": -2}, "\"k\""),
    ({"question": "Do cats purr?", "k": 1.5}, "\"k\""),
    ({"question": "Do cats purr?", "k": "3"}, "\"k\""),
    ({"question": "Do cats purr?", "k": True}, "\"k\""),
    ({"question": ""}, "\"question\" is empty"),
    ({"question": "   "}, "\"question\" is empty"),
    ({}, "\"question\" is missing"),
    ({"question": 42}, "\"question\" must be a string"),
    ({"question": ["Do cats purr?"]}, "\"question\" must be a string"),
    ({"question": "Do cats purr?", "filter": {"topic": "code"}}, "unknown field(s) ['filter']"),
    ({"question": "Do cats purr?", "history": "hello"}, "\"history\" must be a JSON array"),
    ({"question": "Do cats purr?", "history": [{"role": "system", "content": "x"}]}, "role 'user' or 'assistant'"),
    ({"question": "Do cats purr?", "history": [{"role": "user"}]}, "history turn 0"),
    ({"question": "Do cats purr?", "filters": "topic=code"}, "\"filters\" must be a JSON object"),
    ({"question": "Do cats purr?", "filters": {"topic": {"in": ["code"]}}}, "filter 'topic'"),
    ({"question": "Do cats purr?", "stream": "yes"}, "\"stream\" must be true or false"),
])
def test_bad_fields_are_refused_with_the_field_named(client, body, needle):
    for stream in (False, True):  # checked before any streaming starts, so both get a status code
        sent = {**body, "stream": stream} if "stream" not in body else body
        response = client.post("/ask", json=sent)
        assert response.status_code == 400, response.text
        assert list(response.json()) == ["error"] and needle in response.json()["error"]


@pytest.mark.parametrize("content, needle", [
    (b'{"question": "Do cats', "not valid JSON"),
    (b"question=Do+cats+purr", "not valid JSON"),
    (b"", "not valid JSON"),
    (b'["Do cats purr?"]', "must be a JSON object"),
    (b'{"question": "caf\xe9"}', "not UTF-8"),
])
def test_malformed_bodies_are_refused(client, content, needle):
    response = client.post("/ask", content=content, headers={"content-type": "application/json"})
    assert response.status_code == 400 and needle in response.json()["error"]


def test_body_over_the_limit_is_refused_before_it_is_read(client):
    big = {"question": "Do cats purr? " + "x" * MAX_BYTES}
    response = client.post("/ask", json=big)
    assert response.status_code == 413
    assert f"max_request_bytes={MAX_BYTES}" in response.json()["error"]


def test_chunked_body_over_the_limit_is_refused(client):
    def chunks():  # no Content-Length: the server must count what arrives
        yield b'{"question": "'
        for _ in range(10):
            yield b"x" * 500
        yield b'"}'

    response = client.post("/ask", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in response.request.headers
    assert response.status_code == 413 and f"max_request_bytes={MAX_BYTES}" in response.json()["error"]


def test_unknown_routes_answer_json_errors(client):
    assert client.get("/ask").status_code == 405 and "error" in client.get("/ask").json()
    assert client.get("/nothing").status_code == 404 and "error" in client.get("/nothing").json()


# -- pipeline failures ---------------------------------------------------------------------------

def test_smallrag_error_from_the_pipeline_is_a_400_with_its_message(client):
    response = client.post("/ask", json={"question": "please refuse this"})
    assert response.status_code == 400
    assert response.json() == {"error": "the scripted generator refuses questions that say 'refuse'"}

    response, events = stream_events(client, {"question": "please refuse this too"})
    assert response.status_code == 200
    assert events == [("error", {"error": "the scripted generator refuses questions that say 'refuse'",
                                 "status": 400})]


def test_unexpected_error_is_a_500_that_leaks_nothing_but_is_logged(client, caplog):
    with caplog.at_level(logging.ERROR, logger="smallrag.server"):
        response = client.post("/ask", json={"question": "why does it explode?"})
        streamed, events = stream_events(client, {"question": "does the stream explode?"})
    assert response.status_code == 500 and response.json() == {"error": INTERNAL_ERROR}
    assert streamed.status_code == 200 and events == [("error", {"error": INTERNAL_ERROR, "status": 500})]
    for text in (response.text, json.dumps(events)):
        assert "secret" not in text and "Traceback" not in text and "RuntimeError" not in text
    logged = [r for r in caplog.records if r.exc_info is not None]
    assert len(logged) == 2 and all("secret-internal-detail" in str(r.exc_info[1]) for r in logged)


# -- concurrency and timeouts --------------------------------------------------------------------

@pytest.mark.parametrize("stream", [False, True])
def test_a_running_generation_does_not_block_other_requests(client, script, stream):
    gate = script.gate(f"gate-blocks-loop-{stream}")
    results: list[Any] = []

    def ask_gated():
        with httpx.Client(base_url=str(client.base_url), timeout=HANG_GUARD) as own:
            if stream:
                results.append(stream_events(own, {"question": f"Do cats purr? gate-blocks-loop-{stream}"})[1])
            else:
                results.append(own.post("/ask", json={"question": f"Do cats purr? gate-blocks-loop-{stream}"}))

    worker = threading.Thread(target=ask_gated)
    worker.start()
    try:
        assert gate.entered.wait(HANG_GUARD), "the gated request never reached the generator"
        health = client.get("/health", timeout=5.0)
        assert health.status_code == 200 and not gate.left.is_set()  # answered while the generator was held
    finally:
        gate.release.set()
        worker.join(HANG_GUARD)
    if stream:
        assert results[0][-1][0] == "answer"
    else:
        assert results[0].status_code == 200


def test_fifty_concurrent_requests_each_get_their_own_answer(server, script):
    questions = [f"Do cats purr? (request {i})" for i in range(50)]

    async def ask_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.url, timeout=HANG_GUARD) as c:
            return await asyncio.gather(*(c.post("/ask", json={"question": q}) for q in questions))

    script.max_active = 0
    responses = asyncio.run(ask_all())
    assert [r.status_code for r in responses] == [200] * 50
    assert [r.json()["question"] for r in responses] == questions
    assert [r.json()["answer"] for r in responses] == [q + " [1]" for q in questions]
    assert script.max_active == 1  # the RAG's lock serialised the generator


def test_fifty_concurrent_streams_each_get_their_own_answer(server, script):
    questions = [f"Do dogs bark? (stream {i})" for i in range(50)]

    async def stream_one(c: httpx.AsyncClient, question: str):
        async with c.stream("POST", "/ask", json={"question": question, "stream": True}) as response:
            return response.status_code, parse_sse([line async for line in response.aiter_lines()])

    async def stream_all():
        async with httpx.AsyncClient(base_url=server.url, timeout=HANG_GUARD) as c:
            return await asyncio.gather(*(stream_one(c, q) for q in questions))

    script.max_active = 0
    for question, (status, events) in zip(questions, asyncio.run(stream_all())):
        assert status == 200 and events[-1][0] == "answer"
        text = "".join(data["delta"] for name, data in events[:-1] if name == "delta")
        assert text.strip() == events[-1][1]["answer"] == question + " [1]"
        assert events[-1][1]["question"] == question
    assert script.max_active == 1


def test_answer_over_the_timeout_is_a_504_and_the_server_recovers(slow_server, script):
    gate = script.gate("gate-timeout")
    with httpx.Client(base_url=slow_server.url, timeout=HANG_GUARD) as c:
        try:
            response = c.post("/ask", json={"question": "Do cats purr? gate-timeout"})
        finally:
            gate.release.set()
        assert response.status_code == 504
        assert f"request_timeout of {SHORT_TIMEOUT:g} s" in response.json()["error"]
        assert gate.left.wait(HANG_GUARD)  # the abandoned worker finished in the background...
        after = c.post("/ask", json={"question": "Do cats purr?"})  # ...and released the generator
        assert after.status_code == 200 and after.json()["answer"] == "Do cats purr? [1]"


def test_stream_over_the_timeout_ends_with_an_error_and_frees_the_generator(slow_server):
    # 1000 words at 0.05 s each would hold the generator for 50 s if the stream were not closed
    with httpx.Client(base_url=slow_server.url, timeout=HANG_GUARD) as c:
        response, events = stream_events(c, {"question": "tell me a long story about cats"})
        assert response.status_code == 200 and events[-1][0] == "error" and events[-1][1]["status"] == 504
        assert len(events) > 2 and {name for name, _ in events[:-1]} == {"delta"}
        after = c.post("/ask", json={"question": "Do cats purr?"})
        assert after.status_code == 200 and after.json()["answer"] == "Do cats purr? [1]"


def test_body_that_stalls_is_a_408(slow_server):
    def stalling():
        yield b'{"question": "Do cats'
        time.sleep(SHORT_TIMEOUT + 1.0)
        yield b' purr?"}'

    with httpx.Client(base_url=slow_server.url, timeout=HANG_GUARD) as c:
        response = c.post("/ask", content=stalling(), headers={"content-type": "application/json"})
    assert response.status_code == 408 and "did not arrive" in response.json()["error"]


def test_client_leaving_a_stream_frees_the_generator(slow_server):
    with httpx.Client(base_url=slow_server.url, timeout=HANG_GUARD) as c:
        with c.stream("POST", "/ask", json={"question": "tell me a long story about dogs", "stream": True}) as r:
            assert r.status_code == 200
            first = next(line for line in r.iter_lines() if line.startswith("data:"))
            assert "delta" in first
        # the connection is closed; within request_timeout the generator must be free again
        after = c.post("/ask", json={"question": "Do dogs bark?"})
        assert after.status_code == 200 and after.json()["answer"] == "Do dogs bark? [1]"


# -- construction and the CLI --------------------------------------------------------------------

@pytest.mark.parametrize("option, value", [
    ("max_k", 0), ("max_k", 2.5), ("max_request_bytes", -1), ("request_timeout", 0), ("request_timeout", float("nan"))])
def test_bad_limits_are_refused(pipeline, option, value):
    with pytest.raises(SmallragError, match=option):
        create_app(pipeline, **{option: value})


def test_serve_runs_uvicorn_quietly(pipeline, monkeypatch):
    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append((app, options)))
    serve(pipeline, host="127.0.0.1", port=0, max_k=3)
    (app, options), = calls
    assert options["host"] == "127.0.0.1" and options["port"] == 0 and options["log_level"] == "warning"
    assert app.title == "smallrag"
    with pytest.raises(SmallragError, match="65535"):
        serve(pipeline, port=70000)


def test_cli_serve_passes_its_options_to_serve(animal_bm25_index, monkeypatch):
    import smallrag.server
    from smallrag.cli.main import main

    calls = []
    monkeypatch.setattr(smallrag.server, "serve", lambda pipeline, **options: calls.append((pipeline, options)))
    code = main(["serve", str(animal_bm25_index), "--host", "0.0.0.0", "--port", "8123", "-k", "3",
                 "--max-k", "7", "--max-request-bytes", "1234", "--request-timeout", "9.5", "--generator", "smollm2",
                 "--quiet"])
    assert code == 0
    (pipeline, options), = calls
    assert options == {"host": "0.0.0.0", "port": 8123, "max_k": 7, "max_request_bytes": 1234,
                       "request_timeout": 9.5, "max_queue": 16}
    assert isinstance(pipeline, RAG) and pipeline.k == 3 and pipeline.retriever.name == "bm25"
    assert pipeline.generator.name == "llama.cpp:smollm2-135m-instruct-q4_1"


@pytest.mark.parametrize("port", ["0", "65536", "http"])
def test_cli_serve_refuses_a_bad_port(tmp_path, port, capsys):
    from smallrag.cli.main import main

    with pytest.raises(SystemExit) as exit_info:
        main(["serve", str(tmp_path), "--port", port])
    assert exit_info.value.code == 2 and "--port" in capsys.readouterr().err


# -- a bounded queue, cancellation, bad bodies and the access log ---------------------------------

class CountingWords(ScriptedGenerator):
    """Generates `words` words, `drip` seconds each, checking for cancellation between them as the
    real backends do (llama.cpp through a logits processor); counts the words it produced."""

    def __init__(self, words: int, drip: float) -> None:
        super().__init__("unused")
        self.words, self.drip, self.produced, self.started = words, drip, 0, 0

    def generate(self, prompt, **options):
        from smallrag.core import cancel
        from smallrag.core.types import Generation

        self.started += 1
        out = []
        for i in range(self.words):
            cancel.check()
            time.sleep(self.drip)
            out.append("word")
            self.produced += 1
        return Generation(" ".join(out) + " [1]", self.name, 1, len(out), "stop", timings={"total": 0.0})


def test_past_max_queue_a_request_gets_503_with_retry_after_and_the_rest_200(index_dir, script):
    gate = script.gate("gate-queue")
    rag = RAG.from_index(index_dir, generator=ScriptedGenerator(script), encoder=FakeEncoder(), k=2, verifier=None)
    with LiveServer(create_app(rag, request_timeout=HANG_GUARD, max_queue=2)) as live:
        async def burst():
            async with httpx.AsyncClient(base_url=live.url, timeout=HANG_GUARD) as c:
                first = asyncio.ensure_future(c.post("/ask", json={"question": "Do cats purr? gate-queue"}))
                await asyncio.to_thread(gate.entered.wait, HANG_GUARD)  # the generator is now busy
                queued = [asyncio.ensure_future(c.post("/ask", json={"question": f"Do cats purr? {i}"}))
                          for i in range(2)]
                await asyncio.sleep(0.5)
                refused = await c.post("/ask", json={"question": "Do cats purr? one too many"})
                health = (await c.get("/health")).json()
                gate.release.set()
                return refused, health, await first, await asyncio.gather(*queued)

        refused, health, first, queued = asyncio.run(burst())
    assert refused.status_code == 503 and int(refused.headers["Retry-After"]) >= 1
    assert "max_queue=2" in refused.json()["error"] and health["queue"] == 2
    assert [r.status_code for r in [first, *queued]] == [200, 200, 200]


def test_a_timed_out_request_stops_generating_and_a_queued_one_never_starts(index_dir):
    generator = CountingWords(words=2000, drip=0.005)  # 10 s of words if nothing stopped it
    rag = RAG.from_index(index_dir, generator=generator, encoder=FakeEncoder(), k=2, verifier=None)
    with LiveServer(create_app(rag, request_timeout=2.0)) as live:
        async def two():
            async with httpx.AsyncClient(base_url=live.url, timeout=HANG_GUARD) as c:
                first = asyncio.ensure_future(c.post("/ask", json={"question": "Do cats purr?"}))
                while not generator.started:  # the first request holds the generator...
                    await asyncio.sleep(0.01)
                with pytest.raises(httpx.ReadTimeout):  # ...while the second waits, then its client leaves
                    await c.post("/ask", json={"question": "Do dogs bark?"}, timeout=0.3)
                return await first

        started = time.monotonic()
        first = asyncio.run(two())
        assert first.status_code == 504
        deadline = time.monotonic() + HANG_GUARD
        while rag._generator_lock.locked() and time.monotonic() < deadline:
            time.sleep(0.05)
    assert time.monotonic() - started < 8.0
    assert generator.started == 1  # the abandoned queued request never reached the generator
    assert generator.produced < 1500  # the timed-out one stopped soon after 2 s, not after 2000 words


def test_a_client_that_leaves_cancels_its_answer(index_dir):
    generator = CountingWords(words=2000, drip=0.005)
    rag = RAG.from_index(index_dir, generator=generator, encoder=FakeEncoder(), k=2, verifier=None)
    with LiveServer(create_app(rag, request_timeout=HANG_GUARD)) as live:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{live.url}/ask", json={"question": "Do cats purr?"}, timeout=0.5)
        deadline = time.monotonic() + HANG_GUARD
        while rag._generator_lock.locked() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not rag._generator_lock.locked() and generator.produced < 600


@pytest.mark.parametrize("content, headers, status, needle", [
    (b'{"question": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", {"content-type": "application/json"}, 400,
     "nested too deeply"),
    (b'{"question": "bad \\ud800 text"}', {"content-type": "application/json"}, 400, "lone surrogate"),
    (b'{"question": "Do cats purr?"}', {"content-type": "text/plain"}, 415, "application/json"),
    (b'{"question": "Do cats purr?"}', {"content-type": "application/x-www-form-urlencoded"}, 415, "JSON"),
    (b'{"question": "Do cats purr?"}', {}, 415, "none"),
])
def test_bad_bodies_get_a_json_4xx(index_dir, content, headers, status, needle):
    rag = RAG.from_index(index_dir, generator=ScriptedGenerator("x [1]"), encoder=FakeEncoder(), k=2, verifier=None)
    with LiveServer(create_app(rag, max_request_bytes=200_000)) as live:
        response = httpx.post(f"{live.url}/ask", content=content, headers=headers, timeout=HANG_GUARD)
    assert response.status_code == status and needle in response.json()["error"]


def test_one_log_line_per_request_without_the_body(client, caplog):
    with caplog.at_level(logging.INFO, logger="smallrag.server.access"):
        client.post("/ask", json={"question": "Do cats purr? secret-question-text"})
        client.get("/health")
        deadline = time.monotonic() + HANG_GUARD  # the line is written just after the response is sent
        while len([r for r in caplog.records if r.name == "smallrag.server.access"]) < 2 \
                and time.monotonic() < deadline:
            time.sleep(0.01)
    lines = [r.getMessage() for r in caplog.records if r.name == "smallrag.server.access"]
    assert len(lines) == 2
    assert re.fullmatch(r"POST /ask 200 \d+\.\d{3}s", lines[0]) and re.fullmatch(r"GET /health 200 \d+\.\d{3}s", lines[1])
    assert "secret-question-text" not in caplog.text


def test_more_bad_bodies_and_hosts(index_dir, caplog):
    rag = RAG.from_index(index_dir, generator=ScriptedGenerator("x [1]"), encoder=FakeEncoder(), k=2, verifier=None)
    with LiveServer(create_app(rag, max_request_bytes=200_000)) as live:
        huge = httpx.post(f"{live.url}/ask", content=b'{"question": "q", "k": ' + b"9" * 5000 + b"}",
                          headers={"content-type": "application/json"}, timeout=HANG_GUARD)
        assert huge.status_code == 400 and "not usable JSON" in huge.json()["error"]
        # DNS rebinding: a page on another name that resolves to 127.0.0.1 gets nothing
        rebound = httpx.get(f"{live.url}/health", headers={"host": "attacker.example"}, timeout=HANG_GUARD)
        assert rebound.status_code == 400
        with caplog.at_level(logging.INFO, logger="smallrag.server.access"):
            httpx.get(f"{live.url}/%0aPOST%20/ask%20200%200.001s", timeout=HANG_GUARD)
            deadline = time.monotonic() + HANG_GUARD
            # an access line is written just after its response is sent, so the rebound request's
            # line can land here too: wait for the injected path's own line
            while not [r for r in caplog.records if r.getMessage().startswith("GET /\\n")] \
                    and time.monotonic() < deadline:
                time.sleep(0.01)
    lines = [r.getMessage() for r in caplog.records if r.name == "smallrag.server.access"]
    assert lines and all("\n" not in line for line in lines), lines
    (line,) = [line for line in lines if line.startswith("GET /\\n")]


def test_serve_allows_this_machines_names_or_every_name_when_bound_to_all():
    from smallrag.server import _allowed_hosts

    assert _allowed_hosts("127.0.0.1") == ["localhost", "127.0.0.1", "::1", "[::1]"]
    assert _allowed_hosts("10.0.0.5")[-1] == "10.0.0.5" and _allowed_hosts("0.0.0.0") == ["*"]
