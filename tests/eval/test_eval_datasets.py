"""The batch evaluator's dataset formats (eval/datasets.py) and their input errors."""

from __future__ import annotations

import json

import pytest

from smallrag.eval.datasets import EvalExample, load_beir, load_eval_dataset, load_qa_jsonl
from smallrag.core.errors import SmallragError
from tests.helpers import SHARED_DATA, beir_folder, write_jsonl


def test_jsonl_examples_with_optional_fields(tmp_path):
    path = write_jsonl(tmp_path / "qa.jsonl", [
        {"id": "a", "question": "Who?", "answers": ["Ann", "Ann", "Anne"], "gold_doc_ids": ["d1"]},
        {"id": 7, "question": "What?"},
        {"id": "c", "question": "Where?", "answers": "Paris"},
    ])
    ds = load_eval_dataset(path)
    assert ds.format == "jsonl" and ds.name == "qa" and len(ds.fingerprint) == 64
    assert ds.examples[0] == EvalExample("a", "Who?", ("Ann", "Anne"), {"d1": 1})
    assert ds.examples[0].gold_doc_ids == ("d1",)
    assert ds.examples[1].id == "7" and ds.examples[1].answers == () and ds.examples[1].relevance == {}
    assert ds.examples[2].answers == ("Paris",)
    assert EvalExample.from_json(ds.examples[0].to_json()) == ds.examples[0]


def test_a_json_list_of_records_is_read_like_jsonl(tmp_path):
    path = tmp_path / "qa.json"
    path.write_text(json.dumps([{"id": "a", "question": "Who?"}]), encoding="utf-8")
    assert load_eval_dataset(path).examples[0].question == "Who?"


def test_xquad_is_read_as_squad():
    ds = load_eval_dataset(SHARED_DATA / "qa" / "xquad.en.json")
    assert ds.format == "squad" and len(ds.examples) == 1190 and len(ds.documents) == 240
    docs = {d.id: d.text for d in ds.documents}
    first = ds.examples[0]
    assert len(first.gold_doc_ids) == 1 and any(a in docs[first.gold_doc_ids[0]] for a in first.answers)


def test_squad_v2_unanswerable_question_has_no_gold_answer(tmp_path):
    data = {"data": [{"title": "T", "paragraphs": [{"context": "Ann lives in Paris.", "qas": [
        {"id": "1", "question": "Where does Ann live?", "answers": [{"text": "Paris", "answer_start": 13}]},
        {"id": "2", "question": "Where does Bob live?", "answers": [], "is_impossible": True}]}]}]}
    path = tmp_path / "v2.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    ds = load_eval_dataset(path)
    assert [e.answers for e in ds.examples] == [("Paris",), ()]
    assert ds.examples[1].gold_doc_ids == ("T/0",)


def test_beir_folder(tmp_path):
    ds = load_eval_dataset(beir_folder(tmp_path / "beir"))
    assert ds.format == "beir"
    assert [e.id for e in ds.examples] == ["q1", "q3"]  # judged queries only, in file order
    assert ds.examples[0].relevance == {"d1": 2, "d2": 0} and ds.examples[0].gold_doc_ids == ("d1",)
    assert [d.id for d in ds.documents] == ["d1", "d2"] and ds.documents[0].text == "Cats\nCats purr."


def test_beir_qrels_judging_an_unknown_query(tmp_path):
    folder = beir_folder(tmp_path / "beir", "q9\td1\t1\n")
    with pytest.raises(SmallragError, match=r"queries missing from .*queries.jsonl: q9"):
        load_beir(folder)


def test_beir_bad_qrels_line_is_named(tmp_path):
    folder = beir_folder(tmp_path / "beir", "query-id\tcorpus-id\tscore\nq1\td1\n")
    with pytest.raises(SmallragError, match=r"test.tsv:2: expected"):
        load_beir(folder)


@pytest.mark.parametrize("lines, message", [
    (['{"id": "a", "question": "Who?"}', "", '{"id": "b", "question": "What?"}'], r"qa.jsonl:2: empty line"),
    (['{"id": "a", "question": "Who?"}', '{"id": "b", "question": "What?"'], r"qa.jsonl:2: not valid JSON"),
    (['{"id": "a"}'], r"qa.jsonl:1: missing field 'question'"),
    (['{"question": "Who?"}'], r"qa.jsonl:1: missing field 'id'"),
    (['{"id": "a", "question": "   "}'], r"qa.jsonl:1: field 'question' must be a non-empty string"),
    (['{"id": "a", "question": "Who?"}', '{"id": "a", "question": "Again?"}'],
     r"qa.jsonl:2: duplicate id 'a' \(first at .*qa.jsonl:1\)"),
    (['{"id": "a", "question": "Who?", "answers": [1.5]}'], r"qa.jsonl:1: field 'answers' must be a list"),
    (['["a", "Who?"]'], r"qa.jsonl:1: expected a JSON object"),
])
def test_bad_jsonl_lines_are_named(tmp_path, lines, message):
    path = tmp_path / "qa.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(SmallragError, match=message):
        load_qa_jsonl(path)


def test_trailing_blank_lines_are_fine_but_an_empty_file_is_not(tmp_path):
    path = tmp_path / "qa.jsonl"
    path.write_text('{"id": "a", "question": "Who?"}\n\n\n', encoding="utf-8")
    assert len(load_qa_jsonl(path).examples) == 1
    path.write_text("\n", encoding="utf-8")
    with pytest.raises(SmallragError, match="empty"):
        load_qa_jsonl(path)


def test_non_utf8_names_file_and_line(tmp_path):
    path = tmp_path / "qa.jsonl"
    path.write_bytes(b'{"id": "a", "question": "Who?"}\n{"id": "b", "question": "Caf\xe9?"}\n')
    with pytest.raises(SmallragError, match=r"qa.jsonl:2: not valid UTF-8 \(byte 0xe9"):
        load_eval_dataset(path)


def test_bad_squad_files(tmp_path):
    path = tmp_path / "s.json"
    path.write_text('{"data": [\n{"title": "T", "paragraphs": [\n{"context": "x", "qas": [}]}]}', encoding="utf-8")
    with pytest.raises(SmallragError, match=r"s.json:3: not valid JSON"):
        load_eval_dataset(path)
    path.write_text(json.dumps({"data": [{"title": "T", "paragraphs": [{"context": "x", "qas": [
        {"id": "1", "answers": []}]}]}]}), encoding="utf-8")
    with pytest.raises(SmallragError, match=r"data\[0\].paragraphs\[0\].qas\[0\]: missing field 'question'"):
        load_eval_dataset(path)
    path.write_text(json.dumps({"rows": []}), encoding="utf-8")
    with pytest.raises(SmallragError, match="SQuAD-format"):
        load_eval_dataset(path)


def test_unknown_paths_and_extensions(tmp_path):
    with pytest.raises(SmallragError, match="does not exist"):
        load_eval_dataset(tmp_path / "missing.jsonl")
    (tmp_path / "data.csv").write_text("id,question\n")
    with pytest.raises(SmallragError, match="cannot tell the format"):
        load_eval_dataset(tmp_path / "data.csv")
    (tmp_path / "folder").mkdir()
    with pytest.raises(SmallragError, match="BEIR-style"):
        load_eval_dataset(tmp_path / "folder")
