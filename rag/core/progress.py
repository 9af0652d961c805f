"""Progress for long work, written once: a tqdm bar on a terminal, and where stderr is not a
terminal (a log file, `make demo`, CI) one plain line every `LINE_SECONDS`, so a 27-minute
build is never silent and a log never fills with carriage-return bar redraws. `enabled=False`
(the CLI's --quiet, or `progress=False` in the API) silences both."""

from __future__ import annotations

import sys
import time
from typing import Any, Iterable, Iterator, TypeVar

T = TypeVar("T")
LINE_SECONDS = 10.0


class LineProgress:
    """tqdm's update/close/context-manager surface, printing one line per LINE_SECONDS."""

    def __init__(self, total: int | None, desc: str, unit: str = "it", interval: float = LINE_SECONDS,
                 stream: Any = None, initial: int = 0) -> None:
        self.total, self.desc, self.unit, self.interval = total, desc, unit, interval
        self.stream = stream if stream is not None else sys.stderr
        self.n = initial
        self.postfix = ""
        self.started = self.last = time.monotonic()

    def set_postfix(self, refresh: bool = False, **values: Any) -> None:
        self.postfix = ", ".join(f"{key}={value}" for key, value in values.items())

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            self._line(now)

    def close(self) -> None:
        now = time.monotonic()
        if now - self.started >= self.interval:  # short work stays silent, long work says it ended
            self._line(now, done=True)

    def _line(self, now: float, done: bool = False) -> None:
        of = f"/{self.total}" if self.total is not None else ""
        share = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
        state = "done" if done else f"{now - self.started:.0f} s"
        try:
            extra = f" ({self.postfix})" if self.postfix else ""
            self.stream.write(f"{self.desc}: {self.n}{of} {self.unit}{share}, {state}{extra}\n")
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken stderr must not stop the work
            pass

    def __enter__(self) -> "LineProgress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _Silent:
    n = 0

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def set_postfix(self, refresh: bool = False, **values: Any) -> None:
        pass

    def __enter__(self) -> "_Silent":
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


def stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def progress_bar(total: int | None, desc: str, unit: str = "it", enabled: bool = True, initial: int = 0):
    """An object with update(n), close() and `with` support: tqdm on a terminal, LineProgress
    elsewhere, silent when not `enabled`. `initial` counts work already done (a resumed run)."""
    if not enabled:
        return _Silent()
    if stderr_is_terminal():
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, initial=initial)
    return LineProgress(total, desc, unit, initial=initial)


def track(items: Iterable[T], desc: str, unit: str = "it", enabled: bool = True,
          total: int | None = None) -> Iterator[T]:
    """`items`, advancing a progress_bar as they are consumed."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    bar = progress_bar(total, desc, unit, enabled)
    try:
        for item in items:
            yield item
            bar.update(1)
    finally:
        bar.close()
