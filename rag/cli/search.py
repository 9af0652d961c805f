"""`smallrag search`: the top hits of an index for one query or a .jsonl file of queries."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from smallrag.cli.common import (add_filter_option, add_mode_option, filters_from_args, positive_int, print_json,
                                 query_text, snippet)
from smallrag.core.errors import SmallragError
from smallrag.core.types import chunk_location, location_json, location_text

QUERY_EXAMPLE = '{"id": 1, "text": "..."}'


def add_parsers(sub, parent: argparse.ArgumentParser) -> None:
    search = sub.add_parser("search", help="search an index", parents=[parent])
    search.add_argument("index", metavar="DIR_OR_URL")
    what = search.add_mutually_exclusive_group(required=True)
    what.add_argument("--query", type=query_text, metavar="TEXT")
    what.add_argument("--queries", metavar="FILE.jsonl", help='lines {"id": ..., "text": ...}')
    search.add_argument("-k", type=positive_int, default=10, metavar="N")
    add_mode_option(search, "default: hybrid when the index has both parts")
    add_filter_option(search)
    search.add_argument("--json", action="store_true", help="one JSON line per query")
    search.set_defaults(handler=cmd_search)


def read_queries(path: str) -> list[tuple[Any, str]]:
    """(id, text) per line of a .jsonl queries file; the id defaults to the line number."""
    from smallrag.core.jsonl import read_jsonl

    if not Path(path).is_file():
        raise SmallragError(f"queries file {path!r} does not exist; pass a .jsonl file of {{\"id\", \"text\"}} lines")
    queries = []
    for lineno, record in read_jsonl(path, expected=f"a JSON object like {QUERY_EXAMPLE}"):
        text = record.get("text")
        if not isinstance(text, str) or not text.strip():
            raise SmallragError(f"{path}:{lineno}: needs a non-empty \"text\" field, e.g. {QUERY_EXAMPLE}")
        queries.append((record.get("id", lineno), text))
    if not queries:
        raise SmallragError(f"queries file {path!r} holds no queries")
    return queries


def cmd_search(args: argparse.Namespace) -> int:
    from smallrag.indexes.opening import open_index
    from smallrag.retrievers.factory import default_mode, open_retriever

    index = open_index(args.index, verify=False)  # sizes checked; `index info` verifies hashes
    queries = [(None, args.query)] if args.query is not None else read_queries(args.queries)
    filters = filters_from_args(args.filters)
    retriever = open_retriever(index, args.mode)
    # A process that searches once should not pay for importing torch: queries go through the
    # cached ONNX export of the index's model when there is one; a call without it writes it.
    dense = (args.mode or default_mode(index)) in ("dense", "hybrid")
    light = dense and index.use_light_encoder()
    results = retriever.retrieve_batch([text for _, text in queries], args.k, filters or None)
    if dense and not light:
        from smallrag.indexes.onnx_export import export_light_encoder

        export_light_encoder(index.encoder())
    for (query_id, text), hits in zip(queries, results):
        if args.json:
            print_json({"query_id": query_id, "query": text,
                        "hits": [{"rank": h.rank, "score": h.score, "doc_id": h.chunk.doc_id,
                                  "chunk_id": h.chunk.id, "text": h.chunk.text, **location_json(*chunk_location(h.chunk))}
                                 for h in hits]})
            continue
        label = f"[{query_id}] " if query_id is not None else ""
        print(f"{label}{text}  ({retriever.name}, {len(hits)} hits)")
        for hit in hits:
            where = location_text(*chunk_location(hit.chunk))
            source = f"{hit.chunk.doc_id} {where}" if where else hit.chunk.doc_id
            print(f"  {hit.rank:>3}. {hit.score:8.4f}  {source}  {snippet(hit.chunk.text, 110)}")
    return 0

