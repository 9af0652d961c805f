"""`smallrag serve`: an HTTP JSON API over a RAG pipeline (FastAPI app, run by uvicorn).

    POST /ask     {"question": str, "k"?: int, "history"?: [{"role", "content"}],
                   "filters"?: {key: value | [values]}, "stream"?: bool}
                  -> the `smallrag ask --json` object (Answer.to_json()); with "stream": true,
                  server-sent events: `delta` {"delta": str} ..., then `answer` {the object},
                  or `error` {"error": str, "status": int} if it fails once streaming has begun.
    GET  /health  -> {"status": "ok", "generator", "retriever", "chunks", "version", "limits", "queue"}
    GET  /        -> the web page (rag/page.html): ask, watch the answer stream in, check each
                  claim's verdict and the evidence span in its source

Every error is JSON {"error": message}: 400 bad request (the message names the field and the
fix), 413 body over `max_request_bytes`, 415 a body that is not `application/json`, 408 body
not received in time, 503 queue full (with Retry-After), 500 internal (the traceback goes to the
log, never to the client), 504 answer not ready within `request_timeout`.

The pipeline is synchronous, so it runs in worker threads and the event loop stays free for
other requests; the RAG's own lock queues them for the generator. At most `max_queue` requests
wait behind the one being answered: past that a request gets 503 at once, with a Retry-After
estimated from recent answer times, instead of waiting into a timeout. A request that times out
or whose client leaves is cancelled (smallrag.core.cancel): if it is still queued it never
reaches the generator, and if it is generating it stops at its next token, freeing the
generator for the next request. Each request is logged in one line (method, path, status,
seconds), never with its body.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Iterator, Sequence

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from smallrag.conversation import check_history
from smallrag.core.cancel import Cancelled, cancellable
from smallrag.core.checks import check_int, check_number, is_int
from smallrag.core.errors import SmallragError
from smallrag.core.types import Answer
from smallrag.core.version import __version__

logger = logging.getLogger(__name__)
access_log = logging.getLogger(__name__ + ".access")

DEFAULT_MAX_K = 50
DEFAULT_MAX_REQUEST_BYTES = 64_000
DEFAULT_REQUEST_TIMEOUT = 300.0  # seconds, from the first byte of the body to the last byte of the answer
# Requests that may wait behind the one being answered. With the default generator (about 7 s an
# answer on 2 cores) 16 waiting requests finish well inside the default request_timeout.
DEFAULT_MAX_QUEUE = 16
POLL_SECONDS = 0.25  # how often a waiting request checks its deadline and its client
GRACEFUL_SHUTDOWN_SECONDS = 10
ASK_FIELDS = ("question", "k", "history", "filters", "stream")
INTERNAL_ERROR = "internal server error; the server log has the details"
_SCALARS = (str, int, float, bool, type(None))

ASK_SCHEMA = {  # for /openapi.json only: the handler validates the body itself, to word its own errors
    "type": "object",
    "required": ["question"],
    "additionalProperties": False,
    "properties": {
        "question": {"type": "string", "minLength": 1},
        "k": {"type": "integer", "minimum": 1},
        "history": {"type": "array", "items": {"type": "object", "required": ["role", "content"], "properties": {
            "role": {"enum": ["user", "assistant"]}, "content": {"type": "string"}}}},
        "filters": {"type": "object"},
        "stream": {"type": "boolean", "default": False},
    },
}


class RequestError(Exception):
    """A request the server refuses; `status` is its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class AskRequest:
    question: str
    k: int | None
    history: list[dict[str, str]] | None
    filters: dict[str, Any] | None
    stream: bool


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


# -- request body ---------------------------------------------------------------------------

