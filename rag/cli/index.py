"""`smallrag index build|add|delete|info`: build and maintain index folders."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

from smallrag.cli.common import (UsageError, add_lock_timeout, non_negative_int, positive_int, print_json,
                                 progress_enabled)
from smallrag.core.chunking import ChunkingConfig
from smallrag.indexes.location import is_database_url, parse_database_url


def _retriever_list(text: str) -> tuple[str, ...]:
    kinds = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [k for k in kinds if k not in ("bm25", "dense")]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(f"unknown retriever(s) {unknown or text!r}; use bm25, dense or bm25,dense")
    return kinds


def add_parsers(sub, parent: argparse.ArgumentParser) -> None:
    index = sub.add_parser("index", help="build and maintain index folders", parents=[parent])
    index_sub = index.add_subparsers(dest="index_command", required=True, metavar="ACTION")

    build = index_sub.add_parser("build", help="build an index from files or folders", parents=[parent])
    build.add_argument("sources", nargs="+", metavar="SRC",
                       help="files or folders (.txt .md .json .jsonl .csv .pdf .html .htm .docx)")
    build.add_argument("--out", required=True, metavar="DIR_OR_URL",
                       help="index folder to write: a new path, an empty folder, or an index to replace atomically "
                            "(anything else is refused); or postgresql://USER@HOST:PORT/DB[?index=NAME]")
    build.add_argument("--retrievers", type=_retriever_list, default=("bm25", "dense"),
                       help="which parts to build: bm25, dense or bm25,dense (default)")
    build.add_argument("--model", metavar="PATH_OR_NAME", default=None,
                       help="embedding model: a local folder or a packaged name (default all-MiniLM-L6-v2)")
    build.add_argument("--chunk-tokens", type=positive_int, default=ChunkingConfig.max_tokens, metavar="N")
    build.add_argument("--overlap", type=non_negative_int, default=ChunkingConfig.overlap, metavar="N")
    build.add_argument("--faiss", choices=("flat", "hnsw"), default="flat", help="exact (flat) or HNSW search")
    build.add_argument("--bm25-variant", choices=("okapi", "bm25l", "bm25+"), default="okapi")
    build.add_argument("--stemmer", default=None, metavar="LANG", help="Snowball stemmer, e.g. english (PyStemmer)")
    build.add_argument("--text-column", default="text", help="field/column holding the text in json/jsonl/csv")
    build.add_argument("--engine", choices=("local", "ray"), default="local",
                       help="where chunks are encoded: this process, or Ray workers (pip install 'smallrag[ray]')")
    build.add_argument("--ray-address", default=None, metavar="auto|HOST:PORT",
                       help="--engine ray: join this Ray cluster (auto: the one this machine belongs to); "
                            "default: start a local Ray")
    build.add_argument("--ray-workers", type=positive_int, default=None, metavar="N",
                       help="--engine ray: encoding workers (default: one per CPU of the cluster)")
    build.add_argument("--json", action="store_true", help="print one JSON object")
    add_lock_timeout(build)
    build.set_defaults(handler=cmd_index_build)

    add = index_sub.add_parser("add", help="add or update documents in an index", parents=[parent])
    add.add_argument("index", metavar="DIR_OR_URL")
    add.add_argument("sources", nargs="+", metavar="SRC")
    add.add_argument("--model", metavar="PATH_OR_NAME", default=None,
                     help="must be the model the index was built with (checked)")
    add.add_argument("--text-column", default="text")
    add.add_argument("--json", action="store_true")
    add_lock_timeout(add)
    add.set_defaults(handler=cmd_index_add)

    delete = index_sub.add_parser("delete", help="delete documents by id", parents=[parent])
    delete.add_argument("index", metavar="DIR_OR_URL")
    delete.add_argument("--doc-id", dest="doc_ids", action="append", nargs="+", required=True, metavar="ID")
    delete.add_argument("--json", action="store_true")
    add_lock_timeout(delete)
    delete.set_defaults(handler=cmd_index_delete)

    upgrade = index_sub.add_parser("upgrade", help="rewrite an index folder of format 1 in the current format "
                                                   "(adds and deletes do it on their own)", parents=[parent])
    upgrade.add_argument("index", metavar="DIR")
    upgrade.add_argument("--json", action="store_true")
    add_lock_timeout(upgrade)
    upgrade.set_defaults(handler=cmd_index_upgrade)

    info = index_sub.add_parser("info", help="describe and verify an index", parents=[parent])
    info.add_argument("index", metavar="DIR_OR_URL")
    info.add_argument("--json", action="store_true")
    info.set_defaults(handler=cmd_index_info)


def _load_sources(sources: Sequence[str], text_column: str, progress: bool):
    from smallrag.ingest import load_documents

    result = load_documents(sources, text_column=text_column, progress=progress)
    skipped = [{"path": s.path, "reason": s.reason} for s in result.skipped]
    return result.documents, skipped


def _print_report(report, args: argparse.Namespace, verb: str) -> None:
    data = report.to_json()
    if args.json:
        print_json(data)
        return
    print(f"{verb} {data['path']}: {data['documents']} documents, {data['chunks']} chunks "
          f"(+{data['added_chunks']} new, {data['unchanged_chunks']} unchanged, -{data['removed_chunks']} removed), "
          f"{data['skipped']} skipped files, {data['seconds']:.2f} s")
    for skipped in data["skipped_files"]:
        print(f"  skipped {skipped['path']}: {skipped['reason']}")


def cmd_index_build(args: argparse.Namespace) -> int:
    from smallrag.core.chunking import ChunkingConfig
    from smallrag.indexes.bm25 import BM25Params
    from smallrag.indexes.builder import build_index
    from smallrag.indexes.config import IndexConfig
    from smallrag.indexes.dense import DenseParams
    from smallrag.indexes.target import check_output_folder
    from smallrag.indexes.tokenizer import TokenizerConfig

    config = IndexConfig(retrievers=args.retrievers,
                         chunking=ChunkingConfig(max_tokens=args.chunk_tokens, overlap=args.overlap),
                         tokenizer=TokenizerConfig(stemmer=args.stemmer),
                         bm25=BM25Params(variant=args.bm25_variant), dense=DenseParams(faiss=args.faiss))
    if args.engine == "local" and (args.ray_address is not None or args.ray_workers is not None):
        raise UsageError("--ray-address and --ray-workers need --engine ray")
    encoder = None
    if config.has_dense:
        from smallrag.core.models import resolve_embedder

        resolve_embedder(args.model)  # fail on a bad model before reading any file
        if args.engine == "ray":
            from smallrag.core.ray_session import import_ray
            from smallrag.indexes.ray_encoder import RayEncoder, local_encoder_factory

            import_ray()  # fail before reading any file when Ray is missing
            encoder = RayEncoder(local_encoder_factory(args.model), address=args.ray_address,
                                 workers=args.ray_workers)
    if config.tokenizer.stemmer is not None:
        from smallrag.indexes.tokenizer import Tokenizer

        Tokenizer(config.tokenizer)
    if is_database_url(args.out):  # reachable, with pgvector, before reading any source
        from smallrag.indexes.pg.connection import connect

        connect(parse_database_url(args.out), create_extension=True).close()
    else:
        check_output_folder(args.out, args.sources)  # before reading any source: --out is never a user's folder
    documents, skipped = _load_sources(args.sources, args.text_column, progress_enabled(args))
    report = build_index(documents, args.out, config, encoder=encoder, model=args.model, progress=progress_enabled(args),
                         skipped_files=skipped, sources=args.sources, lock_timeout=args.lock_timeout)
    _print_report(report, args, "built")
    return 0


def cmd_index_add(args: argparse.Namespace) -> int:
    from smallrag.indexes.builder import add_documents
    from smallrag.indexes.manifest import read_manifest

    if is_database_url(args.index):  # a missing index fails before reading sources
        from smallrag.indexes.pg.store import PgIndex

        PgIndex.open(args.index).close()
    else:
        read_manifest(Path(args.index), verify=False)
    documents, skipped = _load_sources(args.sources, args.text_column, progress_enabled(args))
    report = add_documents(args.index, documents, model=args.model, progress=progress_enabled(args),
                           skipped_files=skipped, lock_timeout=args.lock_timeout)
    _print_report(report, args, "updated")
    return 0


def cmd_index_delete(args: argparse.Namespace) -> int:
    from smallrag.indexes.builder import delete_documents

    doc_ids = [d for group in args.doc_ids for d in group]
    report = delete_documents(args.index, doc_ids, lock_timeout=args.lock_timeout)
    _print_report(report, args, "updated")
    return 0


def cmd_index_upgrade(args: argparse.Namespace) -> int:
    from smallrag.indexes.builder import upgrade_index
    from smallrag.indexes.manifest import FORMAT_VERSION

    if is_database_url(args.index):
        raise UsageError("index upgrade is for index folders; a PostgreSQL index is upgraded by rebuilding it")
    upgraded = upgrade_index(args.index, progress=progress_enabled(args), lock_timeout=args.lock_timeout)
    if args.json:
        print_json({"path": args.index, "upgraded": upgraded, "format_version": FORMAT_VERSION})
    else:
        print(f"{'upgraded' if upgraded else 'already current:'} {args.index} (format {FORMAT_VERSION})")
    return 0


def _database_info(url: str) -> dict:
    from smallrag.indexes.pg.store import PgIndex

    index = PgIndex.open(url)
    try:
        info = index.info()
    finally:
        index.close()
    manifest = info["manifest"]
    return {"path": index.path, "verified": True, "store": "postgresql",
            "format_version": manifest["format_version"], "smallrag_version": manifest["smallrag_version"],
            "created_at": manifest.get("created_at"), "updated_at": manifest.get("updated_at"),
            "retrievers": list(index.config.retrievers), "counts": manifest["counts"], "model": manifest.get("model"),
            "config": manifest["config"], "bytes": info["bytes"]}


def cmd_index_info(args: argparse.Namespace) -> int:
    from smallrag.indexes.index import Index

    data = _database_info(args.index) if is_database_url(args.index) else _folder_info(Index.open(args.index, verify=True))
    _print_info(data, args)
    return 0


def _folder_info(index) -> dict:
    manifest = index.manifest
    return {
        "path": str(index.path),
        "verified": True,
        "store": "folder",
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


def _print_info(data: dict, args: argparse.Namespace) -> None:
    if args.json:
        print_json(data)
        return
    counts = data["counts"]
    checked = "verified" if data["store"] == "folder" else "in PostgreSQL"
    print(f"index {data['path']} (format {data['format_version']}, smallrag {data['smallrag_version']}) — {checked}")
    print(f"  {counts['documents']} documents, {counts['chunks']} chunks, {counts['vocabulary']} BM25 terms, "
          f"{_human_bytes(data['bytes'])}")
    print(f"  retrievers: {', '.join(data['retrievers'])}")
    if data["model"]:
        print(f"  model: {data['model']['name']} (dim {data['model']['dimension']}, "
              f"fingerprint {data['model']['fingerprint']}) at {data['model']['path']}")
    print(f"  built {data['created_at']}, updated {data['updated_at']}")


def _human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"
