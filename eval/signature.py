"""Signature strings that say exactly how a score was computed, as bert-score's hash does.

Two scores are comparable only when their signatures are equal: the string names the metric,
the model (with a fingerprint of its files), every option that changes the numbers, and the
versions of smallrag, transformers and torch. Versions come from package metadata, so building
a signature never imports torch.
"""

from __future__ import annotations

import hashlib
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable

_LIBRARIES = ("smallrag", "transformers", "torch")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        if package == "smallrag":
            from smallrag.core.version import __version__

            return __version__
        return "none"


def library_versions() -> list[tuple[str, str]]:
    return [(name, _version(name)) for name in _LIBRARIES]


def short_hash(data: str | bytes, length: int = 8) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()[:length]


def file_tag(path: Path) -> str:
    """`name@hash8` of a small file (a baseline table): its name and its content."""
    return f"{path.name}@{short_hash(path.read_bytes())}"


def texts_tag(texts: Iterable[str]) -> str:
    """`hash8` of a list of texts (an idf corpus), order-sensitive, each text delimited."""
    digest = hashlib.sha256()
    count = 0
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\x00")
        count += 1
    return f"{count}docs@{digest.hexdigest()[:8]}"


def signature(metric: str, fields: Iterable[tuple[str, object]]) -> str:
    """`metric:key=value:...:smallrag=X:transformers=Y:torch=Z`.

    Values must not contain ':' (the separator); booleans print as True/False."""
    parts = [metric]
    for key, value in [*fields, *library_versions()]:
        text = str(value)
        if ":" in text:
            raise ValueError(f"signature field {key}={text!r} contains ':'")
        parts.append(f"{key}={text}")
    return ":".join(parts)


def model_tag(name: str, fingerprint: str) -> str:
    """`name@fingerprint8`; ':' in a name (e.g. a path on Windows) would break parsing."""
    return f"{name.replace(':', '_')}@{fingerprint[:8]}"


def nli_signature(metric: str, model: Any, fields: Iterable[tuple[str, object]]) -> str:
    """The signature of a score judged by an NLI model: the model's tag first, then `fields`, then
    its token window when it has one."""
    window = getattr(model, "max_length", None)
    return signature(metric, [("model", model_tag(model.name, model.fingerprint)), *fields,
                              *([("max_length", window)] if isinstance(window, int) else [])])
