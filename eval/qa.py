"""Extractive-QA answer metrics with the official SQuAD v1.1 normalisation, and a SQuAD-format
loader (XQuAD uses the same format): each paragraph becomes one document to index."""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from smallrag.core.errors import SmallragError
from smallrag.core.types import Document

_PUNCTUATION = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation and the articles a/an/the, collapse whitespace (as the
    official SQuAD v1.1 evaluation script does, in that order)."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def token_f1(prediction: str, gold: str) -> float:
    pred_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    common = Counter(pred_tokens) & Counter(gold_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def contains_answer(prediction: str, gold: str) -> float:
    """1.0 when the normalised gold answer stands in the normalised prediction as whole words
    ("... the limit is 128." contains "128"): sentence-form answers score as they should, where
    token F1 punishes every extra word. ALCE calls this str_em."""
    needle = normalize_answer(gold)
    return float(bool(needle) and f" {needle} " in f" {normalize_answer(prediction)} ")


def best_score(metric, prediction: str, golds: Sequence[str]) -> float:
    """The score against the closest of several gold answers, as SQuAD scores multiple references."""
    if not golds:
        raise SmallragError("an example needs at least one gold answer")
    return max(metric(prediction, gold) for gold in golds)


@dataclass(frozen=True)
class QAExample:
    id: str
    question: str
    answers: tuple[str, ...]
    doc_id: str  # the paragraph holding the answer


@dataclass(frozen=True)
class QADataset:
    name: str
    documents: list[Document]
    examples: list[QAExample]


def load_squad(path: str | Path, name: str | None = None) -> QADataset:
    """A SQuAD-v1.1-format file: one document per paragraph (id `<title>/<n>`), one example per question."""
    path = Path(path)
    if not path.is_file():
        raise SmallragError(f"SQuAD-format file {path} is missing")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))["data"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise SmallragError(f"{path} is not a SQuAD-format JSON file with a 'data' list ({exc})") from None
    documents, examples = [], []
    for article in data:
        title = article.get("title", "untitled")
        for n, paragraph in enumerate(article["paragraphs"]):
            doc_id = f"{title}/{n}"
            documents.append(Document(id=doc_id, text=paragraph["context"], title=title))
            for qa in paragraph["qas"]:
                answers = tuple(dict.fromkeys(a["text"] for a in qa["answers"]))
                examples.append(QAExample(qa["id"], qa["question"], answers, doc_id))
    return QADataset(name if name is not None else path.stem, documents, examples)
