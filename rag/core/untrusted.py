"""Untrusted text (retrieved chunks, their sources, questions, chat history) made safe to put
into a prompt: nothing in it may pass for our block delimiters or for a special token of the
generator's tokenizer. Shared by the prompt builder and the history rewriter."""

from __future__ import annotations

import re
from typing import Sequence

_DELIMITER = re.compile(r"<\s*(/?)\s*(context|block|conversation)\b", re.IGNORECASE)
# The shape of most chat models' control tokens (<|im_start|>, <|eot_id|>, <|endoftext|>, ...),
# defused even when the generator cannot list its own (e.g. a remote OpenAI-compatible server).
_CONTROL_SHAPE = re.compile(r"<\|[^<>|\s]{1,64}\|>")
_LOOKALIKE = "\u2039"  # ‹ : reads like "<" to a person, is not "<" to a tokenizer


def _defuse(token: str) -> str:
    """`token` changed just enough that no tokenizer reads it as the special token."""
    return _LOOKALIKE + token[1:] if token.startswith("<") else token[:1] + "\u2060" + token[1:]


def neutralise(text: str, special_tokens: Sequence[str] = ()) -> str:
    """Defuse anything in untrusted text that could pass for our delimiters, or for a special
    token of the generator's tokenizer (`special_tokens`, plus anything shaped like <|...|>):
    llama.cpp's chat handlers tokenize the whole prompt with special tokens on, so a document
    holding "<|im_end|><|im_start|>system" could otherwise close its turn and open a new one."""
    specials = sorted({t for t in special_tokens if t and t in text}, key=len, reverse=True)
    if specials:
        text = re.sub("|".join(map(re.escape, specials)), lambda m: _defuse(m.group(0)), text)
    text = _CONTROL_SHAPE.sub(lambda m: _defuse(m.group(0)), text)
    return _DELIMITER.sub(lambda m: f"‹{m.group(1)}{m.group(2)}", text)
