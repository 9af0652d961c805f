"""The OpenAI-compatible HTTP backend against a real HTTP server on 127.0.0.1, scripted per test."""

from __future__ import annotations

import json
import logging
import re
import socket
import subprocess
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import pytest

from smallrag.core.errors import SmallragError
from smallrag.generators.factory import make_generator
from smallrag.generators.openai_http import OpenAIGenerator
from smallrag.core.protocols import Generator

KEY_ENV = "SMALLRAG_TEST_OPENAI_KEY"
SECRET = "sk-test-5f3a9c1e-never-show-me"
HANG_GUARD = 5.0  # seconds: a test slower than this means something waited on a stalled server

Reply = Callable[["Handler"], None]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked streams, as vLLM and llama.cpp serve them
    timeout = 10  # an idle keep-alive connection frees its thread
    server: "ScriptedServer"

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.received.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(raw)})
        replies = self.server.replies
        reply = replies.pop(0) if len(replies) > 1 else replies[0]  # the last reply repeats
        reply(self)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass


class ScriptedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.received: list[dict[str, Any]] = []
        self.replies: list[Reply] = [json_reply({"error": {"message": "no reply scripted"}}, status=500)]
        self.release = threading.Event()  # wakes handlers that stall, so shutdown never waits on them
        self.thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the client hung up on a stalled reply: expected in timeout tests

    def stop(self) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()
        self.thread.join(timeout=HANG_GUARD)


@pytest.fixture
def server():
    srv = ScriptedServer()
    yield srv
    srv.stop()


@pytest.fixture
def make(server):
    """Generators pointed at the test server, closed after the test."""
    made: list[OpenAIGenerator] = []

    def _make(**options: Any) -> OpenAIGenerator:
        options = {"api_key_env": KEY_ENV, "timeout": 2.0, "retry_backoff": 0.01, **options}
        generator = OpenAIGenerator("mymodel", server.base_url, **options)
        made.append(generator)
        return generator

    yield _make
    for generator in made:
        generator.close()


@pytest.fixture(autouse=True)
def no_key(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)


# --- scripted replies ---------------------------------------------------------------------------

def raw_reply(body: bytes, status: int = 200, content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> Reply:
    def reply(h: Handler) -> None:
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(body)))
        for name, value in (headers if headers is not None else {}).items():
            h.send_header(name, value)
        h.end_headers()
        h.wfile.write(body)
    return reply


