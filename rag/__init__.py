"""smallrag: offline-first RAG where small models surround a large generator.

The everyday API is re-exported here lazily (PEP 562), so `import smallrag` loads no model, no
torch and none of our submodules until a name is first used, and cannot create import circles.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from smallrag.core.version import __version__

# public name -> the module that defines it
_EXPORTS = {
    "RAG": "smallrag.pipeline",
    "Answer": "smallrag.core.types",
    "Document": "smallrag.core.types",
    "Hit": "smallrag.core.types",
    "build_index": "smallrag.indexes.builder",
    "open_retriever": "smallrag.retrievers.factory",
    "load_documents": "smallrag.ingest",
    "bertscore": "smallrag.eval.bertscore",
    "NLIVerifier": "smallrag.verifiers.nli_verifier",
    "SmallragError": "smallrag.core.errors",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:  # for type checkers and IDEs; never executed
    from smallrag.core.errors import SmallragError
    from smallrag.core.types import Answer, Document, Hit
    from smallrag.eval.bertscore import bertscore
    from smallrag.indexes.builder import build_index
    from smallrag.ingest import load_documents
    from smallrag.pipeline import RAG
    from smallrag.retrievers.factory import open_retriever
    from smallrag.verifiers.nli_verifier import NLIVerifier


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'smallrag' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
