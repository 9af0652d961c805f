"""The `smallrag` command: a thin argparse layer over the Python API.

Exit codes: 0 ok, 2 usage error, 1 runtime error (one line; a traceback only with --debug).
Subcommands import what they need when they run, so `smallrag --help` stays instant.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any, Sequence

from rag.errors import SmallragError


def _int_at_least(minimum: int, requirement: str):
    """An argparse type: a whole number >= `minimum`, refused with `requirement` in the message."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {requirement}, got {value}")
        return value
    return parse


_positive_int = _int_at_least(1, "a positive whole number")
_non_negative_int = _int_at_least(0, "0 or more")


def _port(text: str) -> int:
    port = _int_at_least(1, "a port from 1 to 65535")(text)
    if port > 65535:
        raise argparse.ArgumentTypeError(f"must be a port from 1 to 65535, got {port}")
    return port


def _positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _query_text(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError(f"the query is empty ({text!r}); pass some text to search for")
    return text


def _retriever_list(text: str) -> tuple[str, ...]:
    kinds = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [k for k in kinds if k not in ("bm25", "dense")]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(f"unknown retriever(s) {unknown or text!r}; use bm25, dense or bm25,dense")
    return kinds


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a probability from 0 to 1, got {text}")
    return value


def _nli_text(what: str):
    def parse(text: str) -> str:
        if not text.strip():
            raise argparse.ArgumentTypeError(f"the {what} is empty ({text!r}); pass some text")
        return text
    return parse


def _filter_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"filter {text!r} must look like KEY=VALUE (repeat for membership)")
    return key, value


