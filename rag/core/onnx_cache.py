"""ONNX exports of installed models, cached once per model and checked before every use.

smallrag exports a model folder to ONNX when ONNX Runtime runs it faster or starts it without
torch: the light query encoder (indexes/light_encoder.py) and the NLI and reranker cross-encoders
(core/onnx_classifier.py). An export lives in `<cache>/onnx/<model fingerprint>/` as `model.onnx`
and `export.json`; the JSON records what wrote it (`kind`, `format`), the model's fingerprint, the
onnxruntime version it was checked with, and the ONNX file's size and sha256, all checked on every
load, so an altered or half-copied file, or one checked under another onnxruntime, is ignored (and
written and checked again) rather than run. onnxruntime is imported inside the functions.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
from pathlib import Path
from typing import Any, Callable

from smallrag.core.atomic import atomic_folder
from smallrag.core.errors import SmallragError
from smallrag.core.models import default_cache_dir, file_digest

logger = logging.getLogger(__name__)

MODEL_FILE = "model.onnx"
META_FILE = "export.json"
BACKENDS = ("auto", "onnx", "torch")
ONNX_ENV = "SMALLRAG_ONNX"  # "0": every "auto" backend runs torch, and the light query encoder is off


def onnxruntime_available() -> bool:
    """onnxruntime and tokenizers (neither imports torch) are installed."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "tokenizers"))


def check_backend(backend: str, device: str) -> None:
    """A clear error for a backend name we do not have, or ONNX Runtime asked off the CPU."""
    if backend not in BACKENDS:
        raise SmallragError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, got {backend!r}")
    if backend == "onnx" and device != "cpu":
        raise SmallragError(f"backend='onnx' runs on the CPU only, got device={device!r}; pass backend='torch' "
                            "(or 'auto') to run on that device")


def onnx_allowed() -> bool:
    """$SMALLRAG_ONNX is not "0" and onnxruntime is installed."""
    return os.environ.get(ONNX_ENV, "1") != "0" and onnxruntime_available()


def wants_onnx(backend: str, device: str) -> bool:
    """Whether a model with this backend setting runs through ONNX Runtime: "onnx", or "auto" on
    the CPU when onnx_allowed()."""
    return backend == "onnx" or (backend == "auto" and device == "cpu" and onnx_allowed())


def encoder_inputs(type_vocab_size: int | None) -> list[str]:
    """The token inputs an exported BERT-style encoder takes: token types only when it has them."""
    return ["input_ids", "attention_mask"] + (["token_type_ids"] if type_vocab_size else [])


def export_folder(fingerprint: str, cache_dir: Path | None = None) -> Path:
    """Where the export of the model with this fingerprint lives."""
    return (cache_dir if cache_dir is not None else default_cache_dir()) / "onnx" / fingerprint


def runtime_version() -> str:
    """The installed onnxruntime's version ("none" without it): an export is checked against torch
    under one version and re-checked under any other, whose kernels may round differently."""
    from importlib import metadata

    try:
        return metadata.version("onnxruntime")
    except metadata.PackageNotFoundError:
        return "none"


def export_meta(folder: Path, fingerprint: str, **fields: Any) -> dict[str, Any]:
    """export.json's content for the ONNX file just written in `folder`: `fields` (kind, format,
    inputs, ...), the fingerprint, the onnxruntime version, and the file's size and sha256."""
    path = folder / MODEL_FILE
    return {**fields, "fingerprint": fingerprint, "onnxruntime": runtime_version(), "size": path.stat().st_size,
            "sha256": file_digest(path)}


def write_meta(folder: Path, meta: dict[str, Any]) -> None:
    (folder / META_FILE).write_text(json.dumps(meta, indent=1), encoding="utf-8")


