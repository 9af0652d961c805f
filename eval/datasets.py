"""Loaders for public evaluation formats (Cranfield, HaluEval-QA)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from rag.errors import SmallragError
from rag.types import Document


@dataclass(frozen=True)
class RetrievalDataset:
    """Documents, queries {id: text} and graded judgements {query_id: {doc_id: gain}}."""

    name: str
    documents: list[Document]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def _fields(block: str) -> dict[str, str]:
    parts = re.split(r"^\.([A-Z])\s*$", block, flags=re.M)
    # parts = [preamble, tag, body, tag, body, ...]
    return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}


def _records(text: str) -> list[tuple[str, dict[str, str]]]:
    chunks = re.split(r"^\.I\s+(\d+)\s*$", text, flags=re.M)
    return [(chunks[i], _fields(chunks[i + 1])) for i in range(1, len(chunks) - 1, 2)]


def load_cranfield(folder: str | Path) -> RetrievalDataset:
    """The Cranfield collection. Documents are title + abstract (`.T` and `.W`).

    `cranqrel` numbers queries 1..225 in file order (cran.qry ids have gaps), and codes
    relevance 1 (complete answer) .. 4 (minimum interest), -1 (no interest). Gains are
    flipped to 5 - code, so 1 -> 4 and 4 -> 1; -1 becomes 0 (not relevant), as ir_datasets does.
    """
    folder = Path(folder)
    paths = {name: folder / name for name in ("cran.all.1400", "cran.qry", "cranqrel")}
    for path in paths.values():
        if not path.is_file():
            raise SmallragError(f"Cranfield file {path} is missing; point at the folder holding cran.all.1400")
    documents = []
    for doc_id, fields in _records(paths["cran.all.1400"].read_text(encoding="utf-8", errors="replace")):
        body = fields.get("W", "")
        title = fields.get("T", "")
        # The abstract usually starts by repeating the title; index the abstract once with the title.
        text = body if body.startswith(title) else f"{title}\n{body}".strip()
        documents.append(Document(id=doc_id, text=text, title=title or None))
    queries = {}
    for n, (_raw_id, fields) in enumerate(_records(paths["cran.qry"].read_text(encoding="utf-8")), 1):
        queries[str(n)] = " ".join(fields.get("W", "").split())
    qrels: dict[str, dict[str, int]] = {}
    for line in paths["cranqrel"].read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        qid, did, code = parts[0], parts[1], int(parts[2])
        gain = 5 - code if 1 <= code <= 4 else 0
        qrels.setdefault(qid, {})[did] = gain
    return RetrievalDataset("cranfield", documents, queries, qrels)


def load_halueval_retrieval(path: str | Path, limit: int | None = None) -> RetrievalDataset:
    """HaluEval-QA as open-book retrieval: each record's `knowledge` is a passage, its
    `question` a query whose only relevant passage is its own. Duplicate passages are merged."""
    path = Path(path)
    if not path.is_file():
        raise SmallragError(f"HaluEval file {path} is missing")
    documents: list[Document] = []
    passage_ids: dict[str, str] = {}
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh):
            if limit is not None and n >= limit:
                break
            record = json.loads(line)
            knowledge = record["knowledge"]
            doc_id = passage_ids.get(knowledge)
            if doc_id is None:
                doc_id = passage_ids[knowledge] = f"k{n}"
                documents.append(Document(id=doc_id, text=knowledge))
            queries[f"q{n}"] = record["question"]
            qrels[f"q{n}"] = {doc_id: 1}
    return RetrievalDataset("halueval-qa", documents, queries, qrels)
