"""Progress: a bar on a terminal, a plain line every few seconds elsewhere, nothing when silenced."""

from __future__ import annotations

import io
import sys

from smallrag.core import progress


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_line_progress_prints_one_line_per_interval_and_a_final_line(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(progress.time, "monotonic", clock)
    out = io.StringIO()
    bar = progress.LineProgress(240, "encoding", "chunk", interval=10.0, stream=out)
    for _ in range(240):
        clock.now += 0.125  # 30 s in all
        bar.update()
    bar.close()
    lines = out.getvalue().splitlines()
    assert lines == ["encoding: 80/240 chunk (33%), 10 s", "encoding: 160/240 chunk (67%), 20 s",
                     "encoding: 240/240 chunk (100%), 30 s", "encoding: 240/240 chunk (100%), done"]


def test_short_work_prints_nothing(monkeypatch):
    out = io.StringIO()
    bar = progress.LineProgress(5, "x", stream=out)
    bar.update(5)
    bar.close()
    assert out.getvalue() == ""


def test_not_a_terminal_gets_lines_and_disabled_gets_nothing(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert isinstance(progress.progress_bar(3, "x"), progress.LineProgress)
    silent = progress.progress_bar(3, "x", enabled=False)
    assert not isinstance(silent, progress.LineProgress)
    assert list(progress.track([1, 2, 3], "x", enabled=False)) == [1, 2, 3]
    assert list(progress.track(iter([1, 2]), "x")) == [1, 2]
