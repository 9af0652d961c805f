"""The generator catalogue: the default model, its aliases, the backends, and the one parser of
generator specs that the factory, the CLI, the pipeline and the eval runner share.

    qwen2.5-coder-1.5b-instruct-q4_k_m        a packaged GGUF, run by llama.cpp (the default)
    /path/model.gguf                          a local GGUF file, run by llama.cpp
    llama.cpp:NAME|PATH                       the same, explicitly
    transformers:NAME|PATH.gguf|DIR           transformers (a packaged GGUF is de-quantised)
    openai:MODEL@BASE_URL                     an OpenAI-compatible server, key from $OPENAI_API_KEY

Imports no backend, so every backend may import it.
"""

from __future__ import annotations

from dataclasses import dataclass

from smallrag.core.errors import SmallragError

DEFAULT_GENERATOR = "qwen2.5-coder-1.5b-instruct-q4_k_m"
ALIASES = {
    "default": DEFAULT_GENERATOR,
    "qwen-1.5b": DEFAULT_GENERATOR,
    "qwen-0.5b": "qwen2.5-coder-0.5b-instruct-q4_k_m",
    "smollm2": "smollm2-135m-instruct-q4_1",
}
BACKENDS = ("llama.cpp", "transformers", "openai")


def model_name(model: str) -> str:
    """An alias's packaged name; any other name or path unchanged."""
    return ALIASES.get(model, model)


@dataclass(frozen=True)
class GeneratorSpec:
    backend: str  # one of BACKENDS
    model: str  # aliases resolved; for openai the served model's name
    base_url: str | None = None  # openai only


def parse_generator_spec(spec: str | None) -> GeneratorSpec:
    """`spec` (see the module doc; None is the default generator) split into backend and model."""
    spec = spec if spec is not None else DEFAULT_GENERATOR
    if not isinstance(spec, str) or not spec.strip():
        raise SmallragError(f"generator spec {spec!r} is empty; use e.g. {DEFAULT_GENERATOR!r}")
    backend, sep, rest = spec.partition(":")
    if not sep or backend not in BACKENDS:
        backend, rest = "llama.cpp", spec
    if backend != "openai":
        return GeneratorSpec(backend, model_name(rest))
    model, at, base_url = rest.rpartition("@")
    if not at or not model or not base_url:
        raise SmallragError(f"generator spec {spec!r}: write openai:MODEL@BASE_URL, "
                            "e.g. openai:qwen2.5@http://127.0.0.1:8080/v1")
    return GeneratorSpec(backend, model, base_url)
