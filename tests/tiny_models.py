"""Tiny random-weight BERT classifiers built in a test's tmp folder (no download, < 1 s)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Mapping

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ("a the is are of in on and to it was not no cat cats dog dogs paris france capital city tower "
         "eiffel man woman plays playing guitar music sky blue red sun hot cold water river sleeps "
         "sleeping runs running outside inside house car who where what when why how answer question").split()
NLI_LABELS = {0: "entailment", 1: "neutral", 2: "contradiction"}


def make_classifier(folder: Path, id2label: Mapping[int, str] = NLI_LABELS, *, seed: int = 0,
                    hidden: int = 32, max_position: int = 128) -> Path:
    """Save a tiny BertForSequenceClassification with a fast WordPiece tokenizer to `folder`."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    vocab = SPECIALS + [f"{c}" for c in "abcdefghijklmnopqrstuvwxyz0123456789.,?!'[]"] + WORDS
    vocab = list(dict.fromkeys(vocab))
    if "vocab" in inspect.signature(BertTokenizerFast.__init__).parameters:
        tokenizer = BertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)}, do_lower_case=True)
    else:  # older transformers read the vocabulary from a file
        (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
        tokenizer = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=True)
    torch.manual_seed(seed)
    labels = {int(k): v for k, v in id2label.items()}
    config = BertConfig(vocab_size=len(vocab), hidden_size=hidden, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=2 * hidden, max_position_embeddings=max_position,
                        num_labels=len(labels), id2label=labels, label2id={v: k for k, v in labels.items()})
    model = BertForSequenceClassification(config).eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
