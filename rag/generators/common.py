"""Input checks every generator backend shares, so they all refuse bad input the same way."""

from __future__ import annotations

from typing import Sequence

from smallrag.core.checks import check_int
from smallrag.core.errors import SmallragError
from smallrag.core.protocols import Prompt

ROLES = ("system", "user", "assistant")


def to_messages(prompt: Prompt) -> list[dict[str, str]]:
    """A plain-string prompt becomes one user message; a message list is checked and copied."""
    if isinstance(prompt, str):
        if not prompt.strip():
            raise SmallragError("the prompt is empty; pass some text")
        return [{"role": "user", "content": prompt}]
    messages = [dict(m) for m in prompt]
    if not messages or any(not {"role", "content"} <= set(m) for m in messages):
        raise SmallragError("messages must be a non-empty list of {'role', 'content'} objects")
    bad_roles = sorted({m["role"] for m in messages} - set(ROLES))
    if bad_roles:
        raise SmallragError(f"unknown message role(s) {bad_roles}; use {list(ROLES)}")
    return messages


def check_sampling(max_tokens: int, temperature: float, stop: Sequence[str] | None = None) -> None:
    check_int("max_tokens", max_tokens, minimum=1, expected="a positive integer")
    if temperature < 0:
        raise SmallragError(f"temperature must be >= 0, got {temperature}")
    if stop is not None and (isinstance(stop, str) or any(not isinstance(s, str) or not s for s in stop)):
        raise SmallragError(f"stop must be a list of non-empty strings, got {stop!r}")