def build_parser() -> argparse.ArgumentParser:
    # Subcommands accept --debug/--quiet too; SUPPRESS keeps them from resetting a top-level flag.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    common.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress bars")

    parser = argparse.ArgumentParser(prog="smallrag", description="Offline-first RAG: build indexes, search them and answer questions with cited sources.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or info logs")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    index = sub.add_parser("index", help="build and maintain index folders", parents=[common])
    index_sub = index.add_subparsers(dest="index_command", required=True, metavar="ACTION")

    build = index_sub.add_parser("build", help="build an index from files or folders", parents=[common])
    build.add_argument("sources", nargs="+", metavar="SRC", help="files or folders (.txt .md .json .jsonl .csv)")
    build.add_argument("--out", required=True, metavar="DIR", help="index folder to write (replaced atomically)")
    build.add_argument("--retrievers", type=_retriever_list, default=("bm25", "dense"),
                       help="which parts to build: bm25, dense or bm25,dense (default)")
    build.add_argument("--model", metavar="PATH_OR_NAME", default=None,
                       help="embedding model: a local folder or a packaged name (default all-MiniLM-L6-v2)")
    build.add_argument("--chunk-tokens", type=_positive_int, default=160, metavar="N")
    build.add_argument("--overlap", type=_non_negative_int, default=32, metavar="N")
    build.add_argument("--faiss", choices=("flat", "hnsw"), default="flat", help="exact (flat) or HNSW search")
    build.add_argument("--bm25-variant", choices=("okapi", "bm25l", "bm25+"), default="okapi")
    build.add_argument("--stemmer", default=None, metavar="LANG", help="Snowball stemmer, e.g. english (PyStemmer)")
    build.add_argument("--text-column", default="text", help="field/column holding the text in json/jsonl/csv")
    build.add_argument("--json", action="store_true", help="print one JSON object")

    add = index_sub.add_parser("add", help="add or update documents in an index", parents=[common])
    add.add_argument("index", metavar="DIR")
    add.add_argument("sources", nargs="+", metavar="SRC")
    add.add_argument("--model", metavar="PATH_OR_NAME", default=None,
                     help="must be the model the index was built with (checked)")
    add.add_argument("--text-column", default="text")
    add.add_argument("--json", action="store_true")

    delete = index_sub.add_parser("delete", help="delete documents by id", parents=[common])
    delete.add_argument("index", metavar="DIR")
    delete.add_argument("--doc-id", dest="doc_ids", action="append", nargs="+", required=True, metavar="ID")
    delete.add_argument("--json", action="store_true")

    info = index_sub.add_parser("info", help="describe and verify an index", parents=[common])
    info.add_argument("index", metavar="DIR")
    info.add_argument("--json", action="store_true")

    search = sub.add_parser("search", help="search an index", parents=[common])
    search.add_argument("index", metavar="DIR")
    what = search.add_mutually_exclusive_group(required=True)
    what.add_argument("--query", type=_query_text, metavar="TEXT")
    what.add_argument("--queries", metavar="FILE.jsonl", help='lines {"id": ..., "text": ...}')
    search.add_argument("-k", type=_positive_int, default=10, metavar="N")
    search.add_argument("--mode", choices=("bm25", "dense", "hybrid"), default=None,
                        help="default: hybrid when the index has both parts")
    search.add_argument("--filter", dest="filters", type=_filter_pair, action="append", default=[],
                        metavar="KEY=VALUE", help="metadata filter; repeat a key to accept several values")
    search.add_argument("--json", action="store_true", help="one JSON line per query")

    ask = sub.add_parser("ask", help="answer a question from an index, citing sources", parents=[common])
    ask.add_argument("index", metavar="DIR")
    ask.add_argument("question", type=_query_text, metavar="QUESTION")
    _add_answer_options(ask, k_default=5)
    ask.add_argument("--history", metavar="FILE.json", default=None,
                     help='earlier turns: a JSON list of {"role": "user"|"assistant", "content": ...}')
    ask.add_argument("--stream", action="store_true", help="print the answer as it is generated")
    ask.add_argument("--json", action="store_true",
                     help="print one JSON object (with --stream: {\"delta\"} lines, then the object)")

    serve = sub.add_parser("serve", help="serve an index over HTTP (POST /ask, GET /health)", parents=[common])
    serve.add_argument("index", metavar="DIR")
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=_port, default=8000)
    _add_answer_options(serve, k_default=5)
    serve.add_argument("--max-k", type=_positive_int, default=50, metavar="N", help="largest k a request may ask")
    serve.add_argument("--max-request-bytes", type=_positive_int, default=64_000, metavar="N")
    serve.add_argument("--request-timeout", type=float, default=300.0, metavar="SECONDS",
                       help="longest time one request may take (504 after it)")

    verify = sub.add_parser("verify", help="NLI: does a premise entail a hypothesis? (one pair, or a .jsonl file)",
                            parents=[common])
    pair = verify.add_mutually_exclusive_group(required=True)
    pair.add_argument("--premise", type=_nli_text("premise"), metavar="TEXT", help="evidence (needs --hypothesis)")
    pair.add_argument("--pairs", metavar="FILE.jsonl",
                      help='lines {"premise", "hypothesis", ...}: each is written back with label, p_entail, '
                           'p_neutral and p_contradict added')
    verify.add_argument("--hypothesis", type=_nli_text("hypothesis"), metavar="TEXT", help="the claim to check")
    verify.add_argument("--model", metavar="DIR", default=None,
                        help="NLI model folder (default: the shipped nli-minilm-l6)")
    verify.add_argument("--batch-size", type=_positive_int, default=32, metavar="N")
    verify.add_argument("--json", action="store_true", help="JSON: one object, or one line per pair")
    verify.set_defaults(verify_parser=verify)  # cmd_verify reports missing pair halves as usage errors

    train = sub.add_parser("train", help="fine-tune a cross-encoder (NLI verifier or reranker) on your pairs",
                           parents=[common])
    train.add_argument("task", choices=("nli", "reranker"),
                       help='nli: {"premise", "hypothesis", "label": entailment|neutral|contradiction} lines; '
                            'reranker: {"query", "passage", "label": 0..1} lines')
    train.add_argument("--train", dest="train_file", required=True, metavar="FILE.jsonl", help="training pairs")
    train.add_argument("--eval", dest="eval_file", default=None, metavar="FILE.jsonl",
                       help="pairs scored after every epoch (never trained on)")
    train.add_argument("--base", default=None, metavar="MODEL_DIR",
                       help="local encoder or cross-encoder folder (default: the packaged all-MiniLM-L6-v2)")
    train.add_argument("--out", required=True, metavar="DIR", help="model folder to write (replaced atomically)")
    train.add_argument("--epochs", type=_positive_int, default=1, metavar="N")
    train.add_argument("--max-minutes", type=_positive_number, default=None, metavar="M",
                       help="time budget: stop after the running step, evaluate and save")
    train.add_argument("--seed", type=_non_negative_int, default=0, metavar="S")
    train.add_argument("--batch-size", type=_positive_int, default=32, metavar="N")
    train.add_argument("--learning-rate", type=_positive_number, default=5e-5, metavar="LR")
    train.add_argument("--max-length", type=_positive_int, default=None, metavar="N",
                       help="tokens per pair (default 128 for nli, 256 for reranker)")
    train.add_argument("--max-steps", type=_positive_int, default=None, metavar="N", help="stop after N steps")
    train.add_argument("--json", action="store_true", help="print the model card as one JSON line at the end")

    evaluate = sub.add_parser("eval", help="evaluate: score texts with metrics", parents=[common])
    eval_sub = evaluate.add_subparsers(dest="eval_command", required=True, metavar="ACTION")
    _add_eval_score(eval_sub, common)
    from rag.cli_eval import add_eval_run_compare

    add_eval_run_compare(eval_sub, common, _add_answer_options, _positive_int, _positive_number)
    return parser


