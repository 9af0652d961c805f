"""Generator specs, as the CLI and config files write them, turned into generator objects.

    qwen2.5-coder-1.5b-instruct-q4_k_m        a packaged GGUF, run by llama.cpp (the default)
    /path/model.gguf                          a local GGUF file, run by llama.cpp
    llama.cpp:NAME|PATH                       the same, explicitly
    transformers:NAME|PATH.gguf|DIR           transformers (a packaged GGUF is de-quantised)
    openai:MODEL@BASE_URL                     an OpenAI-compatible server, key from $OPENAI_API_KEY
"""

from __future__ import annotations

from typing import Any

from rag.errors import SmallragError
from rag.gguf_packages import PACKAGED_GENERATORS

DEFAULT_GENERATOR = "qwen2.5-coder-1.5b-instruct-q4_k_m"
ALIASES = {
    "default": DEFAULT_GENERATOR,
    "qwen-1.5b": DEFAULT_GENERATOR,
    "qwen-0.5b": "qwen2.5-coder-0.5b-instruct-q4_k_m",
    "smollm2": "smollm2-135m-instruct-q4_1",
}
BACKENDS = ("llama.cpp", "transformers", "openai")


def _model_name(model: str) -> str:
    return ALIASES.get(model, model)


def make_generator(spec: str | None = None, **options: Any):
    """A generator for `spec` (see the module doc); `options` go to the backend's constructor."""
    spec = spec if spec is not None else DEFAULT_GENERATOR
    if not isinstance(spec, str) or not spec.strip():
        raise SmallragError(f"generator spec {spec!r} is empty; use e.g. {DEFAULT_GENERATOR!r}")
    backend, sep, rest = spec.partition(":")
    if not sep or backend not in BACKENDS:
        backend, rest = "llama.cpp", spec
    if backend == "llama.cpp":
        from rag.generators.llama_cpp import LlamaCppGenerator
        return LlamaCppGenerator(_model_name(rest), **options)
    if backend == "transformers":
        from rag.generators.transformers_backend import TransformersGenerator
        return TransformersGenerator(_model_name(rest), **options)
    model, at, base_url = rest.rpartition("@")
    if not at or not model or not base_url:
        raise SmallragError(f"generator spec {spec!r}: write openai:MODEL@BASE_URL, "
                            "e.g. openai:qwen2.5@http://127.0.0.1:8080/v1")
    from rag.generators.openai_http import OpenAIGenerator
    return OpenAIGenerator(model=model, base_url=base_url, **options)


def known_generators() -> list[str]:
    return sorted(PACKAGED_GENERATORS) + sorted(ALIASES)

