"""`smallrag ask` and `smallrag serve`: the answering commands, over smallrag.pipeline.RAG.

Verification: `--verify` defaults to nli when the shipped NLI model is installed (or
`--nli-model` names a folder), else none; `--on-unsupported` and `--escalate-to` set the
pipeline's answer policy (see rag/policy.py). Inconsistent options exit 2 before any model
or index is opened."""

from __future__ import annotations

import argparse
import logging
import json
import sys
from pathlib import Path
from typing import Any

from smallrag.cli.common import (UsageError, add_answer_options, filters_from_args, int_at_least,
                                 non_negative_int, positive_int, positive_number, print_json, query_text, snippet)
from smallrag.core.errors import SmallragError
from smallrag.core.types import (CONTRADICTED, FLAG_CITATION_NOT_SUPPORTING, FLAG_CONTRADICTS_EVIDENCE, Citation,
                                 FLAG_INVALID_CITATION, SUPPORTED, UNSUPPORTED)


def _port(text: str) -> int:
    port = int_at_least(1, "a port from 1 to 65535")(text)
    if port > 65535:
        raise argparse.ArgumentTypeError(f"must be a port from 1 to 65535, got {port}")
    return port


def add_parsers(sub, parent: argparse.ArgumentParser) -> None:
    ask = sub.add_parser("ask", help="answer a question from an index, citing sources", parents=[parent])
    ask.add_argument("index", metavar="DIR")
    ask.add_argument("question", type=query_text, metavar="QUESTION")
    add_answer_options(ask, k_default=5)
    ask.add_argument("--history", metavar="FILE.json", default=None,
                     help='earlier turns: a JSON list of {"role": "user"|"assistant", "content": ...}')
    ask.add_argument("--stream", action="store_true", help="print the answer as it is generated")
    ask.add_argument("--json", action="store_true",
                     help="print one JSON object (with --stream: {\"delta\"} lines, then the object)")
    ask.set_defaults(handler=cmd_ask)

    serve = sub.add_parser("serve", help="serve an index over HTTP (POST /ask, GET /health)", parents=[parent])
    serve.add_argument("index", metavar="DIR")
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=_port, default=8000)
    add_answer_options(serve, k_default=5)
    serve.add_argument("--max-k", type=positive_int, default=50, metavar="N", help="largest k a request may ask")
    serve.add_argument("--max-request-bytes", type=positive_int, default=64_000, metavar="N")
    serve.add_argument("--max-queue", type=non_negative_int, default=16, metavar="N",
                       help="requests that may wait behind the one being answered; past it: 503 with Retry-After")
    serve.add_argument("--request-timeout", type=positive_number, default=300.0, metavar="SECONDS",
                       help="longest time one request may take (504 after it)")
    serve.set_defaults(handler=cmd_serve)


def verifier_choice(args: argparse.Namespace) -> str | None:
    """'nli', 'cascade' or None, from --verify, --nli-model and whether the shipped model exists."""
    if args.verify == "none":
        if args.nli_model is not None:
            raise UsageError("--nli-model needs a verifier; drop --verify none (or pass --verify nli)")
        return None
    if args.verify is not None:
        return args.verify
    from smallrag.verifiers.factory import default_verifier

    return default_verifier(args.nli_model)


def check_policy_options(args: argparse.Namespace, verifier: str | None) -> None:
    """The answer policy's rules (smallrag.policy), worded with the CLI's flags."""
    from smallrag import policy

    rule = policy.broken_rule(args.on_unsupported, has_verifier=verifier is not None,
                              escalate_to=args.escalate_to, min_confidence=args.min_confidence)
    if rule == policy.NEEDS_VERIFIER:
        fix = ("drop --verify none" if args.verify == "none" else
               "the shipped NLI model is not installed: pass --nli-model DIR (a 3-way NLI model folder)")
        raise UsageError(f"--on-unsupported {args.on_unsupported} needs a verifier to judge the answer; {fix}")
    if rule == policy.NEEDS_ESCALATE_TO:
        raise UsageError("--on-unsupported escalate needs --escalate-to SPEC, the larger generator to re-ask "
                         "(e.g. --escalate-to qwen-1.5b or openai:MODEL@BASE_URL)")
    if rule == policy.ESCALATE_TO_UNUSED:
        raise UsageError("--escalate-to is only used with --on-unsupported escalate; add it or drop --escalate-to")
    if rule == policy.MIN_CONFIDENCE_UNUSED:
        raise UsageError("--min-confidence only applies with --on-unsupported abstain or escalate")


