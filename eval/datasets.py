"""Loaders for public evaluation formats (Cranfield, HaluEval-QA) and for the batch evaluator's
datasets (SQuAD JSON, QA JSON lines, BEIR-style folders)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from smallrag.core.checks import is_int
from smallrag.core.errors import SmallragError
from smallrag.core.jsonl import json_object, parse_json_line, read_jsonl
from smallrag.core.types import Document


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
    for lineno, record in read_jsonl(path):
        n = lineno - 1  # ids count records from 0
        if limit is not None and n >= limit:
            break
        knowledge = record["knowledge"]
        doc_id = passage_ids.get(knowledge)
        if doc_id is None:
            doc_id = passage_ids[knowledge] = f"k{n}"
            documents.append(Document(id=doc_id, text=knowledge))
        queries[f"q{n}"] = record["question"]
        qrels[f"q{n}"] = {doc_id: 1}
    return RetrievalDataset("halueval-qa", documents, queries, qrels)


# -- batch-evaluation datasets ----------------------------------------------------------------
#
# `smallrag eval run` reads three formats, detected by `load_eval_dataset`:
# - SQuAD-format JSON (`{"data": [{"title", "paragraphs": [{"context", "qas": [...]}]}]}`):
#   one example per question; its gold document is the paragraph (`<title>/<n>`).
# - JSON lines (`.jsonl`): one object per line, `{"id", "question", "answers"?, "gold_doc_ids"?}`.
# - a BEIR-style folder: `corpus.jsonl` (`{"_id", "title"?, "text"}`), `queries.jsonl`
#   (`{"_id", "text"}`) and `qrels/<split>.tsv` (`query-id corpus-id score`, header optional).
# Every input error names the file and line (or JSON path) and what to fix.


@dataclass(frozen=True)
class EvalExample:
    """One question to answer. `answers` are the gold answers (may be empty: then only the
    retrieval and citation-free metrics apply); `relevance` maps gold document ids to graded
    gains (> 0 relevant)."""

    id: str
    question: str
    answers: tuple[str, ...] = ()
    relevance: Mapping[str, int] = field(default_factory=dict, hash=False)

    @property
    def gold_doc_ids(self) -> tuple[str, ...]:
        return tuple(d for d, g in self.relevance.items() if g > 0)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "question": self.question, "answers": list(self.answers),
                "relevance": dict(self.relevance)}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> "EvalExample":
        return cls(str(obj["id"]), obj["question"], tuple(obj.get("answers", ())),
                   {str(d): int(g) for d, g in dict(obj.get("relevance", {})).items()})


@dataclass(frozen=True)
class EvalDataset:
    """Examples to run, plus the documents when the format carries a corpus (SQuAD paragraphs,
    BEIR corpus; empty for JSON lines). `fingerprint` is the sha256 of the input bytes, so a
    resumed run can check it continues over the same data."""

    name: str
    format: str  # "squad", "jsonl" or "beir"
    path: str
    examples: tuple[EvalExample, ...]
    documents: tuple[Document, ...] = ()
    fingerprint: str = ""

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "format": self.format, "path": self.path, "examples": len(self.examples),
                "documents": len(self.documents), "fingerprint": self.fingerprint}


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise SmallragError(f"{path}:{line}: not valid UTF-8 (byte {data[exc.start]:#04x} at offset {exc.start}); "
                            "re-save the file as UTF-8") from None


def _read(path: Path, what: str) -> tuple[str, str]:
    """The text of `path` and the sha256 of its bytes."""
    if not path.is_file():
        raise SmallragError(f"{what} {path} does not exist")
    data = path.read_bytes()
    return _decode(path, data), hashlib.sha256(data).hexdigest()


def _parse_json(path: Path, text: str) -> Any:
    """A whole-file JSON value; an error names the line where the JSON breaks."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SmallragError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg} at column {exc.colno})") from None