def read_export(folder: Path, fingerprint: str, *, kind: str, fmt: int) -> dict[str, Any] | None:
    """The export's metadata when `folder` holds a whole, unaltered export of that kind and
    format of the model with this fingerprint, else None (logged when a file is there but wrong)."""
    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    try:
        model = folder / MODEL_FILE
        whole = (isinstance(meta, dict) and meta.get("kind", "query-encoder") == kind and meta.get("format") == fmt
                 and meta.get("fingerprint") == fingerprint and meta.get("onnxruntime") == runtime_version()
                 and model.stat().st_size == meta.get("size") and file_digest(model) == meta.get("sha256"))
    except OSError:
        whole = False
    if not whole:
        logger.warning("ignoring the ONNX export in %s: it is not a whole %s export of this model checked "
                       "under this onnxruntime; it will be written again", folder, kind)
        return None
    return meta


def cached_session(folder: Path, fingerprint: str, *, kind: str, fmt: int, inputs: list[str]) -> Any:
    """An ONNX Runtime session of the export in `folder` when it is whole (read_export) and takes
    `inputs`, else None; a file ONNX Runtime cannot load is a logged warning, never an error (the
    caller falls back to torch, or raises when the user asked for ONNX Runtime)."""
    meta = read_export(folder, fingerprint, kind=kind, fmt=fmt)
    if meta is None or meta.get("inputs") != inputs:
        return None
    return _loaded_session(folder)


def _loaded_session(folder: Path) -> Any:
    """The session of the export in `folder`, or None (logged) when ONNX Runtime cannot load it."""
    try:
        session = onnx_session(folder / MODEL_FILE)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types
        logger.warning("cannot load the ONNX export in %s (%s: %s); using torch", folder, type(exc).__name__, exc)
        return None
    logger.info("loaded the ONNX Runtime export in %s", folder)
    return session


def onnx_session(path: Path, threads: int | None = None) -> Any:
    """An ONNX Runtime CPU session of `path`, all graph optimisations on, its own warnings
    silenced (the library logs; it never prints)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads is not None:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class _Mismatch(Exception):
    pass


def export_checked(target: Path, *, kind: str, fmt: int, fingerprint: str, write: Callable[[Path], None],
                   difference: Callable[[Path], float], tolerance: float, what: str, **fields: Any) -> Any:
    """Write an export to `target` atomically: `write(path)` makes the ONNX file, `difference(path)`
    measures it against the torch model, and it is kept (with export.json) only if that is within
    `tolerance`. Its session, or None (logged) on a mismatch or any failure: a faster path must
    never fail the call that asked for it."""
    try:
        with atomic_folder(target) as tmp:
            write(tmp / MODEL_FILE)
            error = float(difference(tmp / MODEL_FILE))
            if not error <= tolerance:
                raise _Mismatch(error)
            write_meta(tmp, export_meta(tmp, fingerprint, kind=kind, format=fmt, max_abs_error=error, **fields))
    except _Mismatch as exc:
        logger.warning("the ONNX export of %s differs from torch by %.2g (> %g); not kept, using torch",
                       what, exc.args[0], tolerance)
        return None
    except Exception as exc:  # noqa: BLE001 - any exporter or runtime failure: torch still works
        logger.warning("could not export %s to ONNX in %s (%s: %s); using torch", what, target,
                       type(exc).__name__, exc)
        return None
    logger.info("exported %s to ONNX in %s (max |difference| from torch %.1e)", what, target, error)
    return _loaded_session(target)  # just written and hashed: no need to read it back through read_export


def torch_onnx_export(model: Any, forward: Callable[..., Any], inputs: list[str], output: str, path: Path) -> None:
    """Trace `forward(model, **features)` (int64 token tensors named `inputs`, dynamic batch and
    token axes; one output tensor) to `path` with torch's TorchScript exporter, opset 17."""
    import warnings

    import torch

    class Traced(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model  # registered, so its weights become the graph's initializers

        def forward(self, *features):
            return forward(self.model, **dict(zip(inputs, features)))

    module = Traced()

    example = tuple(torch.zeros((1, 8), dtype=torch.long) if name == "token_type_ids"
                    else torch.ones((1, 8), dtype=torch.long) for name in inputs)
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer warnings
        torch.onnx.export(module.eval(), example, str(path), input_names=inputs, output_names=[output],
                          dynamic_axes={n: {0: "batch", 1: "tokens"} for n in inputs} | {output: {0: "batch"}},
                          opset_version=17, dynamo=False)
