"""The one JSONL reader: records with their line numbers, errors that name FILE:LINE."""

from __future__ import annotations

import pytest

from smallrag.core.errors import SmallragError
from smallrag.core.jsonl import read_jsonl


def test_reads_objects_with_line_numbers_skipping_blank_lines(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes('\ufeff{"a": 1}\r\n\n{"b": "x\u2028y"}\n'.encode("utf-8"))
    assert list(read_jsonl(path)) == [(1, {"a": 1}), (3, {"b": "x\u2028y"})]


@pytest.mark.parametrize("content, needle", [
    (b'{"a": 1}\n{"a": \n', "a.jsonl:2: not valid JSON"),
    (b'{"a": 1}\n[1, 2]\n', "a.jsonl:2: expected a JSON object, got list"),
    (b'{"a": 1}\n{"a": "caf\xe9"}\n', "a.jsonl:2: not valid UTF-8 (byte 0xe9"),
    (b"[" * 100000 + b"\n", "a.jsonl:1: not usable JSON"),
])
def test_errors_name_the_file_and_line(tmp_path, content, needle):
    path = tmp_path / "a.jsonl"
    path.write_bytes(content)
    with pytest.raises(SmallragError) as info:
        list(read_jsonl(path))
    assert needle in str(info.value)


def test_missing_file_and_other_error_types(tmp_path):
    with pytest.raises(SmallragError, match="cannot be read"):
        list(read_jsonl(tmp_path / "none.jsonl"))
    path = tmp_path / "b.jsonl"
    path.write_text("[1]\n", encoding="utf-8")
    assert list(read_jsonl(path, objects=False)) == [(1, [1])]
    with pytest.raises(ValueError, match="expected a pair"):
        list(read_jsonl(path, error=ValueError, expected="a pair"))
