"""`smallrag train nli|reranker`: fine-tune a cross-encoder, over verifiers.train."""

from __future__ import annotations

import argparse
import json
import sys


def _command_line(args: argparse.Namespace) -> list[str]:
    """The command as run, every option spelled out (main() may be called with a list, not sys.argv)."""
    command = ["smallrag", "train", args.task, "--train", args.train_file]
    for flag, value in (("--eval", args.eval_file), ("--base", args.base), ("--out", args.out),
                        ("--epochs", args.epochs), ("--max-minutes", args.max_minutes), ("--seed", args.seed),
                        ("--batch-size", args.batch_size), ("--learning-rate", args.learning_rate),
                        ("--max-length", args.max_length), ("--max-steps", args.max_steps)):
        if value is not None:
            command += [flag, str(value)]
    return command


def cmd_train(args: argparse.Namespace) -> int:
    from rag.cli import _progress_enabled
    from verifiers.train import epoch_summary, train_cross_encoder

    # With --json, stdout holds only the card; the per-epoch lines go to stderr.
    report = sys.stderr if args.json else sys.stdout

    def on_epoch(entry) -> None:
        print(epoch_summary(entry), file=report, flush=True)

    result = train_cross_encoder(
        args.task, args.train_file, out=args.out, eval_file=args.eval_file, base=args.base, epochs=args.epochs,
        max_minutes=args.max_minutes, seed=args.seed, batch_size=args.batch_size,
        learning_rate=args.learning_rate, max_length=args.max_length, max_steps=args.max_steps,
        progress=_progress_enabled(args), on_epoch=on_epoch, command=_command_line(args))
    if args.json:
        print(json.dumps(result.card, ensure_ascii=False))
        return 0
    card = result.card
    print(f"saved {result.path}: {args.task} cross-encoder, {card['epochs_run']} epoch(s), {result.steps} steps "
          f"(stopped by {result.stopped_by}), {result.seconds:.1f} s; recipe in {result.path / 'card.json'}")
    return 0