def _add_eval_score(eval_sub, common: argparse.ArgumentParser) -> None:
    score = eval_sub.add_parser("score", parents=[common],
                                help="score candidate texts against references line by line "
                                     "(bertscore, factuality or nli)")
    score.add_argument("--metric", choices=("bertscore", "factuality", "nli"), required=True)
    score.add_argument("--cands", required=True, metavar="FILE",
                       help="candidates (for factuality: answers; for nli: hypotheses), one per line, or .jsonl")
    score.add_argument("--refs", required=True, metavar="FILE",
                       help="references (for factuality: contexts; for nli: premises), one per line, or .jsonl")
    score.add_argument("--cand-field", default=None, metavar="NAME", help="field of a .jsonl --cands (default text)")
    score.add_argument("--ref-field", default=None, metavar="NAME", help="field of a .jsonl --refs (default text)")
    score.add_argument("--question-field", default=None, metavar="NAME",
                       help="factuality: each answer's question, a field of the .jsonl --cands file")
    score.add_argument("--model", default=None, metavar="DIR",
                       help="bertscore: encoder folder or packaged name (default all-MiniLM-L6-v2); "
                            "factuality/nli: NLI model folder (default the shipped nli-minilm-l6)")
    score.add_argument("--layer", type=_non_negative_int, default=None, metavar="N",
                       help="bertscore: hidden layer (default: the model's last layer, or bert-score's for models it knows)")
    score.add_argument("--idf", action="store_true", help="bertscore: idf weights from the references")
    score.add_argument("--baseline", default=None, metavar="FILE", help="bertscore: bert-score baseline csv to rescale with")
    score.add_argument("--precision", choices=("float32", "bfloat16"), default="float32",
                       help="bertscore: float32 is exact (equal to bert-score); bfloat16 is faster, F1 within ~1e-3")
    score.add_argument("--max-length", type=_positive_int, default=None, metavar="N",
                       help="token window (bertscore cuts longer texts; nli windows longer premises)")
    score.add_argument("--batch-size", type=_positive_int, default=32, metavar="N")
    score.add_argument("--json", action="store_true", help="print one JSON object (corpus scores, signature, per line)")


def _add_answer_options(parser: argparse.ArgumentParser, k_default: int) -> None:
    parser.add_argument("-k", type=_positive_int, default=k_default, metavar="N", help="chunks given to the generator")
    parser.add_argument("--mode", choices=("bm25", "dense", "hybrid"), default=None,
                        help="retrieval mode; default: hybrid when the index has both parts")
    parser.add_argument("--generator", default=None, metavar="SPEC",
                        help="a packaged model (default qwen2.5-coder-1.5b-instruct-q4_k_m; aliases qwen-1.5b, "
                             "qwen-0.5b, smollm2), a .gguf path, transformers:MODEL or openai:MODEL@BASE_URL")
    parser.add_argument("--max-tokens", type=_positive_int, default=256, metavar="N", help="longest answer")
    parser.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    parser.add_argument("--n-ctx", type=_positive_int, default=None, metavar="N",
                        help="context window for local generators (default 4096)")
    parser.add_argument("--filter", dest="filters", type=_filter_pair, action="append", default=[],
                        metavar="KEY=VALUE", help="metadata filter; repeat a key to accept several values")
    parser.add_argument("--verify", choices=("none", "nli", "cascade"), default=None,
                        help="check every claim against the retrieved blocks (default: nli when the shipped NLI "
                             "model is installed or --nli-model is given, else none)")
    parser.add_argument("--nli-model", metavar="DIR", default=None,
                        help="NLI model folder for --verify (default: the shipped nli-minilm-l6)")
    parser.add_argument("--on-unsupported", choices=("annotate", "abstain", "escalate"), default="annotate",
                        help="an answer with a claim not supported: annotate it (default), abstain (answer that "
                             "the documents do not answer), or escalate (re-ask --escalate-to, keep the "
                             "better-verified answer)")
    parser.add_argument("--escalate-to", metavar="SPEC", default=None,
                        help="the larger generator for --on-unsupported escalate (e.g. qwen-1.5b, openai:MODEL@URL)")
    parser.add_argument("--min-confidence", type=_probability, default=None, metavar="P",
                        help="with abstain/escalate, also act on answers whose confidence is below P")


