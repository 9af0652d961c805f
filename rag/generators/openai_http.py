"""Generation through any OpenAI-compatible `/chat/completions` server (vLLM, llama.cpp server,
Ollama, a hosted API): for a model too large to run in-process.

The API key comes only from the environment variable named by `api_key_env`, is read at each
request and never stored, logged or shown in reprs and errors."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator, Mapping, Sequence

import httpx

from smallrag.core.checks import check_int, check_number, is_number
from smallrag.core import cancel
from smallrag.core.errors import SmallragError
from smallrag.generators.common import check_sampling, to_messages
from smallrag.core.protocols import Prompt
from smallrag.core.types import Generation

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Transport failures where the request surely did not produce an answer, so trying again is safe.
# A read timeout is not among them: the server is alive but slow, and a retry would re-run the
# same long generation.
RETRY_EXCEPTIONS = (httpx.NetworkError, httpx.ConnectTimeout, httpx.RemoteProtocolError)
SNIPPET_CHARS = 200


class OpenAIGenerator:
    """`base_url` is the API root, e.g. http://127.0.0.1:8080/v1. `timeout` bounds the wait for a
    whole answer (non-streaming) or for each chunk of a stream; `connect_timeout` the TCP connect.
    `max_retries` more attempts follow a connection error or HTTP 429/5xx, `retry_backoff` seconds
    apart, doubling each time. Nothing touches the network until the first request."""

    def __init__(self, model: str, base_url: str, *, api_key_env: str = "OPENAI_API_KEY", timeout: float = 60.0,
                 connect_timeout: float = 5.0, max_retries: int = 2, context_window: int | None = None,
                 extra_headers: Mapping[str, str] | None = None, logprobs: bool = False,
                 retry_backoff: float = 0.5) -> None:
        if not isinstance(model, str) or not model.strip():
            raise SmallragError(f"model {model!r} is empty; pass the model name the server serves")
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise SmallragError(f"base_url {base_url!r} must start with http:// or https://, "
                                "e.g. http://127.0.0.1:8080/v1")
        if not isinstance(api_key_env, str) or not api_key_env:
            raise SmallragError(f"api_key_env {api_key_env!r} must name an environment variable")
        for label, value in (("timeout", timeout), ("connect_timeout", connect_timeout)):
            if not is_number(value) or not value > 0:  # not check_number: inf has always been accepted
                raise SmallragError(f"{label} must be a positive number of seconds, got {value!r}")
        check_int("max_retries", max_retries, minimum=0, expected="an integer >= 0")
        check_number("retry_backoff", retry_backoff, minimum=0, expected="a number of seconds >= 0")
        check_int("context_window", context_window, minimum=1, optional=True, expected="a positive integer or None")
        headers = dict(extra_headers) if extra_headers is not None else {}
        if any(k.lower() == "authorization" for k in headers):
            # One way in for the key keeps it out of configs, reprs and logs.
            raise SmallragError(f"do not pass an Authorization header in extra_headers; put the key in "
                                f"${api_key_env} (or name another variable with api_key_env=)")
        self.model = model
        self.base_url = base_url.rstrip("/")
        if self.base_url.endswith("/chat/completions"):  # a full endpoint URL pasted as the root
            self.base_url = self.base_url[: -len("/chat/completions")]
        self.url = self.base_url + "/chat/completions"
        try:
            host = httpx.URL(self.url).host
        except httpx.InvalidURL:
            host = ""
        if not host:
            raise SmallragError(f"base_url {base_url!r} is not a valid URL; write e.g. http://127.0.0.1:8080/v1")
        self.api_key_env = api_key_env
        self.timeout = float(timeout)
        self.connect_timeout = float(connect_timeout)
        self.max_retries = max_retries
        self.retry_backoff = float(retry_backoff)
        self.context_window = context_window
        self.extra_headers = headers
        self.logprobs = logprobs
        self.name = f"openai:{model}"
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()

    def __repr__(self) -> str:
        return (f"OpenAIGenerator(model={self.model!r}, base_url={self.base_url!r}, "
                f"api_key_env={self.api_key_env!r})")

    def close(self) -> None:
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def __enter__(self) -> "OpenAIGenerator":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    @property
    def client(self) -> httpx.Client:
        with self._client_lock:
            if self._client is None:
                self._client = httpx.Client(timeout=httpx.Timeout(self.timeout, connect=self.connect_timeout))
            return self._client

    def _api_key(self) -> str | None:
        key = os.environ.get(self.api_key_env, "").strip()
        return key if key else None

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", **self.extra_headers}
        key = self._api_key()
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _redact(self, text: str) -> str:
        key = self._api_key()
        return text.replace(key, "***") if key is not None else text

    def _body(self, prompt: Prompt, max_tokens: int, temperature: float, stop: Sequence[str] | None,
              seed: int | None, stream: bool) -> dict[str, Any]:
        check_sampling(max_tokens, temperature, stop)
        body: dict[str, Any] = {"model": self.model, "messages": to_messages(prompt), "max_tokens": max_tokens,
                                "temperature": temperature, "stream": stream}
        # Left out rather than sent as null: some servers reject null for these.
        if stop is not None:
            body["stop"] = list(stop)
        if seed is not None:
            body["seed"] = seed
        if self.logprobs:
            body["logprobs"] = True
        return body

    # --- errors -------------------------------------------------------------------------------

    def _snippet(self, text: str) -> str:
        return self._redact(text[:SNIPPET_CHARS])

    def _not_a_completion(self, text: str) -> SmallragError:
        return SmallragError(f"the server at {self.url} returned a response that is not an OpenAI chat "
                             f"completion: {self._snippet(text)!r}")

    def _timeout_error(self, what: str = "no answer") -> SmallragError:
        return SmallragError(f"{what} from {self.url} within {self.timeout:g} s; the server may be overloaded "
                             "or the model too slow: raise timeout= or ask for fewer max_tokens")

    def _server_message(self, response: httpx.Response) -> str:
        """The server's own explanation: OpenAI's {"error": {"message"}}, FastAPI's {"detail"}, or raw text."""
        try:
            payload = response.json()
        except ValueError:
            return self._snippet(response.text.strip())
        if isinstance(payload, dict):
            error = payload.get("error", payload.get("detail"))
            if isinstance(error, dict) and isinstance(error.get("message"), str):
                return self._snippet(error["message"])
            if isinstance(error, str):
                return self._snippet(error)
        return self._snippet(response.text.strip())

    def _status_error(self, status: int, message: str, attempts: int) -> SmallragError:
        said = f": {message}" if message else ""
        if status in (401, 403):
            key_state = "is set" if self._api_key() is not None else "is not set"
            return SmallragError(f"the server at {self.url} refused the request (HTTP {status}){said}. "
                                 f"Check the API key in ${self.api_key_env} (it {key_state})")
        if status == 404:
            return SmallragError(f"HTTP 404 from {self.url}{said}. Either base_url {self.base_url!r} is wrong "
                                 f"(it usually ends in /v1) or the server has no model {self.model!r}")
        if status == 429:
            return SmallragError(f"the server at {self.url} is still rate-limiting (HTTP 429) after {attempts} "
                                 f"attempt(s){said}. Wait, lower the request rate or raise max_retries")
        if status >= 500:
            return SmallragError(f"the server at {self.url} failed with HTTP {status} after {attempts} "
                                 f"attempt(s){said}. Check the server's log")
        return SmallragError(f"the server at {self.url} rejected the request (HTTP {status}){said}")

    # --- transport ----------------------------------------------------------------------------

    def _send(self, body: dict[str, Any]) -> httpx.Response:
        """An open, streamed HTTP 200 response (the caller closes it), after retries."""
        client = self.client
        attempts = self.max_retries + 1
        for attempt in range(1, attempts + 1):
            logger.debug("POST %s model=%s stream=%s attempt %d/%d", self.url, self.model, body["stream"],
                         attempt, attempts)
            retry_after: float | None = None
            try:
                request = client.build_request("POST", self.url, json=body, headers=self._headers())
                response = client.send(request, stream=True)
            except RETRY_EXCEPTIONS as exc:
                failure = SmallragError(f"cannot reach the server at {self.url} after {attempt} attempt(s): "
                                        f"is the server running at {self.base_url}? ({self._redact(str(exc))})")
            except httpx.TimeoutException:
                raise self._timeout_error() from None
            except httpx.HTTPError as exc:
                raise SmallragError(f"the request to {self.url} failed: {self._redact(str(exc))}") from None
            else:
                if response.status_code == 200:
                    return response
                with self._reading(response, f"the server at {self.url} answered HTTP {response.status_code} "
                                             "and then broke the connection"):
                    response.read()
                failure = self._status_error(response.status_code, self._server_message(response), attempt)
                if response.status_code not in RETRY_STATUSES:
                    raise failure
                retry_after = _seconds(response.headers.get("retry-after"))
            if attempt == attempts:
                raise failure
            delay = self.retry_backoff * 2 ** (attempt - 1)
            if retry_after is not None:
                delay = max(delay, min(retry_after, self.timeout))  # honoured, but never past our own patience
            logger.warning("%s; retrying in %.2f s", failure, delay)
            time.sleep(delay)
        raise AssertionError("unreachable")  # the loop always returns or raises

    @contextmanager
    def _reading(self, response: httpx.Response, broke: str) -> Iterator[None]:
        """While reading `response`: a timeout or a broken connection becomes a SmallragError
        (`broke` says what happened); the response is closed after, whatever happens."""
        try:
            yield
        except httpx.TimeoutException:
            raise self._timeout_error() from None
        except httpx.HTTPError as exc:
            raise SmallragError(f"{broke}: {self._redact(str(exc))}") from None
        finally:
            response.close()

    def _read_whole(self, response: httpx.Response) -> str:
        """The body, within `timeout` seconds in total: a server trickling bytes cannot stall us."""
        deadline = time.monotonic() + self.timeout
        parts: list[bytes] = []
        with self._reading(response, f"the connection to {self.url} broke while reading the answer"):
            for part in response.iter_bytes():
                parts.append(part)
                if time.monotonic() > deadline:
                    raise self._timeout_error("no complete answer")
        return b"".join(parts).decode(response.encoding if response.encoding is not None else "utf-8",
                                      errors="replace")

    # --- the Generator protocol ---------------------------------------------------------------

    def generate(self, prompt: Prompt, *, max_tokens: int = 256, temperature: float = 0.0,
                 stop: Sequence[str] | None = None, seed: int | None = None) -> Generation:
        body = self._body(prompt, max_tokens, temperature, stop, seed, stream=False)
        cancel.check()  # one HTTP call cannot be stopped half-way: a cancelled request never sends it
        started = time.perf_counter()
        text = self._read_whole(self._send(body))
        elapsed = time.perf_counter() - started
        try:
            payload = json.loads(text)
            choice = payload["choices"][0]
            content = choice["message"].get("content")
            usage = payload.get("usage")
            usage = usage if isinstance(usage, dict) else {}
            prompt_tokens = int(usage.get("prompt_tokens") or 0)
            completion_tokens = int(usage.get("completion_tokens") or 0)
            token_logprobs = (choice.get("logprobs") or {}).get("content")
            logprobs = (tuple(float(t["logprob"]) for t in token_logprobs)
                        if isinstance(token_logprobs, list) else None)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            raise self._not_a_completion(text) from None
        if content is not None and not isinstance(content, str):
            raise self._not_a_completion(text)
        return Generation(
            text=content if content is not None else "",
            model=self.name,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            finish_reason=choice.get("finish_reason"),
            logprobs=logprobs,
            timings={"total": elapsed, "tokens_per_second": completion_tokens / elapsed if elapsed > 0 else 0.0},
        )

    def stream(self, prompt: Prompt, *, max_tokens: int = 256, temperature: float = 0.0,
               stop: Sequence[str] | None = None, seed: int | None = None) -> Iterator[str]:
        # Bad input raises here, at the call; the request waits for the first next().
        body = self._body(prompt, max_tokens, temperature, stop, seed, stream=True)
        return self._stream(body)

    def _stream(self, body: dict[str, Any]) -> Iterator[str]:
        response = self._send(body)
        chunks = 0
        finished = False
        try:
            for line in response.iter_lines():
                # Blank lines separate events; ':' lines are keep-alive comments; event:/id: are unused.
                if not line.startswith("data:"):
                    continue
                data = line[len("data:"):].strip()
                if data == "[DONE]":
                    return
                try:
                    event = json.loads(data)
                except ValueError:
                    raise self._not_a_completion(data) from None
                if not isinstance(event, dict):
                    raise self._not_a_completion(data)
                if "error" in event:
                    error = event["error"]
                    message = error.get("message") if isinstance(error, dict) else error
                    raise SmallragError(f"the server at {self.url} reported an error mid-stream: "
                                        f"{self._snippet(str(message))}")
                choices = event.get("choices")
                if not isinstance(choices, list):
                    raise self._not_a_completion(data)
                if not choices:  # e.g. a final usage-only chunk
                    continue
                choice = choices[0]
                delta = choice.get("delta") if isinstance(choice, dict) else None
                if not isinstance(delta, dict):
                    raise self._not_a_completion(data)
                finished = finished or choice.get("finish_reason") is not None
                content = delta.get("content")
                if isinstance(content, str) and content:
                    cancel.check()  # leaving the with-block closes the connection: the server stops too
                    chunks += 1
                    yield content
        except httpx.TimeoutException:
            raise self._timeout_error(f"no new chunk (after {chunks} chunk(s))") from None
        except httpx.HTTPError as exc:
            raise SmallragError(f"the stream from {self.url} broke after {chunks} chunk(s): "
                                f"{self._redact(str(exc))}") from None
        finally:
            response.close()
        if not finished:
            raise SmallragError(f"the stream from {self.url} ended after {chunks} chunk(s) without a finish_reason "
                                "or 'data: [DONE]': the server closed the connection early or does not speak "
                                f"OpenAI server-sent events (content-type {response.headers.get('content-type')!r})")


def _seconds(value: str | None) -> float | None:
    """A Retry-After header given in seconds; the HTTP-date form is rare enough to ignore."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
