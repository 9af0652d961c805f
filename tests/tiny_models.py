"""Tiny random-weight BERT models built in a test's tmp folder (no download, < 1 s each).

One builder, `save_tiny_bert`, serves the NLI/reranker classifiers, the bare encoders that
`smallrag train` fine-tunes and BERTScore reads, and the sentence-transformers folder of the
dense-index tests.
torch and transformers are imported inside the functions, so collecting the tests stays cheap."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Mapping, Sequence

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ("a the is are of in on and to it was not no cat cats dog dogs paris france capital city tower "
         "eiffel man woman plays playing guitar music sky blue red sun hot cold water river sleeps "
         "sleeping runs running outside inside house car who where what when why how answer question").split()
CHARACTERS = list("abcdefghijklmnopqrstuvwxyz0123456789.,?!'[]")
NLI_LABELS = {0: "entailment", 1: "neutral", 2: "contradiction"}


def save_tiny_bert(folder: Path, vocab: Sequence[str], *, id2label: Mapping[int, str] | None = None, seed: int = 0,
                   hidden: int = 32, layers: int = 2, max_position: int = 128) -> Path:
    """Save a random BERT (2 layers unless told) with a fast WordPiece tokenizer over `vocab` to
    `folder`: a bare BertModel, or a BertForSequenceClassification with the labels `id2label`."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertModel, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    vocab = list(dict.fromkeys(vocab))
    if "vocab" in inspect.signature(BertTokenizerFast.__init__).parameters:  # transformers >= 5 ignores vocab_file
        tokenizer = BertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)}, do_lower_case=True)
    else:  # older transformers read the vocabulary from a file
        (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
        tokenizer = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=True)
    # a tokenizer that silently fell back to another vocabulary would make every test meaningless
    assert tokenizer.get_vocab() == {w: i for i, w in enumerate(vocab)}, "the tiny tokenizer lost its vocabulary"
    torch.manual_seed(seed)
    shape = dict(vocab_size=len(vocab), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2,
                 intermediate_size=2 * hidden, max_position_embeddings=max_position)
    if id2label is None:
        model = BertModel(BertConfig(**shape))
    else:
        labels = {int(k): v for k, v in id2label.items()}
        config = BertConfig(**shape, num_labels=len(labels), id2label=labels, label2id={v: k for k, v in labels.items()})
        model = BertForSequenceClassification(config)
    model.eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def make_classifier(folder: Path, id2label: Mapping[int, str] = NLI_LABELS, *, seed: int = 0,
                    hidden: int = 32, max_position: int = 128) -> Path:
    """A tiny BertForSequenceClassification (3-way NLI labels unless told) to `folder`."""
    return save_tiny_bert(folder, SPECIALS + CHARACTERS + WORDS, id2label=id2label, seed=seed, hidden=hidden,
                          max_position=max_position)


def make_sentence_transformer(root: Path, vocab: Sequence[str], *, hidden: int = 32,
                              max_seq_length: int = 64) -> tuple[Path, Path]:
    """(sentence-transformers folder, plain Hugging Face folder) of one tiny random BERT with mean pooling."""
    try:
        from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    except ImportError:  # older sentence-transformers
        from sentence_transformers.models import Pooling, Transformer
    from sentence_transformers import SentenceTransformer

    hf = save_tiny_bert(root / "tiny-hf", vocab, hidden=hidden)
    transformer = Transformer(str(hf), max_seq_length=max_seq_length)
    st = root / "tiny-st"
    SentenceTransformer(modules=[transformer, Pooling(hidden, pooling_mode="mean")], device="cpu").save(str(st))
    return st, hf
