"""`smallrag train nli|reranker`: fine-tune a cross-encoder, over smallrag.verifiers.train."""

from __future__ import annotations

import argparse
import sys

from smallrag.cli.common import non_negative_int, positive_int, positive_number, print_json, progress_enabled


def add_parsers(sub, parent: argparse.ArgumentParser) -> None:
    train = sub.add_parser("train", help="fine-tune a cross-encoder (NLI verifier or reranker) on your pairs",
                           parents=[parent])
    train.add_argument("task", choices=("nli", "reranker"),
                       help='nli: {"premise", "hypothesis", "label": entailment|neutral|contradiction} lines; '
                            'reranker: {"query", "passage", "label": 0..1} lines')
    train.add_argument("--train", dest="train_file", required=True, metavar="FILE.jsonl", help="training pairs")
    train.add_argument("--eval", dest="eval_file", default=None, metavar="FILE.jsonl",
                       help="pairs scored after every epoch (never trained on)")
    train.add_argument("--base", default=None, metavar="MODEL_DIR",
                       help="local encoder or cross-encoder folder (default: the packaged all-MiniLM-L6-v2)")
    train.add_argument("--out", required=True, metavar="DIR", help="model folder to write (replaced atomically)")
    train.add_argument("--epochs", type=positive_int, default=1, metavar="N")
    train.add_argument("--max-minutes", type=positive_number, default=None, metavar="M",
                       help="time budget: stop after the running step, evaluate and save")
    train.add_argument("--seed", type=non_negative_int, default=0, metavar="S")
    train.add_argument("--batch-size", type=positive_int, default=32, metavar="N")
    train.add_argument("--learning-rate", type=positive_number, default=5e-5, metavar="LR")
    train.add_argument("--max-length", type=positive_int, default=None, metavar="N",
                       help="tokens per pair (default 128 for nli, 256 for reranker)")
    train.add_argument("--max-steps", type=positive_int, default=None, metavar="N", help="stop after N steps")
    train.add_argument("--keep-best", action="store_true",
                       help="save the epoch that scored best on --eval instead of the last one")
    train.add_argument("--json", action="store_true", help="print the model card as one JSON line at the end")
    train.set_defaults(handler=cmd_train)


def _command_line(args: argparse.Namespace) -> list[str]:
    """The command as run, every option spelled out (main() may be called with a list, not sys.argv)."""
    command = ["smallrag", "train", args.task, "--train", args.train_file]
    for flag, value in (("--eval", args.eval_file), ("--base", args.base), ("--out", args.out),
                        ("--epochs", args.epochs), ("--max-minutes", args.max_minutes), ("--seed", args.seed),
                        ("--batch-size", args.batch_size), ("--learning-rate", args.learning_rate),
                        ("--max-length", args.max_length), ("--max-steps", args.max_steps)):
        if value is not None:
            command += [flag, str(value)]
    if args.keep_best:
        command.append("--keep-best")
    return command


def cmd_train(args: argparse.Namespace) -> int:
    from smallrag.verifiers.train import epoch_summary, train_cross_encoder

    # With --json, stdout holds only the card; the per-epoch lines go to stderr.
    report = sys.stderr if args.json else sys.stdout

    def on_epoch(entry) -> None:
        print(epoch_summary(entry), file=report, flush=True)

    result = train_cross_encoder(
        args.task, args.train_file, out=args.out, eval_file=args.eval_file, base=args.base, epochs=args.epochs,
        max_minutes=args.max_minutes, seed=args.seed, batch_size=args.batch_size,
        learning_rate=args.learning_rate, max_length=args.max_length, max_steps=args.max_steps,
        progress=progress_enabled(args), on_epoch=on_epoch, command=_command_line(args),
        keep_best=args.keep_best)
    if args.json:
        print_json(result.card)
        return 0
    card = result.card
    print(f"saved {result.path}: {args.task} cross-encoder, {card['epochs_run']} epoch(s), {result.steps} steps "
          f"(stopped by {result.stopped_by}), {result.seconds:.1f} s; recipe in {result.path / 'card.json'}")
    return 0
