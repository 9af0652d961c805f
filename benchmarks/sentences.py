"""Sentence splitting benchmark: smallrag's splitter before and after the abbreviation rules,
against pysbd (a maintained rule-based splitter, 0.3.4) on ~38 kB of real English prose.

Text: the first XQuAD-en paragraphs (Wikipedia), or HaluEval-QA knowledge passages (records
8,000+, the evaluation split), whole paragraphs joined by a blank line until `--kb` kB.
Figures:
- sentences found by each splitter;
- agreement with pysbd: boundary precision / recall / F1, a boundary being the character offset
  where a sentence starts after whitespace trimming. Paragraph starts are left out (every splitter
  finds them from the blank lines; counting them would only inflate agreement);
- speed: kB/s (UTF-8 kB), the median of `--runs` runs; a run of the fast splitters repeats the
  call until it lasts 0.2 s. On a shared machine speed is rough: read it as an order of magnitude.
The places where the new splitter and pysbd disagree are printed (stderr) for reading.

Ends with ONE JSON line holding every figure.

Usage:  python benchmarks/sentences.py [--data ../shared/data] [--source xquad|halueval] [--kb 38]
        [--runs 5] [--show 12]
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

from smallrag.core.sentences import sentence_spans

Spans = list[tuple[int, int]]
DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"

# ---- the splitter before the abbreviation rules, verbatim from `git show HEAD:rag/core/chunking.py`
# A sentence ends at . ! ? (plus closing quotes/brackets) followed by space, or at a blank line.
_SENTENCE_END = re.compile(r"(?<=[.!?])([\"')\]]*)\s+|\n\s*\n")


def old_sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character spans of the sentences of `text`, whitespace trimmed."""
    spans = []
    pos = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end(1) if match.group(1) is not None else match.start()  # keep closing quotes
        if text[pos:end].strip():
            spans.append((pos, end))
        pos = match.end()
    if text[pos:].strip():
        spans.append((pos, len(text)))
    return [_strip_span(text, s, e) for s, e in spans]


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
# ---- end of the verbatim copy


def load_text(data: Path, source: str, kb: float) -> tuple[str, list[int]]:
    """Whole paragraphs joined by a blank line up to `kb` kB, and the offsets where they start."""
    if source == "xquad":
        with open(data / "qa" / "xquad.en.json", encoding="utf-8") as fh:
            squad = json.load(fh)
        paragraphs = [p["context"] for article in squad["data"] for p in article["paragraphs"]]
    else:
        with open(data / "qa" / "halueval_qa.jsonl", encoding="utf-8") as fh:
            paragraphs = [json.loads(line)["knowledge"] for i, line in enumerate(fh) if i >= 8000]
    chosen: list[str] = []
    size = 0
    for paragraph in dict.fromkeys(p.strip() for p in paragraphs):  # unique, file order
        if size >= kb * 1000:
            break
        chosen.append(paragraph)
        size += len(paragraph.encode("utf-8")) + 2
    starts, offset = [], 0
    for paragraph in chosen:
        starts.append(offset)
        offset += len(paragraph) + 2
    return "\n\n".join(chosen), starts


def pysbd_splitter() -> Callable[[str], Spans]:
    import pysbd

    segmenter = pysbd.Segmenter(language="en", clean=False, char_span=True)

    def spans(text: str) -> Spans:
        return [_strip_span(text, span.start, span.end) for span in segmenter.segment(text)]
    return spans


def agreement(ours: Spans, reference: Spans, skip: set[int]) -> dict[str, float | int]:
    """Boundary precision / recall / F1 of `ours` against `reference` (sentence starts, `skip`
    left out)."""
    mine = {s for s, e in ours if e > s} - skip
    theirs = {s for s, e in reference if e > s} - skip
    both = len(mine & theirs)
    precision = both / len(mine) if mine else 1.0
    recall = both / len(theirs) if theirs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"boundaries": len(mine), "reference_boundaries": len(theirs), "agreed": both,
            "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def speed(split: Callable[[str], Spans], text: str, runs: int) -> float:
    """kB/s, median of `runs` runs; a run repeats the call until it lasts 0.2 s, so the fast
    splitters are not timed at the clock's resolution."""
    t0 = time.perf_counter()
    split(text)
    once = max(time.perf_counter() - t0, 1e-6)
    repeat = max(1, int(0.2 / once))
    rates = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for _ in range(repeat):
            split(text)
        seconds = (time.perf_counter() - t0) / repeat
        rates.append(len(text.encode("utf-8")) / 1000 / seconds)
    return round(statistics.median(rates), 1)


def disagreements(text: str, ours: Spans, reference: Spans, skip: set[int], show: int) -> list[str]:
    """A little context around each boundary only one of the two splitters found."""
    mine = {s for s, _ in ours} - skip
    theirs = {s for s, _ in reference} - skip
    lines = []
    only = [(o, "new only") for o in mine - theirs] + [(o, "pysbd only") for o in theirs - mine]
    for offset, who in sorted(only):
        left = text[max(0, offset - 40):offset].replace("\n", " ")
        right = text[offset:offset + 30].replace("\n", " ")
        lines.append(f"{who:>10} @{offset}: ...{left}|{right}...")
    return lines[:show]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="the shared data folder (default ../shared/data beside the repo)")
    parser.add_argument("--source", choices=("xquad", "halueval"), default="xquad")
    parser.add_argument("--kb", type=float, default=38.0, help="how much text, in kB")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per splitter (median kept)")
    parser.add_argument("--show", type=int, default=12, help="disagreements with pysbd to print")
    args = parser.parse_args(argv)

    text, paragraph_starts = load_text(args.data.resolve(), args.source, args.kb)
    skip = set(paragraph_starts)
    splitters: dict[str, Callable[[str], Spans]] = {
        "old": old_sentence_spans, "new": sentence_spans, "pysbd": pysbd_splitter()}
    found = {name: split(text) for name, split in splitters.items()}
    for name, spans in found.items():
        assert all(text[s:e] == text[s:e].strip() for s, e in spans), name

    kb = round(len(text.encode("utf-8")) / 1000, 1)
    print(f"{args.source}: {len(paragraph_starts)} paragraphs, {kb} kB", file=sys.stderr)
    vs_pysbd = {name: agreement(found[name], found["pysbd"], skip) for name in ("old", "new")}
    for name in ("old", "new", "pysbd"):
        line = f"{name:>6}: {len(found[name]):5d} sentences"
        if name in vs_pysbd:
            a = vs_pysbd[name]
            line += f"  vs pysbd P={a['precision']:.3f} R={a['recall']:.3f} F1={a['f1']:.3f}"
        print(line, file=sys.stderr)
    for line in disagreements(text, found["new"], found["pysbd"], skip, args.show):
        print(line, file=sys.stderr)

    rates = {name: speed(split, text, args.runs) for name, split in splitters.items()}
    for name, rate in rates.items():
        print(f"{name:>6}: {rate:,.0f} kB/s", file=sys.stderr)

    figures = {
        "benchmark": "sentences", "source": args.source, "kb": kb, "paragraphs": len(paragraph_starts),
        "sentences": {name: len(spans) for name, spans in found.items()},
        "vs_pysbd": vs_pysbd,
        "kb_per_s": rates, "runs": args.runs,
        "new_vs_pysbd_speedup": round(rates["new"] / rates["pysbd"], 1),
        "new_vs_old_speed": round(rates["new"] / rates["old"], 2),
        "python": platform.python_version(),
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
