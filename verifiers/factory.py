"""Build the verifier a spec names: 'nli', 'cascade', a Verifier object, or None.

Beside smallrag.retrievers.factory and smallrag.generators.factory. The LLM judge of a cascade
arrives as a built Generator: turning a generator spec into one is the app layer's step (the
pipeline), since the verifiers may not import the generators.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smallrag.core.errors import SmallragError
from smallrag.core.protocols import Generator, Verifier

VERIFIER_NAMES = ("nli", "cascade")


def default_verifier(model: str | Path | None = None) -> str | None:
    """'nli' when an NLI model is given or the shipped one is installed, else None: verify by
    default wherever it is possible."""
    if model is not None:
        return "nli"
    from smallrag.core.defaults import DEFAULT_NLI, MODELS_DIR

    return "nli" if (MODELS_DIR / DEFAULT_NLI / "config.json").is_file() else None


def make_verifier(spec: Any, model: str | Path | None = None, judge: Generator | None = None) -> Verifier | None:
    """A verifier for `spec`: None, a Verifier object, 'nli' (the NLI `model` folder, default the
    shipped one) or 'cascade' (that NLI verifier, then an LLM judge on the Generator `judge` for
    the claims it is unsure about). Verifier modules are imported only here."""
    if judge is not None and spec != "cascade":
        raise SmallragError(f"judge is only used by verifier='cascade' (got verifier={spec!r}); "
                            "set verifier='cascade' or drop judge")
    if spec is None:
        if model is not None:
            raise SmallragError("verifier_model is set but no verifier is; pass verifier='nli' (or 'cascade')")
        return None
    if not isinstance(spec, str):
        if model is not None:
            raise SmallragError("verifier_model only applies to verifier='nli' or 'cascade', not to a "
                                f"{type(spec).__name__} object; configure the object's model yourself")
        return spec
    if spec not in VERIFIER_NAMES:
        raise SmallragError(f"unknown verifier {spec!r}; use one of {', '.join(map(repr, VERIFIER_NAMES))}, "
                            "a Verifier object, or None")
    if spec == "cascade" and judge is None:
        raise SmallragError("verifier='cascade' needs judge: the Generator the LLM judge asks "
                            "(RAG.from_index builds the default one)")
    from smallrag.core.defaults import DEFAULT_NLI, resolve_model_folder
    from smallrag.verifiers.nli_verifier import NLIVerifier

    nli = NLIVerifier(resolve_model_folder(model, DEFAULT_NLI))  # fails now, not after generating, if missing
    if spec == "nli":
        return nli
    from smallrag.verifiers.cascade import CascadeVerifier
    from smallrag.verifiers.llm_judge import LLMJudgeVerifier

    return CascadeVerifier(nli, LLMJudgeVerifier(judge))
