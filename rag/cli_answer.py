"""`smallrag ask` and `smallrag serve`: the answering commands, over rag.pipeline.RAG."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rag.errors import SmallragError


def build_rag(args: argparse.Namespace):
    from rag.pipeline import RAG

    generator_options: dict[str, Any] = {}
    if args.n_ctx is not None:
        generator_options["n_ctx"] = args.n_ctx
    return RAG.from_index(args.index, mode=args.mode, generator=args.generator, generator_options=generator_options,
                          k=args.k, max_tokens=args.max_tokens, temperature=args.temperature,
                          progress=not args.quiet)


def _read_history(path: str | None) -> list[dict[str, str]] | None:
    if path is None:
        return None
    file = Path(path)
    if not file.is_file():
        raise SmallragError(f"history file {path!r} does not exist; pass a JSON list of {{\"role\", \"content\"}} turns")
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SmallragError(f"history file {path!r} is not valid UTF-8 JSON ({exc})") from None


def _print_sources(answer) -> None:
    if answer.citations:
        print("\nSources:")
        for citation in answer.citations:
            snippet = " ".join(citation.text.split())
            snippet = snippet if len(snippet) <= 100 else snippet[:97] + "..."
            print(f"  [{citation.n}] {citation.doc_id}: {snippet}")
    elif not answer.no_answer:
        print("\n(no sources cited: check the answer against the documents)")
    if answer.invalid_citations:
        print(f"({answer.invalid_citations} citation(s) to blocks that do not exist were dropped)")


def cmd_ask(args: argparse.Namespace) -> int:
    from rag.cli import filters_from_args

    rag = build_rag(args)
    history = _read_history(args.history)
    filters = filters_from_args(args.filters) or None
    if not args.stream:
        answer = rag.ask(args.question, history=history, filters=filters)
        if args.json:
            print(json.dumps(answer.to_json(), ensure_ascii=False))
        else:
            print(answer.text)
            _print_sources(answer)
        return 0
    answer = None
    for item in rag.stream(args.question, history=history, filters=filters):
        if isinstance(item, str):
            if args.json:
                print(json.dumps({"delta": item}, ensure_ascii=False), flush=True)
            else:
                sys.stdout.write(item)
                sys.stdout.flush()
        else:
            answer = item
    if args.json:
        print(json.dumps(answer.to_json(), ensure_ascii=False))
    else:
        print()
        _print_sources(answer)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from rag.server import serve

    rag = build_rag(args)
    print(f"smallrag: serving {args.index} with {rag.generator.name} on http://{args.host}:{args.port} "
          "(POST /ask, GET /health; Ctrl-C to stop)", file=sys.stderr, flush=True)
    serve(rag, host=args.host, port=args.port, max_k=args.max_k, max_request_bytes=args.max_request_bytes,
          request_timeout=args.request_timeout)
    return 0