def _progress_enabled(args: argparse.Namespace) -> bool:
    return not args.quiet and sys.stderr.isatty()


def _load_sources(sources: Sequence[str], text_column: str):
    from rag.ingest import load_documents

    result = load_documents(sources, text_column=text_column)
    skipped = [{"path": s.path, "reason": s.reason} for s in result.skipped]
    return result.documents, skipped


def _print_report(report, args: argparse.Namespace, verb: str) -> None:
    data = report.to_json()
    if args.json:
        print(json.dumps(data, ensure_ascii=False))
        return
    print(f"{verb} {data['path']}: {data['documents']} documents, {data['chunks']} chunks "
          f"(+{data['added_chunks']} new, {data['unchanged_chunks']} unchanged, -{data['removed_chunks']} removed), "
          f"{data['skipped']} skipped files, {data['seconds']:.2f} s")
    for skipped in data["skipped_files"]:
        print(f"  skipped {skipped['path']}: {skipped['reason']}")


def cmd_index_build(args: argparse.Namespace) -> int:
    from indexes.bm25 import BM25Params
    from indexes.builder import build_index
    from indexes.config import IndexConfig
    from indexes.dense import DenseParams
    from indexes.tokenizer import TokenizerConfig
    from rag.chunking import ChunkingConfig

    config = IndexConfig(retrievers=args.retrievers,
                         chunking=ChunkingConfig(max_tokens=args.chunk_tokens, overlap=args.overlap),
                         tokenizer=TokenizerConfig(stemmer=args.stemmer),
                         bm25=BM25Params(variant=args.bm25_variant), dense=DenseParams(faiss=args.faiss))
    if config.has_dense:
        from rag.models import resolve_embedder

        resolve_embedder(args.model)  # fail on a bad model before reading any file
    if config.tokenizer.stemmer is not None:
        from indexes.tokenizer import Tokenizer

        Tokenizer(config.tokenizer)
    documents, skipped = _load_sources(args.sources, args.text_column)
    report = build_index(documents, args.out, config, model=args.model, progress=_progress_enabled(args),
                         skipped_files=skipped)
    _print_report(report, args, "built")
    return 0


def cmd_index_add(args: argparse.Namespace) -> int:
    from indexes.builder import add_documents
    from indexes.manifest import read_manifest

    read_manifest(Path(args.index), verify=False)  # a missing index fails before reading sources
    documents, skipped = _load_sources(args.sources, args.text_column)
    report = add_documents(args.index, documents, model=args.model, progress=_progress_enabled(args),
                           skipped_files=skipped)
    _print_report(report, args, "updated")
    return 0


def cmd_index_delete(args: argparse.Namespace) -> int:
    from indexes.builder import delete_documents

    doc_ids = [d for group in args.doc_ids for d in group]
    report = delete_documents(args.index, doc_ids)
    _print_report(report, args, "updated")
    return 0


def cmd_index_info(args: argparse.Namespace) -> int:
    from indexes.index import Index

    index = Index.open(args.index, verify=True)
    manifest = index.manifest
    data = {
        "path": str(index.path),
        "verified": True,
        "format_version": manifest["format_version"],
        "smallrag_version": manifest["smallrag_version"],
        "created_at": manifest.get("created_at"),
        "updated_at": manifest.get("updated_at"),
        "retrievers": list(index.config.retrievers),
        "counts": manifest["counts"],
        "model": manifest.get("model"),
        "config": manifest["config"],
        "bytes": sum(f["bytes"] for f in manifest["files"].values()),
    }
    if args.json:
        print(json.dumps(data, ensure_ascii=False))
        return 0
    counts = data["counts"]
    print(f"index {data['path']} (format {data['format_version']}, smallrag {data['smallrag_version']}) — verified")
    print(f"  {counts['documents']} documents, {counts['chunks']} chunks, {counts['vocabulary']} BM25 terms, "
          f"{_human_bytes(data['bytes'])}")
    print(f"  retrievers: {', '.join(data['retrievers'])}")
    if data["model"]:
        print(f"  model: {data['model']['name']} (dim {data['model']['dimension']}, "
              f"fingerprint {data['model']['fingerprint']}) at {data['model']['path']}")
    print(f"  built {data['created_at']}, updated {data['updated_at']}")
    return 0