def _json_lines(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) per line. A blank line inside the file is an error; blank lines at
    the very end (a trailing newline or two) are not."""
    lines = text.split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise SmallragError(f"{path} is empty; it needs one JSON object per line")
    records = []
    for lineno, line in enumerate(lines, 1):
        where = f"{path}:{lineno}"
        if not line.strip():
            raise SmallragError(f"{where}: empty line; JSON lines files hold one JSON object on every line")
        records.append((lineno, json_object(parse_json_line(line, where), where)))
    return records


def _text_field(where: str, record: Mapping[str, Any], key: str, example: str) -> str:
    if key not in record:
        raise SmallragError(f"{where}: missing field {key!r} (expected e.g. {example})")
    value = record[key]
    if not isinstance(value, str) or not value.strip():
        raise SmallragError(f"{where}: field {key!r} must be a non-empty string, got {value!r:.60}")
    return value


def _id_field(where: str, record: Mapping[str, Any], key: str, example: str) -> str:
    if key not in record:
        raise SmallragError(f"{where}: missing field {key!r} (expected e.g. {example})")
    value = record[key]
    if not (isinstance(value, str) or is_int(value)) or not str(value).strip():
        raise SmallragError(f"{where}: field {key!r} must be a non-empty string or an integer, got {value!r:.60}")
    return str(value)


def _string_list(where: str, record: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = record.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) or is_int(v) for v in value):
        raise SmallragError(f"{where}: field {key!r} must be a list of strings, got {value!r:.60}")
    items = tuple(str(v) for v in value)
    if any(not v.strip() for v in items):
        raise SmallragError(f"{where}: field {key!r} holds an empty string")
    return tuple(dict.fromkeys(items))


_JSONL_EXAMPLE = '{"id": "q1", "question": "...", "answers": ["..."], "gold_doc_ids": ["doc7"]}'


def _examples_from_records(records: Sequence[tuple[str, Mapping[str, Any]]]) -> list[EvalExample]:
    examples: list[EvalExample] = []
    seen: dict[str, str] = {}
    for where, record in records:
        example_id = _id_field(where, record, "id", _JSONL_EXAMPLE)
        if example_id in seen:
            raise SmallragError(f"{where}: duplicate id {example_id!r} (first at {seen[example_id]}); ids must be unique")
        seen[example_id] = where
        question = _text_field(where, record, "question", _JSONL_EXAMPLE)
        answers = _string_list(where, record, "answers")
        gold = _string_list(where, record, "gold_doc_ids")
        examples.append(EvalExample(example_id, question, answers, {d: 1 for d in gold}))
    return examples


def load_qa_jsonl(path: str | Path) -> EvalDataset:
    """JSON lines `{"id", "question", "answers"?: [str], "gold_doc_ids"?: [str]}`."""
    path = Path(path)
    text, digest = _read(path, "dataset file")
    records = [(f"{path}:{n}", r) for n, r in _json_lines(path, text)]
    return EvalDataset(path.stem, "jsonl", str(path), tuple(_examples_from_records(records)), (), digest)


def _squad_examples(path: Path, text: str) -> tuple[list[Document], list[EvalExample]]:
    data = _parse_json(path, text)
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise SmallragError(f"{path} is not a SQuAD-format file: expected an object with a \"data\" list")
    documents, examples, seen = [], [], {}
    for a, article in enumerate(data["data"]):
        where_a = f"{path}: data[{a}]"
        if not isinstance(article, dict) or not isinstance(article.get("paragraphs"), list):
            raise SmallragError(f"{where_a}: missing the \"paragraphs\" list")
        title = article.get("title", "untitled")
        for p, paragraph in enumerate(article["paragraphs"]):
            where_p = f"{where_a}.paragraphs[{p}]"
            if not isinstance(paragraph, dict):
                raise SmallragError(f"{where_p}: expected an object with \"context\" and \"qas\"")
            context = _text_field(where_p, paragraph, "context", '{"context": "...", "qas": [...]}')
            if not isinstance(paragraph.get("qas"), list):
                raise SmallragError(f"{where_p}: missing the \"qas\" list")
            doc_id = f"{title}/{p}"
            documents.append(Document(id=doc_id, text=context, title=title))
            for q, qa in enumerate(paragraph["qas"]):
                where_q = f"{where_p}.qas[{q}]"
                if not isinstance(qa, dict):
                    raise SmallragError(f"{where_q}: expected an object with \"id\", \"question\", \"answers\"")
                example = '{"id": "...", "question": "...", "answers": [{"text": "..."}]}'
                qid = _id_field(where_q, qa, "id", example)
                if qid in seen:
                    raise SmallragError(f"{where_q}: duplicate question id {qid!r} (first at {seen[qid]})")
                seen[qid] = where_q
                question = _text_field(where_q, qa, "question", example)
                answers = qa.get("answers", [])
                if not isinstance(answers, list) or not all(
                        isinstance(x, dict) and isinstance(x.get("text"), str) for x in answers):
                    raise SmallragError(f"{where_q}: \"answers\" must be a list of {{\"text\": ...}} objects")
                texts = tuple(dict.fromkeys(x["text"] for x in answers if x["text"].strip()))
                examples.append(EvalExample(qid, question, texts, {doc_id: 1}))
    if not examples:
        raise SmallragError(f"{path} holds no questions")
    return documents, examples


def _read_qrels(path: Path, text: str) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t") if "\t" in line else line.split()
        if lineno == 1 and parts[0].strip().lower() in ("query-id", "query_id", "qid"):
            continue  # the BEIR header
        if len(parts) == 4:  # TREC qrels: qid iteration docid rel
            parts = [parts[0], parts[2], parts[3]]
        if len(parts) != 3:
            raise SmallragError(f"{path}:{lineno}: expected 'query-id<TAB>corpus-id<TAB>score', got {line!r:.80}")
        try:
            gain = int(float(parts[2]))
        except ValueError:
            raise SmallragError(f"{path}:{lineno}: the score {parts[2]!r} is not a number") from None
        qrels.setdefault(parts[0].strip(), {})[parts[1].strip()] = gain
    if not qrels:
        raise SmallragError(f"{path} holds no judgements")
    return qrels


def load_beir(folder: str | Path, split: str = "test") -> EvalDataset:
    """A BEIR-style folder. The examples are the queries judged in `qrels/<split>.tsv`, in the
    order of `queries.jsonl`; they carry no gold answers."""
    folder = Path(folder)
    corpus_path, queries_path = folder / "corpus.jsonl", folder / "queries.jsonl"
    qrels_path = folder / "qrels" / f"{split}.tsv"
    digest = hashlib.sha256()
    texts = {}
    for what, path in (("BEIR corpus", corpus_path), ("BEIR queries", queries_path), ("BEIR qrels", qrels_path)):
        text, file_digest = _read(path, what)
        texts[path] = text
        digest.update(file_digest.encode())
    documents, doc_ids = [], set()
    for lineno, record in _json_lines(corpus_path, texts[corpus_path]):
        where = f"{corpus_path}:{lineno}"
        doc_id = _id_field(where, record, "_id", '{"_id": "d1", "title": "...", "text": "..."}')
        body = record.get("text")
        if not isinstance(body, str):
            raise SmallragError(f"{where}: missing the \"text\" string")
        title = record.get("title") or None
        if doc_id in doc_ids:
            raise SmallragError(f"{where}: duplicate document id {doc_id!r}")
        doc_ids.add(doc_id)
        documents.append(Document(id=doc_id, text=f"{title}\n{body}" if title else body, title=title))
    qrels = _read_qrels(qrels_path, texts[qrels_path])
    examples, seen = [], set()
    for lineno, record in _json_lines(queries_path, texts[queries_path]):
        where = f"{queries_path}:{lineno}"
        qid = _id_field(where, record, "_id", '{"_id": "q1", "text": "..."}')
        if qid in seen:
            raise SmallragError(f"{where}: duplicate query id {qid!r}")
        seen.add(qid)
        if qid in qrels:
            examples.append(EvalExample(qid, _text_field(where, record, "text", '{"_id": "q1", "text": "..."}'), (),
                                        qrels[qid]))
    missing = sorted(set(qrels) - seen)
    if missing:
        raise SmallragError(f"{qrels_path} judges queries missing from {queries_path}: {', '.join(missing[:5])}")
    return EvalDataset(folder.name, "beir", str(folder), tuple(examples), tuple(documents), digest.hexdigest())


def load_eval_dataset(path: str | Path) -> EvalDataset:
    """Load `path` in whichever supported format it is: a folder is BEIR-style, a `.jsonl` file
    JSON lines, a `.json` file SQuAD format (or a JSON list of JSON-lines records)."""
    path = Path(path)
    if path.is_dir():
        if not (path / "queries.jsonl").is_file():
            raise SmallragError(f"{path} is a folder but not a BEIR-style one: it needs corpus.jsonl, queries.jsonl "
                                "and qrels/test.tsv")
        return load_beir(path)
    if not path.is_file():
        raise SmallragError(f"dataset {path} does not exist; pass a SQuAD .json, a .jsonl file or a BEIR folder")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return load_qa_jsonl(path)
    if suffix == ".json":
        text, digest = _read(path, "dataset file")
        stripped = text.lstrip()
        if stripped.startswith("["):
            rows = _parse_json(path, text)
            for i, row in enumerate(rows):
                if not isinstance(row, dict):
                    raise SmallragError(f"{path}: [{i}]: expected a JSON object, got {type(row).__name__}")
            examples = _examples_from_records([(f"{path}: [{i}]", r) for i, r in enumerate(rows)])
            if not examples:
                raise SmallragError(f"{path} holds no questions")
            return EvalDataset(path.stem, "jsonl", str(path), tuple(examples), (), digest)
        documents, examples = _squad_examples(path, text)
        return EvalDataset(path.stem, "squad", str(path), tuple(examples), tuple(documents), digest)
    raise SmallragError(f"cannot tell the format of {path} from its extension {suffix!r}: use a SQuAD .json file, "
                        "a .jsonl file or a BEIR-style folder")
