"""Generator specs (see smallrag.generators.catalogue) turned into generator objects."""

from __future__ import annotations

from typing import Any

from smallrag.generators.catalogue import parse_generator_spec


def make_generator(spec: str | None = None, **options: Any):
    """A generator for `spec` (None: the default); `options` go to the backend's constructor."""
    parsed = parse_generator_spec(spec)
    if parsed.backend == "llama.cpp":
        from smallrag.generators.llama_cpp import LlamaCppGenerator
        return LlamaCppGenerator(parsed.model, **options)
    if parsed.backend == "transformers":
        from smallrag.generators.transformers_backend import TransformersGenerator
        return TransformersGenerator(parsed.model, **options)
    from smallrag.generators.openai_http import OpenAIGenerator
    return OpenAIGenerator(model=parsed.model, base_url=parsed.base_url, **options)