def _human_bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def _read_queries(path: str) -> list[tuple[Any, str]]:
    file = Path(path)
    if not file.is_file():
        raise SmallragError(f"queries file {path!r} does not exist; pass a .jsonl file of {{\"id\", \"text\"}} lines")
    queries = []
    with file.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SmallragError(f"{path}:{lineno} is not valid JSON ({exc.msg})") from None
            if not isinstance(record, dict) or not isinstance(record.get("text"), str) or not record["text"].strip():
                raise SmallragError(f"{path}:{lineno} needs a non-empty \"text\" field, e.g. {{\"id\": 1, \"text\": \"...\"}}")
            queries.append((record.get("id", lineno), record["text"]))
    if not queries:
        raise SmallragError(f"queries file {path!r} holds no queries")
    return queries


def filters_from_args(pairs: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    for key, value in pairs:
        filters.setdefault(key, []).append(value)
    return filters


def cmd_search(args: argparse.Namespace) -> int:
    from indexes.index import Index
    from retrievers.factory import open_retriever

    index = Index.open(args.index, verify=False)  # sizes checked; `index info` verifies hashes
    queries = [(None, args.query)] if args.query is not None else _read_queries(args.queries)
    filters = filters_from_args(args.filters)
    retriever = open_retriever(index, args.mode)
    results = retriever.retrieve_batch([text for _, text in queries], args.k, filters or None)
    for (query_id, text), hits in zip(queries, results):
        if args.json:
            print(json.dumps({"query_id": query_id, "query": text,
                              "hits": [{"rank": h.rank, "score": h.score, "doc_id": h.chunk.doc_id,
                                        "chunk_id": h.chunk.id, "text": h.chunk.text} for h in hits]},
                             ensure_ascii=False))
            continue
        label = f"[{query_id}] " if query_id is not None else ""
        print(f"{label}{text}  ({retriever.name}, {len(hits)} hits)")
        for hit in hits:
            snippet = " ".join(hit.chunk.text.split())
            snippet = snippet if len(snippet) <= 110 else snippet[:107] + "..."
            print(f"  {hit.rank:>3}. {hit.score:8.4f}  {hit.chunk.doc_id}  {snippet}")
    return 0


COMMANDS = {
    ("index", "build"): cmd_index_build,
    ("index", "add"): cmd_index_add,
    ("index", "delete"): cmd_index_delete,
    ("index", "info"): cmd_index_info,
    ("search", None): cmd_search,
    ("ask", None): lambda args: _answer_command("cmd_ask", args),
    ("serve", None): lambda args: _answer_command("cmd_serve", args),
    ("train", None): lambda args: _train_command(args),
    ("verify", None): lambda args: _verify_command(args),
    ("eval", "score"): lambda args: _eval_score_command(args),
    ("eval", "run"): lambda args: _eval_command("cmd_eval_run", args),
    ("eval", "compare"): lambda args: _eval_command("cmd_eval_compare", args),
}


def _eval_command(name: str, args: argparse.Namespace) -> int:
    from rag import cli_eval

    return getattr(cli_eval, name)(args)


def _eval_score_command(args: argparse.Namespace) -> int:
    from rag import cli_eval_score

    return cli_eval_score.cmd_eval_score(args)


def _verify_command(args: argparse.Namespace) -> int:
    from rag import cli_verify

    return cli_verify.cmd_verify(args)


def _train_command(args: argparse.Namespace) -> int:
    from rag import cli_train

    return cli_train.cmd_train(args)


def _answer_command(name: str, args: argparse.Namespace) -> int:
    from rag import cli_answer

    return getattr(cli_answer, name)(args)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.debug else logging.ERROR if args.quiet else logging.WARNING
    logging.basicConfig(level=level, format="smallrag: %(levelname)s: %(message)s")
    handler = COMMANDS[(args.command, getattr(args, "index_command", getattr(args, "eval_command", None)))]
    try:
        return handler(args)
    except KeyboardInterrupt:
        what = "stopped" if args.command == "serve" else "interrupted; any index or model folder being written was left as it was"
        print(f"smallrag: {what}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # one line for users; --debug shows where
        if args.debug:
            raise
        message = str(exc) if isinstance(exc, SmallragError) else f"{type(exc).__name__}: {exc}"
        print(f"smallrag: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