def answer_options(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """The pipeline options the answering flags set, checked (UsageError), and the generator options."""
    from smallrag.generators.catalogue import parse_generator_spec

    verifier = verifier_choice(args)
    check_policy_options(args, verifier)
    generator_options: dict[str, Any] = {}
    if args.n_ctx is not None:
        generator_options["n_ctx"] = args.n_ctx
    options: dict[str, Any] = {"k": args.k, "max_tokens": args.max_tokens, "temperature": args.temperature,
                               "verifier": verifier, "verifier_model": args.nli_model,
                               "on_unsupported": args.on_unsupported, "min_confidence": args.min_confidence,
                               "citations": args.citations, "compressor": args.compress,
                               "context_tokens": args.context_tokens}
    if args.escalate_to is not None:
        options["escalate_to"] = args.escalate_to
        # --n-ctx is a llama.cpp option: it reaches the escalation generator only when that is local too.
        local = parse_generator_spec(args.escalate_to).backend == "llama.cpp"
        options["escalate_options"] = generator_options if local else {}
    return options, generator_options


def build_rag(args: argparse.Namespace):
    from smallrag.pipeline import RAG

    options, generator_options = answer_options(args)
    return RAG.from_index(args.index, mode=args.mode, generator=args.generator, generator_options=generator_options,
                          progress=not args.quiet, **options)


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


def _snippet(text: str) -> str:
    return snippet(text, 100)


def _source(citation: Citation) -> str:
    """"manual.pdf p. 14", "guide.html § Install > Linux", or the document id alone."""
    return f"{citation.doc_id} {citation.location}" if citation.location else citation.doc_id


def _print_sources(answer) -> None:
    if answer.citations:
        print("\nSources:")
        for citation in answer.citations:
            print(f"  [{citation.n}] {_source(citation)}: {_snippet(citation.text)}")
    elif not answer.no_answer:
        print("\n(no sources cited: check the answer against the documents)")
    # A block that supports a claim without being cited: the reader needs it to check the claim
    # the "best block" note points at.
    cited = {citation.n for citation in answer.citations}
    supporting = {v.best_block for v in answer.verdicts if v.supported and v.best_block is not None}
    uncited = [n for n in sorted(supporting - cited) if 1 <= n <= len(answer.hits)]
    if uncited:
        print("Supporting blocks the answer does not cite:")
        for n in uncited:
            chunk = answer.hits[n - 1].chunk
            print(f"  [{n}] {_source(Citation.of(n, chunk))}: {_snippet(chunk.text)}")
    if answer.invalid_citations:
        print(f"({answer.invalid_citations} citation(s) to blocks that do not exist were dropped)")


def _marks() -> dict[str, str]:
    marks = {SUPPORTED: "\u2713", CONTRADICTED: "\u2717", UNSUPPORTED: "?"}  # ✓ ✗ ?
    try:
        "".join(marks.values()).encode(sys.stdout.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):  # a terminal that cannot show the ticks
        marks = {SUPPORTED: "+", CONTRADICTED: "x", UNSUPPORTED: "?"}
    return marks


# What a reader should hear about a claim's citations; an uncited claim already says "(uncited)".
_FLAG_TEXT = {
    FLAG_CITATION_NOT_SUPPORTING: "a cited block does not support it",
    FLAG_INVALID_CITATION: "cites a block that does not exist",
    FLAG_CONTRADICTS_EVIDENCE: "a retrieved block contradicts it",
}


def _probability_text(x: float) -> str:
    return "n/a" if x != x else f"{x:.2f}"  # NaN: the claim cites no block


def print_verification(answer) -> None:
    """One line per claim (mark, text, citations, p_entail), then the confidence."""
    if answer.verification is None:
        return
    marks = _marks()
    withheld = " of the withheld answer" if answer.abstained else ""
    print(f"\nClaims{withheld} ({marks[SUPPORTED]} supported, {marks[CONTRADICTED]} contradicted, "
          f"{marks[UNSUPPORTED]} unsupported):")
    for verdict in answer.verdicts:
        cites = " ".join(f"[{n}]" for n in verdict.claim.citations) if verdict.claim.citations else "(uncited)"
        # With evidence citations the cited blocks are the supporting ones: show their evidence's score.
        backing = [span.p_entail for span in verdict.evidence if span.n in verdict.claim.citations]
        line = (f"  {marks.get(verdict.label, '?')} {verdict.claim.text}  {cites}  "
                f"p_entail {_probability_text(max(backing) if backing else verdict.p_entail)}")
        changes = [f"{what} {' '.join(f'[{n}]' for n in numbers)}" for what, numbers in
                   (("dropped", verdict.dropped_citations), ("added", verdict.added_citations)) if numbers]
        if changes:
            line += f"  (citations {', '.join(changes)})"
        if verdict.best_block is not None and verdict.best_block not in verdict.claim.citations:
            line += f" (best block [{verdict.best_block}]: {_probability_text(verdict.p_entail_all)})"
        problems = [_FLAG_TEXT[f] for f in verdict.flags if f in _FLAG_TEXT]
        if problems:
            line += "  <- " + "; ".join(problems)
        print(line)
    calibrated = "" if answer.verification.calibrated else " (raw score, uncalibrated)"
    print(f"confidence: {answer.verification.confidence:.2f}{calibrated}")


def print_policy(answer) -> None:
    if answer.abstained:
        verification = answer.verification
        why = ("it makes no claim that can be checked" if verification is None else
               "not every claim is supported by the documents" if not verification.supported else
               f"its confidence {verification.confidence:.2f} is below --min-confidence")
        print(f"(answer withheld: {why})")
        withheld = [a for a in answer.attempts if a.generator == answer.generator]
        if withheld:
            print(f"Withheld answer: {withheld[-1].text}")
    if answer.escalated:
        print("\nAttempts:")
        text = answer.raw_text if answer.raw_text is not None else answer.text  # attempts keep the generator's text
        same = [i for i, a in enumerate(answer.attempts) if (a.generator, a.text) == (answer.generator, text)]
        for i, attempt in enumerate(answer.attempts):
            kept = "  <- kept" if same and i == same[-1] else ""
            faithfulness = "n/a" if attempt.faithfulness is None else f"{attempt.faithfulness:.2f}"
            confidence = "n/a" if attempt.confidence is None else f"{attempt.confidence:.2f}"
            print(f"  {attempt.generator}: {attempt.seconds:.1f} s, {attempt.completion_tokens} tokens, "
                  f"faithfulness {faithfulness}, confidence {confidence}{kept}")


def _print_evidence(answer) -> None:
    if answer.abstained and answer.hits:
        print("\nRetrieved blocks (the evidence found):")
        for n, hit in enumerate(answer.hits, 1):
            print(f"  [{n}] {hit.chunk.doc_id}: {_snippet(hit.chunk.text)}")


def _print_answer_details(answer) -> None:
    print_policy(answer)
    print_verification(answer)
    _print_sources(answer)
    _print_evidence(answer)


def cmd_ask(args: argparse.Namespace) -> int:
    rag = build_rag(args)
    history = _read_history(args.history)
    filters = filters_from_args(args.filters) or None
    if not args.stream:
        answer = rag.ask(args.question, history=history, filters=filters)
        if args.json:
            print_json(answer.to_json())
        else:
            print(answer.text)
            _print_answer_details(answer)
        return 0
    answer = None
    streamed: list[str] = []
    for item in rag.stream(args.question, history=history, filters=filters):
        if isinstance(item, str):
            streamed.append(item)
            if args.json:
                print_json({"delta": item}, flush=True)
            else:
                sys.stdout.write(item)
                sys.stdout.flush()
        else:
            answer = item
    if args.json:
        print_json(answer.to_json())
    else:
        print()
        if answer.text != "".join(streamed).strip():  # the policy replaced the streamed answer
            print(f"\n(after verification the answer is:)\n{answer.text}")
        _print_answer_details(answer)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from smallrag.server import access_log, serve

    access_log.setLevel(logging.WARNING if args.quiet else logging.INFO)  # one line per request
    rag = build_rag(args)
    print(f"smallrag: serving {args.index} with {rag.generator.name} on http://{args.host}:{args.port} "
          "(POST /ask, GET /health; Ctrl-C to stop)", file=sys.stderr, flush=True)
    serve(rag, host=args.host, port=args.port, max_k=args.max_k, max_request_bytes=args.max_request_bytes,
          request_timeout=args.request_timeout, max_queue=args.max_queue)
    return 0
