"""One line of `results.jsonl` per example: the answer, its scores and what it cost; and the
append-only file that holds them, written so an interrupted run loses nothing.

Each record is appended with one write, flushed and fsync'ed before the next example starts.
A kill can therefore only leave the *last* line incomplete (no trailing newline): `read_results`
drops such a line, truncating the file back to the last complete record, and that example is
answered again. Any other unreadable line is an error naming the file and line.
"""

from __future__ import annotations

import json
import logging
import os
import re
import resource
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from smallrag.core.errors import SmallragError
from smallrag.core.jsonl import parse_json_line
from smallrag.eval.datasets import EvalExample

logger = logging.getLogger(__name__)

RESULTS_FILE = "results.jsonl"
# `correct` (the reliability diagram's truth) is answer containment: the normalised gold answer
# stands in the normalised answer. Token F1 >= 0.5, used before, marked "... is 128." wrong.
CORRECT_BY = "contains"
NLI_CORRECT = 0.5  # nli_correct: P(answer entails the gold answer, read with its question) >= this
_CITATION_MARKS = re.compile(r"\s*\[\d+(?:\s*,\s*\d+)*\]")


def strip_citation_marks(text: str) -> str:
    """The answer without its [n] markers, as scored against gold answers."""
    return _CITATION_MARKS.sub("", text).strip()


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (ru_maxrss is KiB on Linux, bytes on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def _compact_answer(answer) -> dict[str, Any]:
    """Answer.to_json without the chunk texts (they are in the index; results stay small)."""
    data = answer.to_json()
    data["hits"] = [{k: v for k, v in h.items() if k != "text"} for h in data["hits"]]
    data["citations"] = [{k: v for k, v in c.items() if k != "text"} for c in data["citations"]]
    return data


def _citation_scores(example: EvalExample, answer, nli: Any) -> tuple[float | None, float | None, str | None]:
    from smallrag.eval.metrics import citation_scores_by_answer, citation_scores_by_nli

    if nli is not None:
        from smallrag.verifiers.claims import split_claims

        hits = answer.hits
        claims = [(c.text, [hits[n - 1].chunk.text for n in c.citations if 1 <= n <= len(hits)])
                  for c in split_claims(answer.text, atomic=False)]  # ALCE scores sentences
        score = citation_scores_by_nli(claims, nli)
    elif example.answers:
        score = citation_scores_by_answer([c.text for c in answer.citations], example.answers)
    elif example.gold_doc_ids:
        # no gold answer: a citation is right when it points into a gold document
        gold = set(example.gold_doc_ids)
        good = [c.doc_id in gold for c in answer.citations]
        return (sum(good) / len(good) if good else None), float(any(good)), "gold_doc"
    else:
        return None, None, None
    return score.precision, score.recall, score.method


def _nli_correct(short: str, example: EvalExample, nli: Any) -> float | None:
    """1.0 when the answer entails one of the gold answers read with the question (P >= NLI_CORRECT),
    0.0 when it entails none; None without an NLI model (--citation-nli) or an answer."""
    if nli is None or not short.strip():
        return None
    from smallrag.core.protocols import NLI_COLUMNS
    from smallrag.verifiers.claims import claim_hypothesis

    pairs = [(short, claim_hypothesis(gold, example.question)) for gold in example.answers]
    entail = nli.predict(pairs)[:, NLI_COLUMNS.index("entailment")]
    return float(float(entail.max()) >= NLI_CORRECT)


def score_example(example: EvalExample, position: int, answer, *, latency: float, cpu_seconds: float,
                  worker: str, nli: Any = None, error: str | None = None) -> dict[str, Any]:
    """The record of one example. `answer` is a smallrag.core.types.Answer, or None when asking failed with
    `error` (an input problem of this example; it scores 0 and is counted in `errors`)."""
    from smallrag.eval.metrics import hits_to_run
    from smallrag.eval.qa import best_score, contains_answer, exact_match, token_f1

    record: dict[str, Any] = {
        "id": example.id, "position": position, "question": example.question,
        "gold_answers": list(example.answers), "relevance": dict(example.relevance), "error": error,
    }
    if answer is None:
        record.update({"answer": None, "abstained": False, "em": 0.0 if example.answers else None,
                       "f1": 0.0 if example.answers else None, "contains": 0.0 if example.answers else None,
                       "nli_correct": None, "correct": False if example.answers else None,
                       "citation_precision": None, "citation_recall": 0.0 if example.answers else None,
                       "citation_method": None, "retrieved": [], "confidence": None, "faithfulness": None,
                       "supported": None, "completion_tokens": 0, "prompt_tokens": 0, "timings": {}})
    else:
        abstained = bool(answer.abstained or answer.no_answer)
        short = strip_citation_marks(answer.text)
        em = best_score(exact_match, short, example.answers) if example.answers else None
        f1 = best_score(token_f1, short, example.answers) if example.answers else None
        contains = best_score(contains_answer, short, example.answers) if example.answers else None
        nli_correct = _nli_correct(short, example, nli) if example.answers and not abstained else None
        if abstained:
            precision, recall, method = None, None, None
        else:
            precision, recall, method = _citation_scores(example, answer, nli)
        run = hits_to_run([example.id], [answer.hits])[example.id]
        verification = answer.verification
        record.update({
            "answer": answer.text, "abstained": abstained, "em": em, "f1": f1, "contains": contains,
            "nli_correct": nli_correct, "correct": None if contains is None else contains == 1.0,
            "citation_precision": precision, "citation_recall": recall, "citation_method": method,
            "retrieved": [[doc, score] for doc, score in run.items()],
            "confidence": answer.confidence,
            "faithfulness": None if verification is None else verification.faithfulness,
            "supported": None if verification is None else verification.supported,
            "completion_tokens": answer.completion_tokens, "prompt_tokens": answer.prompt_tokens,
            "timings": dict(answer.timings), "response": _compact_answer(answer),
        })
    record.update({"latency": latency, "cpu_seconds": cpu_seconds, "peak_rss_mb": peak_rss_mb(),
                   "worker": worker, "finished_at": time.time()})
    return record


def ask_and_score(rag, example: EvalExample, position: int, *, worker: str, nli: Any = None,
                  filters: Any = None) -> dict[str, Any]:
    """Ask `rag` one example and score it. A SmallragError (bad input for this one example, such as
    a question too long for the context window) is recorded; any other exception propagates and
    stops the run, to be resumed."""
    cpu_started, started = time.process_time(), time.perf_counter()
    try:
        answer, error = rag.ask(example.question, filters=filters), None
    except SmallragError as exc:
        logger.warning("example %s failed: %s", example.id, exc)
        answer, error = None, str(exc)
    latency, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return score_example(example, position, answer, latency=latency, cpu_seconds=cpu, worker=worker, nli=nli,
                         error=error)


class ResultsWriter:
    """Appends records to results.jsonl, one durable line each."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = path.open("a", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "ResultsWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def read_results(path: Path, *, repair: bool = False) -> list[dict[str, Any]]:
    """The records of a results.jsonl file. A last line without its newline is an interrupted
    write: it is ignored, and with `repair` cut from the file. Any other bad line is an error."""
    if not path.is_file():
        return []
    data = path.read_bytes()
    complete = data[:data.rfind(b"\n") + 1]
    if len(complete) < len(data):
        logger.warning("%s: the last line is incomplete (an interrupted write); %s", path,
                       "dropped, that example runs again" if repair else "ignored")
        if repair:
            with path.open("r+b") as fh:
                fh.truncate(len(complete))
                fh.flush()
                os.fsync(fh.fileno())
    records, seen = [], {}
    for lineno, raw in enumerate(complete.split(b"\n")[:-1], 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise SmallragError(f"{path}:{lineno}: not valid UTF-8; this is not a results file smallrag wrote") from None
        record = parse_json_line(line, f"{path}:{lineno}", hint="; the results file is damaged: remove that "
                                 "line to answer the example again")
        if not isinstance(record, dict) or "id" not in record or "position" not in record:
            raise SmallragError(f"{path}:{lineno}: not a smallrag result record (no \"id\"/\"position\")")
        if record["id"] in seen:
            raise SmallragError(f"{path}:{lineno}: example {record['id']!r} again (first at line {seen[record['id']]})")
        seen[record["id"]] = lineno
        records.append(record)
    return records


def check_against(records: Sequence[dict[str, Any]], examples: Sequence[EvalExample], path: Path) -> None:
    """Every record must belong to an example of the dataset, at the same position."""
    positions = {e.id: i for i, e in enumerate(examples)}
    for lineno, record in enumerate(records, 1):
        position = positions.get(record["id"])
        if position is None or position != record["position"]:
            raise SmallragError(f"{path}:{lineno}: example {record['id']!r} is not in the dataset at position "
                                f"{record['position']}; these results come from other data, use a new --out")
