"""What an index is built with; stored in manifest.json so searches and adds reuse it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from smallrag.indexes.bm25 import BM25Params
from smallrag.indexes.dense import DenseParams
from smallrag.indexes.tokenizer import TokenizerConfig
from smallrag.core.chunking import ChunkingConfig
from smallrag.core.errors import SmallragError

RETRIEVER_KINDS = ("bm25", "dense")


@dataclass(frozen=True)
class IndexConfig:
    retrievers: tuple[str, ...] = RETRIEVER_KINDS
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    bm25: BM25Params = field(default_factory=BM25Params)
    dense: DenseParams = field(default_factory=DenseParams)

    def __post_init__(self) -> None:
        retrievers = tuple(self.retrievers)
        unknown = [r for r in retrievers if r not in RETRIEVER_KINDS]
        if unknown or not retrievers:
            raise SmallragError(f"unknown retrievers {unknown or retrievers!r}; choose from {','.join(RETRIEVER_KINDS)}")
        object.__setattr__(self, "retrievers", tuple(dict.fromkeys(retrievers)))

    @property
    def has_dense(self) -> bool:
        return "dense" in self.retrievers

    @property
    def has_bm25(self) -> bool:
        return "bm25" in self.retrievers

    def to_json(self) -> dict[str, Any]:
        return {"retrievers": list(self.retrievers), "chunking": self.chunking.to_json(),
                "tokenizer": self.tokenizer.to_json(), "bm25": self.bm25.to_json(),
                "dense": self.dense.to_json()}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> "IndexConfig":
        return cls(retrievers=tuple(obj["retrievers"]), chunking=ChunkingConfig(**obj["chunking"]),
                   tokenizer=TokenizerConfig.from_json(obj["tokenizer"]), bm25=BM25Params.from_json(obj["bm25"]),
                   dense=DenseParams.from_json(obj["dense"]))