async def _read_body(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise RequestError(400, f"Content-Length {declared!r} is not a whole number")
        if int(declared) > max_bytes:
            raise RequestError(413, _too_large(int(declared), max_bytes))
    body = bytearray()
    # Counted as it arrives too: a chunked body declares no length.
    async for part in request.stream():
        body += part
        if len(body) > max_bytes:
            raise RequestError(413, _too_large(None, max_bytes))
    return bytes(body)


def _too_large(size: int | None, max_bytes: int) -> str:
    got = f"{size} bytes" if size is not None else "more than that"
    return (f"the request body is {got}, over the server's limit of max_request_bytes={max_bytes}; "
            "send a shorter question or history, or restart the server with a larger --max-request-bytes")


def parse_ask(body: bytes, *, max_k: int) -> AskRequest:
    """The checked request, or RequestError(400) naming the offending field and the fix."""
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise RequestError(400, "the request body is not UTF-8 text; send UTF-8 encoded JSON") from None
    except json.JSONDecodeError as exc:
        raise RequestError(400, f"the request body is not valid JSON ({exc.msg} at line {exc.lineno} column "
                                f"{exc.colno}); send an object like {{\"question\": \"...\"}}") from None
    except RecursionError:
        raise RequestError(400, "the request body is JSON nested too deeply; send an object like "
                                "{\"question\": \"...\"}") from None
    except ValueError as exc:  # e.g. an integer of over 4,300 digits
        raise RequestError(400, f"the request body is not usable JSON ({exc})") from None
    try:  # "\\ud800" decodes to a lone surrogate, which no tokenizer or log can take
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise RequestError(400, "the request body holds a lone surrogate escape (such as \"\\ud800\"), which is "
                                "not text; send valid Unicode") from None
    if not isinstance(data, dict):
        raise RequestError(400, f"the request body must be a JSON object like {{\"question\": \"...\"}}, "
                                f"got a JSON {_json_type(data)}")
    unknown = sorted(set(data) - set(ASK_FIELDS))
    if unknown:
        raise RequestError(400, f"unknown field(s) {unknown}; the accepted fields are {list(ASK_FIELDS)}")
    return AskRequest(question=_question(data.get("question")), k=_k(data.get("k"), max_k),
                      history=_history(data.get("history")), filters=_filters(data.get("filters")),
                      stream=_stream(data.get("stream")))


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return names.get(type(value), "null")


def _question(value: Any) -> str:
    if value is None:
        raise RequestError(400, "the field \"question\" is missing; send {\"question\": \"...\"}")
    if not isinstance(value, str):
        raise RequestError(400, f"\"question\" must be a string, got a JSON {_json_type(value)} ({value!r})")
    if not value.strip():
        raise RequestError(400, f"\"question\" is empty ({value!r}); send some text to answer")
    return value


def _k(value: Any, max_k: int) -> int | None:
    if value is None:
        return None
    if not is_int(value) or not 1 <= value <= max_k:
        raise RequestError(400, f"\"k\" must be a whole number from 1 to {max_k} (the server's max_k), "
                                f"got {value!r}")
    return value


def _history(value: Any) -> list[dict[str, str]] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise RequestError(400, f"\"history\" must be a JSON array of {{\"role\", \"content\"}} turns, "
                                f"got a JSON {_json_type(value)}")
    try:
        return check_history(value)
    except SmallragError as exc:
        raise RequestError(400, f"\"history\": {exc}") from None


def _filters(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise RequestError(400, f"\"filters\" must be a JSON object of field -> value or [values], "
                                f"got a JSON {_json_type(value)}")
    for key, wanted in value.items():
        values = wanted if isinstance(wanted, list) else [wanted]
        if not all(isinstance(v, _SCALARS) for v in values):
            raise RequestError(400, f"filter {key!r} must be a string, number, boolean or null, or an array of "
                                    f"them, got {wanted!r}")
    return value


def _stream(value: Any) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise RequestError(400, f"\"stream\" must be true or false, got {value!r}")
    return value


# -- streaming ------------------------------------------------------------------------------

def sse_event(event: str, data: dict[str, Any]) -> str:
    # json.dumps escapes newlines, so the data always fits on one `data:` line.
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


class _Relay:
    """Runs a synchronous iterator in a worker thread and hands its items to the event loop.

    One thread consumes the whole iterator so that it can also close it: RAG.stream holds
    the generator lock between its yields, and only closing the stream releases it early."""

    def __init__(self, items: Iterator[Any], loop: asyncio.AbstractEventLoop) -> None:
        self.items = items
        self.loop = loop
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.stop = threading.Event()  # set by the loop when nobody wants more items

    def run(self) -> None:
        try:
            with cancellable(self.stop):  # a stop also cancels the generation it is waiting on
                if not self.stop.is_set():
                    for item in self.items:
                        self._put("item", item)
                        if self.stop.is_set():
                            break
        except Cancelled:
            pass  # nobody is listening any more
        except BaseException as exc:  # handed to the loop, which reports it
            self._put("error", exc)
        finally:
            close = getattr(self.items, "close", None)
            try:
                if close is not None:
                    close()
            except Exception:  # the answer (or its error) is already on its way; only the log can know
                logger.exception("closing an answer stream failed")
            self._put("end", None)

    def _put(self, kind: str, value: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, (kind, value))
        except RuntimeError:  # the loop has closed: the server is gone, nobody is listening
            pass


class _EventStream(StreamingResponse):
    """A StreamingResponse that stops its relay however the response ends (done, error or
    client gone), so an abandoned stream frees the generator at its next token."""

    def __init__(self, content: AsyncIterator[str], relay: _Relay) -> None:
        super().__init__(content, media_type="text/event-stream",
                         headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self.relay = relay

    async def stream_response(self, send) -> None:
        try:
            await super().stream_response(send)
        finally:
            self.relay.stop.set()


async def _events(relay: _Relay, deadline: float, timeout: float) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    try:
        while True:
            try:
                kind, value = await asyncio.wait_for(relay.queue.get(), max(0.0, deadline - loop.time()))
            except asyncio.TimeoutError:
                logger.warning("a streamed answer took longer than request_timeout=%s s; stopped", timeout)
                yield sse_event("error", {"error": _timeout_message(timeout), "status": 504})
                return
            if kind == "item" and isinstance(value, Answer):
                yield sse_event("answer", value.to_json())
                return
            if kind == "item":
                yield sse_event("delta", {"delta": value})
                continue
            ended = RuntimeError("the answer stream ended without an Answer")
            status, message = _failure(value if kind == "error" else ended)
            yield sse_event("error", {"error": message, "status": status})
            return
    finally:
        relay.stop.set()


# -- the app --------------------------------------------------------------------------------

def _timeout_message(timeout: float) -> str:
    return (f"no answer within the server's request_timeout of {timeout:g} s; the server is busy or the "
            "generation is slow: retry later, or restart the server with a longer request_timeout")


def _failure(exc: BaseException) -> tuple[int, str]:
    """The status and client message for an exception from the pipeline; unexpected ones are logged."""
    if isinstance(exc, SmallragError):
        return 400, str(exc)
    logger.error("answering failed", exc_info=(type(exc), exc, exc.__traceback__))
    return 500, INTERNAL_ERROR


def _chunk_count(retriever: Any) -> int | None:
    chunks = getattr(getattr(retriever, "index", None), "chunks", None)
    if chunks is not None:
        return len(chunks)
    for inner in getattr(retriever, "retrievers", ()):  # hybrid: its parts share one index
        count = _chunk_count(inner)
        if count is not None:
            return count
    return None


class _Admission:
    """Counts the requests in the building (answering or queued) and estimates the wait."""

    def __init__(self, max_queue: int) -> None:
        self.max_queue = max_queue
        self.active = 0
        self.recent: collections.deque[float] = collections.deque(maxlen=20)  # seconds of recent answers

    def admit(self) -> bool:
        if self.active > self.max_queue:  # one answering plus max_queue waiting
            return False
        self.active += 1
        return True

    def release(self, seconds: float | None) -> None:
        self.active -= 1
        if seconds is not None:
            self.recent.append(seconds)

    def retry_after(self) -> int:
        """Seconds until the queue has room, about: what is in the building, at the recent pace
        (answers overlap in the queue, so their mean time is already a wait, not a service time)."""
        if not self.recent:
            return 5
        return max(1, math.ceil(sum(self.recent) / len(self.recent)))


class _AccessLog:
    """One log line per request: method, path, status, seconds; never the body (questions and
    history may be private). Plain ASGI, so it leaves the request's disconnect signal alone."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), [0]

        async def sending(message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            access_log.info("%s %s %d %.3fs", scope["method"], _printable(scope["path"]), status[0] or 500,
                            time.perf_counter() - started)


def _page() -> tuple[str, str]:
    """The web page (one self-contained file in the package) and its Content-Security-Policy."""
    import base64
    import hashlib
    import re
    from importlib import resources

    page = resources.files("smallrag").joinpath("page.html").read_text(encoding="utf-8")
    scripts = re.findall(r"<script>(.*?)</script>", page, re.DOTALL)
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in scripts)
    policy = (f"default-src 'none'; script-src {hashes}; style-src 'unsafe-inline'; connect-src 'self'; "
              "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    return page, policy


def _printable(text: str) -> str:
    """A decoded path with control characters escaped: "/%0aPOST /ask 200" must not forge a line."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")


def _allowed_hosts(host: str) -> list[str]:
    """Host headers the app answers: this machine's names, plus the interface it was bound to.
    Answering any Host would let a web page the user visits reach it by DNS rebinding."""
    if host in ("0.0.0.0", "::", ""):
        return ["*"]  # bound to every interface on purpose: the operator decides who reaches it
    return list(dict.fromkeys([*LOCAL_HOSTS, host]))


def _content_type_ok(request: Request) -> bool:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media == "application/json"


def create_app(rag, *, max_k: int = DEFAULT_MAX_K, max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
               request_timeout: float = DEFAULT_REQUEST_TIMEOUT, max_queue: int = DEFAULT_MAX_QUEUE,
               allowed_hosts: Sequence[str] = LOCAL_HOSTS) -> FastAPI:
    """The FastAPI app answering over `rag` (a smallrag.pipeline.RAG); see the module doc for the API."""
    check_int("max_k", max_k, minimum=1, expected="a positive integer")
    check_int("max_request_bytes", max_request_bytes, minimum=1, expected="a positive integer")
    check_number("request_timeout", request_timeout, above=0, expected="a positive number of seconds")
    check_int("max_queue", max_queue, minimum=0, expected="a whole number >= 0")
    # The interactive docs pages load their scripts from a CDN, which an offline server cannot reach.
    app = FastAPI(title="smallrag", version=__version__, docs_url=None, redoc_url=None)
    limits = {"max_k": max_k, "max_request_bytes": max_request_bytes, "request_timeout": request_timeout,
              "max_queue": max_queue}
    admission = _Admission(max_queue)

    from starlette.middleware.trustedhost import TrustedHostMiddleware

    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    app.add_middleware(_AccessLog)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        logger.error("request failed", exc_info=(type(exc), exc, exc.__traceback__))
        return JSONResponse({"error": INTERNAL_ERROR}, status_code=500)  # JSON, never a traceback

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    page, policy = _page()

    @app.get("/", response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        # The page may talk only to this server and run only its own script (by hash), so text
        # from documents could not run or send anything even if it reached the page as HTML.
        return HTMLResponse(page, headers={"Content-Security-Policy": policy, "X-Content-Type-Options": "nosniff",
                                           "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"})

    @app.get("/health")
    async def health() -> JSONResponse:
        return JSONResponse({"status": "ok", "generator": rag.generator.name,
                             "retriever": getattr(rag.retriever, "name", type(rag.retriever).__name__),
                             "chunks": _chunk_count(rag.retriever), "version": __version__, "limits": limits,
                             "queue": max(0, admission.active - 1)})

    @app.post("/ask", openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": ASK_SCHEMA}}}})
    async def ask(request: Request):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + request_timeout
        if not _content_type_ok(request):
            # also what keeps other web pages out: a cross-site form or fetch cannot send JSON unasked
            return _error(415, f"send the body as JSON with Content-Type: application/json (got "
                               f"{request.headers.get('content-type') or 'none'!r})")
        try:
            body = await asyncio.wait_for(_read_body(request, max_request_bytes), request_timeout)
            query = parse_ask(body, max_k=max_k)
        except asyncio.TimeoutError:
            return _error(408, f"the request body did not arrive within request_timeout={request_timeout:g} s")
        except RequestError as exc:
            return _error(exc.status, exc.message)
        if not admission.admit():
            wait = admission.retry_after()
            return JSONResponse({"error": f"the server is busy ({admission.active} requests in progress, "
                                          f"max_queue={max_queue}); retry in about {wait} s"},
                                status_code=503, headers={"Retry-After": str(wait)})
        options = {"history": query.history, "k": query.k, "filters": query.filters}
        if query.stream:
            return _stream_answer(rag, query, options, loop, deadline, request_timeout, admission)
        return await _whole_answer(rag, query, options, request, loop, deadline, request_timeout, admission)

    return app


def _stream_answer(rag, query: AskRequest, options: dict[str, Any], loop: asyncio.AbstractEventLoop,
                   deadline: float, timeout: float, admission: _Admission) -> StreamingResponse:
    relay = _Relay(rag.stream(query.question, **options), loop)
    started = time.perf_counter()

    def run() -> None:
        try:
            relay.run()
        finally:
            loop.call_soon_threadsafe(admission.release, time.perf_counter() - started)

    loop.run_in_executor(None, run)
    return _EventStream(_events(relay, deadline, timeout), relay)


async def _whole_answer(rag, query: AskRequest, options: dict[str, Any], request: Request,
                        loop: asyncio.AbstractEventLoop, deadline: float, timeout: float,
                        admission: _Admission) -> JSONResponse:
    cancel = threading.Event()
    started = time.perf_counter()

    def work() -> Answer:
        with cancellable(cancel):
            return rag.ask(query.question, **options)

    task = asyncio.ensure_future(asyncio.to_thread(work))

    def finished(done: asyncio.Future) -> None:
        cancelled = done.cancelled() or isinstance(done.exception(), Cancelled)
        admission.release(None if cancelled else time.perf_counter() - started)

    task.add_done_callback(finished)  # the worker holds its place until it has really stopped
    while True:
        remaining = deadline - loop.time()
        done, _ = await asyncio.wait({task}, timeout=max(0.0, min(POLL_SECONDS, remaining)))
        if done:
            break
        if loop.time() >= deadline:
            cancel.set()
            logger.warning("an answer took longer than request_timeout=%s s; cancelled", timeout)
            return _error(504, _timeout_message(timeout))
        if await request.is_disconnected():
            cancel.set()
            logger.info("the client left before its answer was ready; cancelled")
            return _error(499, "client closed the request")  # nobody reads it: for the log line
    try:
        answer = task.result()
    except Exception as exc:
        return _error(*_failure(exc))
    return JSONResponse(answer.to_json())


def serve(rag, host: str = "127.0.0.1", port: int = 8000, max_k: int = DEFAULT_MAX_K,
          max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
          request_timeout: float = DEFAULT_REQUEST_TIMEOUT, max_queue: int = DEFAULT_MAX_QUEUE) -> None:
    """Serve `rag` over HTTP until interrupted (uvicorn, one process, log level warning; our own
    one-line access log at info)."""
    check_int("port", port, minimum=0, maximum=65535)
    app = create_app(rag, max_k=max_k, max_request_bytes=max_request_bytes, request_timeout=request_timeout,
                     max_queue=max_queue, allowed_hosts=_allowed_hosts(host))
    import uvicorn

    if not access_log.level:
        access_log.setLevel(logging.INFO)
    logger.info("serving %s on http://%s:%d", rag.generator.name, host, port)
    # Open streams get GRACEFUL_SHUTDOWN_SECONDS to end on Ctrl-C, then they are cut (which frees the generator).
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
                access_log=False)
