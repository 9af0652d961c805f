"""Cancelling work that nobody waits for any more (a request that timed out, a client that left).

The caller runs the work inside `cancellable(event)`; the pipeline and the generator backends
call `check()` at their safe points (while queueing for the generator, between tokens) and
stop with `Cancelled` once the event is set. A context variable carries the event, so no
signature in between changes, and code run without one never pays for it."""

from __future__ import annotations

import contextlib
import threading
from contextvars import ContextVar
from typing import Iterator

from smallrag.core.errors import SmallragError

_CURRENT: ContextVar[threading.Event | None] = ContextVar("smallrag_cancel", default=None)


class Cancelled(SmallragError):
    """The work was cancelled by its caller before it finished."""


@contextlib.contextmanager
def cancellable(event: threading.Event) -> Iterator[threading.Event]:
    """Run the body so that setting `event` stops it at its next safe point."""
    token = _CURRENT.set(event)
    try:
        yield event
    finally:
        _CURRENT.reset(token)


def current() -> threading.Event | None:
    """The event of the enclosing `cancellable`, if any."""
    return _CURRENT.get()


def check() -> None:
    """Raise Cancelled if the enclosing `cancellable` event is set."""
    event = _CURRENT.get()
    if event is not None and event.is_set():
        raise Cancelled("cancelled: the request timed out or its client went away")


def acquire(lock: threading.Lock, poll: float = 0.05) -> None:
    """Take `lock`, giving up with Cancelled while waiting if the work is cancelled (a queued
    request that nobody waits for never reaches the generator)."""
    if _CURRENT.get() is None:
        lock.acquire()
        return
    while not lock.acquire(timeout=poll):
        check()
    try:
        check()
    except Cancelled:
        lock.release()
        raise


@contextlib.contextmanager
def holding(lock: threading.Lock) -> Iterator[None]:
    """`with lock:`, but a cancelled caller stops waiting (see `acquire`)."""
    acquire(lock)
    try:
        yield
    finally:
        lock.release()