def json_reply(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return raw_reply(json.dumps(payload).encode(), status, headers=headers)


def completion(text: str, *, finish: str = "stop", usage: dict | None = None, logprobs: list | None = None) -> dict:
    choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
    if logprobs is not None:
        choice["logprobs"] = {"content": [{"token": t, "logprob": lp, "top_logprobs": []} for t, lp in logprobs]}
    payload: dict[str, Any] = {"id": "chatcmpl-1", "object": "chat.completion", "model": "mymodel",
                               "choices": [choice]}
    if usage is not None:
        payload["usage"] = usage
    return payload


def chunk(content: str | None = None, *, role: str | None = None, finish: str | None = None) -> str:
    delta: dict[str, Any] = {}
    if role is not None:
        delta["role"] = role
    if content is not None:
        delta["content"] = content
    return json.dumps({"id": "chatcmpl-1", "object": "chat.completion.chunk",
                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})


def sse_reply(lines: list[str], *, stall_after: int | None = None) -> Reply:
    """Sends each line as its own chunk; with `stall_after`, goes silent after that many lines."""
    def reply(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()

        def send(data: bytes) -> None:
            h.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            h.wfile.flush()

        for i, line in enumerate(lines):
            if stall_after is not None and i == stall_after:
                h.server.release.wait(30)
                return
            send(line.encode() + b"\n")
        send(b"")
    return reply


def events(*payloads: str, done: bool = True) -> list[str]:
    lines = [f"data: {p}\n" for p in payloads]
    return lines + (["data: [DONE]\n"] if done else [])


def slow_reply(seconds: float, then: Reply) -> Reply:
    def reply(h: Handler) -> None:
        if not h.server.release.wait(seconds):
            then(h)
    return reply


def trickle_reply(body: bytes, every: float) -> Reply:
    """Headers at once, then one byte every `every` seconds: each read is quick, the whole is slow."""
    def reply(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        for i in range(len(body)):
            h.wfile.write(body[i:i + 1])
            h.wfile.flush()
            if h.server.release.wait(every):
                return
    return reply


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- construction -------------------------------------------------------------------------------

def test_constructor_is_cheap_and_follows_the_protocol():
    generator = OpenAIGenerator("big-model", f"http://127.0.0.1:{closed_port()}/v1/")  # nobody listens there
    assert generator._client is None
    assert isinstance(generator, Generator)
    assert generator.name == "openai:big-model"
    assert generator.url.endswith("/v1/chat/completions")


@pytest.mark.parametrize("kwargs, needle", [
    ({"base_url": "127.0.0.1:8080/v1"}, "http://"),
    ({"base_url": "http://"}, "not a valid URL"),
    ({"model": " "}, "model"),
    ({"timeout": 0}, "timeout"),
    ({"connect_timeout": -1.0}, "connect_timeout"),
    ({"max_retries": -1}, "max_retries"),
    ({"context_window": 0}, "context_window"),
    ({"api_key_env": ""}, "api_key_env"),
    ({"extra_headers": {"authorization": "Bearer x"}}, "api_key_env"),
])
def test_bad_constructor_arguments(kwargs, needle):
    args = {"model": "m", "base_url": "http://127.0.0.1:8080/v1", **kwargs}
    with pytest.raises(SmallragError, match=needle):
        OpenAIGenerator(**args)


@pytest.mark.parametrize("kwargs, needle", [
    ({"max_tokens": 0}, "max_tokens"), ({"temperature": -0.5}, "temperature"), ({"stop": "\n"}, "stop")])
def test_bad_sampling_arguments_raise_before_any_request(server, make, kwargs, needle):
    generator = make()
    with pytest.raises(SmallragError, match=needle):
        generator.generate("hi", **kwargs)
    with pytest.raises(SmallragError, match=needle):
        generator.stream("hi", **kwargs)  # at the call, not at the first next()
    with pytest.raises(SmallragError, match="empty"):
        generator.generate("  ")
    assert server.received == []


# --- request --------------------------------------------------------------------------------------

def test_request_body_path_and_fields(server, make):
    server.replies = [json_reply(completion("Paris."))]
    messages = [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Capital of France?"}]
    make().generate(messages, max_tokens=7, temperature=0.3, stop=["\n\n", "END"], seed=11)
    (request,) = server.received
    assert request["path"] == "/v1/chat/completions"
    assert request["body"] == {"model": "mymodel", "messages": messages, "max_tokens": 7, "temperature": 0.3,
                               "stop": ["\n\n", "END"], "seed": 11, "stream": False}


def test_defaults_leave_out_stop_seed_and_logprobs(server, make):
    server.replies = [json_reply(completion("ok"))]
    make().generate("hello")
    body = server.received[0]["body"]
    assert body == {"model": "mymodel", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 256,
                    "temperature": 0.0, "stream": False}


def test_trailing_slash_and_extra_headers(server, make):
    server.replies = [json_reply(completion("ok"))]
    generator = OpenAIGenerator("mymodel", server.base_url + "/", api_key_env=KEY_ENV,
                                extra_headers={"X-Team": "search"})
    with generator:
        generator.generate("hello")
    request = server.received[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["X-Team"] == "search"


def test_authorization_header_iff_the_key_variable_is_set(server, make, monkeypatch):
    server.replies = [json_reply(completion("ok"))]
    generator = make()
    generator.generate("hello")
    assert not any(h.lower() == "authorization" for h in server.received[0]["headers"])
    monkeypatch.setenv(KEY_ENV, SECRET)
    generator.generate("hello")  # read at each request, so a key set later counts
    assert server.received[1]["headers"]["Authorization"] == f"Bearer {SECRET}"


def test_default_key_variable_is_openai_api_key(server, monkeypatch):
    server.replies = [json_reply(completion("ok"))]
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with OpenAIGenerator("mymodel", server.base_url) as generator:
        generator.generate("hello")
    assert server.received[0]["headers"]["Authorization"] == f"Bearer {SECRET}"


def test_key_never_in_logs_repr_or_errors(server, make, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, httpx's and httpcore's included
    monkeypatch.setenv(KEY_ENV, SECRET)
    # A careless server that echoes the key back in its error message.
    server.replies = [json_reply({"error": {"message": "busy"}}, status=503), json_reply(completion("ok")),
                      json_reply({"error": {"message": f"invalid key {SECRET}"}}, status=401)]
    generator = make(max_retries=1)
    assert generator.generate("hello").text == "ok"  # after one logged retry
    with pytest.raises(SmallragError) as refused:
        generator.generate("hello")
    assert server.received[-1]["headers"]["Authorization"] == f"Bearer {SECRET}"  # the key was really sent
    message = str(refused.value)
    assert KEY_ENV in message and "HTTP 401" in message and "***" in message
    shown = [message, repr(refused.value), "".join(traceback.format_exception(refused.value)),
             repr(generator), repr(vars(generator)), caplog.text]
    assert "retrying" in caplog.text  # the retry was logged, so the log check had something to look at
    assert all(SECRET not in text for text in shown)


def test_401_without_a_key_says_the_variable_is_not_set(server, make):
    server.replies = [json_reply({"error": {"message": "missing key"}}, status=401)]
    with pytest.raises(SmallragError, match=rf"\${KEY_ENV} \(it is not set\)"):
        make().generate("hello")
    assert len(server.received) == 1


# --- non-streaming answers ----------------------------------------------------------------------

def test_text_usage_finish_reason_and_timings(server, make):
    server.replies = [json_reply(completion("Paris is the capital.", finish="length",
                                            usage={"prompt_tokens": 21, "completion_tokens": 5, "total_tokens": 26}))]
    out = make().generate("Capital of France?")
    assert out.text == "Paris is the capital."
    assert out.model == "openai:mymodel"
    assert (out.prompt_tokens, out.completion_tokens, out.finish_reason) == (21, 5, "length")
    assert out.logprobs is None
    assert set(out.timings) == {"total", "tokens_per_second"}
    assert out.timings["total"] > 0
    assert out.timings["tokens_per_second"] == pytest.approx(5 / out.timings["total"])


def test_missing_usage_counts_zero_and_null_content_is_empty(server, make):
    payload = completion("x")
    payload["choices"][0]["message"]["content"] = None
    server.replies = [json_reply(payload)]
    out = make().generate("hello")
    assert (out.text, out.prompt_tokens, out.completion_tokens, out.finish_reason) == ("", 0, 0, "stop")


def test_logprobs_requested_only_when_asked_and_parsed(server, make):
    server.replies = [json_reply(completion("Hi there", logprobs=[("Hi", -0.25), (" there", -1.5)]))]
    out = make(logprobs=True).generate("hello")
    assert server.received[0]["body"]["logprobs"] is True
    assert out.logprobs == (-0.25, -1.5)
    make().generate("hello")
    assert "logprobs" not in server.received[1]["body"]


# --- streaming ------------------------------------------------------------------------------------

def test_stream_yields_deltas_in_order(server, make):
    lines = [": keep-alive\n", f"data: {chunk(role='assistant')}\n", "\n", f"data: {chunk('Par')}\n", "\n",
             f"data:{chunk('is')}\n", "\n",  # no space after the colon: legal SSE
             f"data: {chunk('.', finish='stop')}\n", "\n", 'data: {"choices": [], "usage": {"total_tokens": 3}}\n',
             "\n", "data: [DONE]\n", "\n"]
    server.replies = [sse_reply(lines)]
    deltas = list(make().stream("Capital of France?", max_tokens=9, seed=1))
    assert deltas == ["Par", "is", "."]
    body = server.received[0]["body"]
    assert body["stream"] is True and body["max_tokens"] == 9 and body["seed"] == 1


def test_stream_request_waits_for_iteration(server, make):
    server.replies = [sse_reply(events(chunk("a", finish="stop")))]
    iterator = make().stream("hello")
    assert server.received == []
    assert list(iterator) == ["a"]
    assert len(server.received) == 1


def test_stream_that_stalls_midway_raises_instead_of_hanging(server, make):
    server.replies = [sse_reply(events(chunk("one"), chunk(" two"), chunk(" three", finish="stop")), stall_after=2)]
    received: list[str] = []
    started = time.monotonic()
    with pytest.raises(SmallragError, match=r"no new chunk \(after 2 chunk\(s\)\) from .* within 0.5 s"):
        for delta in make(timeout=0.5).stream("hello"):
            received.append(delta)
    assert received == ["one", " two"]
    assert time.monotonic() - started < HANG_GUARD
    assert len(server.received) == 1  # a stream that has begun is never retried


def test_stream_closed_before_done_raises(server, make):
    server.replies = [sse_reply(events(chunk("half"), done=False))]
    with pytest.raises(SmallragError, match="ended after 1 chunk"):
        list(make().stream("hello"))


def test_stream_error_event_and_malformed_chunk(server, make):
    server.replies = [sse_reply(events(chunk("a"), json.dumps({"error": {"message": "model crashed"}}))),
                      sse_reply(events(chunk("a"), "{not json"))]
    generator = make()
    with pytest.raises(SmallragError, match="mid-stream: model crashed"):
        list(generator.stream("hello"))
    with pytest.raises(SmallragError, match=re.escape("not an OpenAI chat completion: '{not json'")):
        list(generator.stream("hello"))


def test_stream_retries_a_500_before_it_begins(server, make):
    server.replies = [json_reply({"error": {"message": "loading"}}, status=500),
                      sse_reply(events(chunk("ok", finish="stop")))]
    assert list(make().stream("hello")) == ["ok"]
    assert len(server.received) == 2


def test_stream_http_error_raises_at_first_next(server, make):
    server.replies = [json_reply({"detail": "Not Found"}, status=404)]
    iterator = make().stream("hello")
    with pytest.raises(SmallragError, match="HTTP 404 .*Not Found.*base_url"):
        next(iterator)


# --- retries and HTTP errors ----------------------------------------------------------------------

def test_retries_on_500_then_succeeds(server, make):
    server.replies = [json_reply({"error": {"message": "warming up"}}, status=500), json_reply(completion("ok"))]
    assert make().generate("hello").text == "ok"
    assert len(server.received) == 2
    assert server.received[0]["body"] == server.received[1]["body"]


def test_gives_up_after_max_retries(server, make):
    server.replies = [json_reply({"error": {"message": "out of memory"}}, status=500)]
    with pytest.raises(SmallragError, match="HTTP 500 after 3 attempt.*out of memory"):
        make(max_retries=2).generate("hello")
    assert len(server.received) == 3


def test_429_is_retried_honouring_retry_after(server, make):
    server.replies = [json_reply({"error": {"message": "slow down"}}, status=429, headers={"Retry-After": "0.3"}),
                      json_reply(completion("ok"))]
    started = time.monotonic()
    assert make(retry_backoff=0.0).generate("hello").text == "ok"
    assert time.monotonic() - started >= 0.3
    assert len(server.received) == 2


def test_no_retry_on_400(server, make):
    server.replies = [json_reply({"error": {"message": "max_tokens is too large"}}, status=400)]
    with pytest.raises(SmallragError, match=r"rejected the request \(HTTP 400\): max_tokens is too large"):
        make(max_retries=3).generate("hello")
    assert len(server.received) == 1


def test_404_names_base_url_and_model(server, make):
    server.replies = [raw_reply(b"404 page not found", status=404, content_type="text/plain")]
    with pytest.raises(SmallragError) as error:
        make().generate("hello")
    message = str(error.value)
    assert "HTTP 404" in message and server.base_url in message and "'mymodel'" in message
    assert "404 page not found" in message
    assert len(server.received) == 1


# --- timeouts and unreachable servers -----------------------------------------------------------

def test_slow_server_times_out_without_retrying(server, make):
    server.replies = [slow_reply(30, json_reply(completion("late")))]
    started = time.monotonic()
    with pytest.raises(SmallragError, match=r"no answer from http://127\.0\.0\.1:\d+/v1/chat/completions within 0.5 s"):
        make(timeout=0.5).generate("hello")
    assert time.monotonic() - started < HANG_GUARD
    assert len(server.received) == 1


def test_trickling_body_hits_the_total_deadline(server, make):
    # Every byte comes within the read timeout, so only the total deadline can stop this one.
    server.replies = [trickle_reply(json.dumps(completion("x" * 100)).encode(), every=0.2)]
    started = time.monotonic()
    with pytest.raises(SmallragError, match="no complete answer from .* within 0.5 s"):
        make(timeout=0.5).generate("hello")
    assert time.monotonic() - started < HANG_GUARD


def test_connection_refused_is_retried_then_explained():
    port = closed_port()
    with OpenAIGenerator("mymodel", f"http://127.0.0.1:{port}/v1", max_retries=1, retry_backoff=0.01) as generator:
        started = time.monotonic()
        with pytest.raises(SmallragError, match=rf"after 2 attempt.*is the server running at "
                                                rf"http://127\.0\.0\.1:{port}/v1\?"):
            generator.generate("hello")
        with pytest.raises(SmallragError, match="is the server running"):
            next(generator.stream("hello"))
    assert time.monotonic() - started < HANG_GUARD


# --- malformed answers --------------------------------------------------------------------------

@pytest.mark.parametrize("body, shown", [
    (b"<html><body>Welcome to nginx!</body></html>", "<html><body>Welcome to nginx!"),
    (json.dumps({"object": "list", "data": []}).encode(), '"object": "list"'),  # no choices
    (json.dumps({"choices": []}).encode(), '"choices": []'),
    (json.dumps({"choices": [{"text": "legacy completions"}]}).encode(), "legacy completions"),  # no message
    (b'{"choices": [{"message": {"content": "cut', b'{"choices": [{"message": {"content": "cut'.decode()),
])
def test_malformed_answers_are_explained(server, make, body, shown):
    server.replies = [raw_reply(body)]
    with pytest.raises(SmallragError, match="is not an OpenAI chat completion") as error:
        make().generate("hello")
    assert server.base_url in str(error.value) and shown in str(error.value)


def test_malformed_answer_shows_only_its_first_200_characters(server, make):
    server.replies = [raw_reply(b"y" * 5000, content_type="text/plain")]
    with pytest.raises(SmallragError) as error:
        make().generate("hello")
    assert "y" * 200 in str(error.value) and "y" * 201 not in str(error.value)


# --- factory ----------------------------------------------------------------------------------------

def test_factory_spec_builds_a_working_generator(server):
    server.replies = [json_reply(completion("from the factory"))]
    port = server.server_address[1]
    generator = make_generator(f"openai:mymodel@http://127.0.0.1:{port}/v1", timeout=2.0, api_key_env=KEY_ENV)
    try:
        assert isinstance(generator, OpenAIGenerator) and generator.name == "openai:mymodel"
        assert generator.generate("hello").text == "from the factory"
    finally:
        generator.close()
    assert server.received[0]["body"]["model"] == "mymodel"


def test_factory_imports_httpx_only_when_asked():
    code = ("import sys, smallrag.generators.factory as f; before = 'httpx' in sys.modules; "
            "f.make_generator('openai:m@http://127.0.0.1:9/v1'); print(before, 'httpx' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True"]
