"""Fine-tune a cross-encoder (an NLI verifier or a reranker) from a local encoder: `smallrag train`.

A plain, seeded torch loop over a Hugging Face sequence classifier: the same seed, data, base
and thread count give the same weights, and the result is an ordinary HF folder that loads with
`smallrag.verifiers.nli.HFNLIModel`, `AutoModelForSequenceClassification` and sentence-transformers'
`CrossEncoder`. Weights are stored in fp16 (half the bytes in the wheel; every loader computes
in fp32 on CPU); the folder also holds `card.json`, the recipe (data hashes, seed, versions,
metrics), and a README.md rendering of it. The folder is published atomically: a failed or
interrupted run leaves an existing one as it was.

Training files are JSON lines:
- nli:      {"premise": ..., "hypothesis": ..., "label": "entailment" | "neutral" | "contradiction"}
- reranker: {"query": ..., "passage": ..., "label": 0 | 1 | a number in [0, 1]}
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import platform
import random
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from smallrag.core.checks import check_int, check_number, is_number
from smallrag.core.errors import SmallragError
from smallrag.core.jsonl import read_jsonl
from smallrag.core.stats import auroc
from smallrag.core.protocols import NLI_COLUMNS

logger = logging.getLogger(__name__)

TASKS = ("nli", "reranker")
FIELDS = {"nli": ("premise", "hypothesis"), "reranker": ("query", "passage")}
DEFAULT_MAX_LENGTH = {"nli": 128, "reranker": 256}
CARD_FILE = "card.json"
# Batches are drawn from pools of this many batches sorted by length, so a batch pads little
# (short SNLI pairs train beside short ones) while the order stays shuffled.
_POOL_BATCHES = 50
_EVAL_BATCH = 64


@dataclass(frozen=True)
class PairFile:
    """A validated training or evaluation file: its pairs and its identity."""

    path: Path
    first: tuple[str, ...]
    second: tuple[str, ...]
    labels: tuple[Any, ...]  # nli: label names; reranker: floats in [0, 1]
    sha256: str
    lines: int

    def __len__(self) -> int:
        return len(self.first)

    def describe(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for label in self.labels:
            key = str(label)
            counts[key] = counts.get(key, 0) + 1
        return {"path": str(self.path), "sha256": self.sha256, "lines": self.lines, "pairs": len(self),
                "label_counts": dict(sorted(counts.items()))}


@dataclass(frozen=True)
class TrainResult:
    path: Path
    task: str
    steps: int
    epochs_run: int
    stopped_by: str  # "epochs", "max_steps" or "time_budget"
    seconds: float
    metrics: tuple[Mapping[str, Any], ...]  # one entry per epoch run
    card: Mapping[str, Any]


# -- reading pairs ---------------------------------------------------------------------------

def _label(task: str, value: Any, where: str) -> Any:
    if task == "nli":
        name = value.strip().lower() if isinstance(value, str) else None
        if name not in NLI_COLUMNS:
            raise SmallragError(f"{where}: unknown label {value!r}; an nli line needs \"label\" set to one of "
                                f"{', '.join(NLI_COLUMNS)}")
        return name
    if not is_number(value) or not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise SmallragError(f"{where}: unknown label {value!r}; a reranker line needs \"label\" 1 (relevant), "
                            "0 (not relevant) or a relevance number between 0 and 1")
    return float(value)


def read_pairs(task: str, path: str | Path) -> PairFile:
    """Read and check a jsonl pair file; a bad line raises SmallragError naming file:line and the fix."""
    if task not in TASKS:
        raise SmallragError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    file = Path(path).expanduser()
    if not file.is_file():
        raise SmallragError(f"training file {str(path)!r} does not exist; pass a .jsonl file of "
                            f"{{{', '.join(repr(f) for f in (*FIELDS[task], 'label'))}}} lines")
    a_field, b_field = FIELDS[task]
    first: list[str] = []
    second: list[str] = []
    labels: list[Any] = []
    for lineno, record in read_jsonl(file, expected=f"a JSON object with {a_field!r}, {b_field!r} and 'label'"):
        where = f"{file}:{lineno}"
        for field in (a_field, b_field, "label"):
            if field not in record:
                raise SmallragError(f"{where}: missing field {field!r}; a {task} line needs "
                                    f"{a_field!r}, {b_field!r} and 'label'")
        for field in (a_field, b_field):
            if not isinstance(record[field], str) or not record[field].strip():
                raise SmallragError(f"{where}: {field!r} must be non-empty text, got {record[field]!r:.60}")
        labels.append(_label(task, record["label"], where))
        first.append(record[a_field])
        second.append(record[b_field])
    if not first:
        raise SmallragError(f"{file} holds no pairs; add {task} lines to train on")
    raw = file.read_bytes()  # the file's identity, recorded on the model card
    return PairFile(file.resolve(), tuple(first), tuple(second), tuple(labels),
                    hashlib.sha256(raw).hexdigest(), len(raw.splitlines()))


# -- the base model --------------------------------------------------------------------------

def _resolve_base(base: str | Path | None) -> tuple[str, Path]:
    from smallrag.core.models import resolve_embedder

    name, path = resolve_embedder(str(base) if base is not None else None)
    if not (path / "config.json").is_file():
        raise SmallragError(f"base model {str(path)!r} has no config.json; pass a Hugging Face encoder folder "
                            "(BERT-like) or an existing cross-encoder")
    return name, path


def _task_labels(task: str, base_config: Mapping[str, Any]) -> tuple[dict[int, str], bool]:
    """(id2label for the trained model, whether the base's classification head is kept).

    A base that already is a classifier for this task (e.g. our shipped NLI model, adapted to a
    user's domain) keeps its head and label order; anything else gets a fresh head."""
    architectures = base_config.get("architectures") or []
    is_classifier = any(str(a).endswith("ForSequenceClassification") for a in architectures)
    raw = base_config.get("id2label") or {}
    id2label = {int(k): str(v) for k, v in raw.items()}
    if task == "nli":
        if is_classifier and len(id2label) == 3:
            from smallrag.verifiers.nli import nli_columns

            try:
                columns = nli_columns(id2label)
            except SmallragError:
                pass
            else:
                return {index: NLI_COLUMNS[n] for n, index in enumerate(columns)}, True
        return dict(enumerate(NLI_COLUMNS)), False
    return {0: "relevance"}, is_classifier and len(id2label) == 1


def _check_out(out: Path, base_path: Path) -> None:
    if out.exists() and not out.is_dir():
        raise SmallragError(f"output {str(out)!r} is a file; pass a folder to write the model into")
    if out.is_dir() and any(out.iterdir()) and not (out / CARD_FILE).is_file():
        # Replacing a folder deletes it: only ever replace a model this command wrote.
        raise SmallragError(f"output folder {str(out)!r} exists and is not a model written by smallrag train "
                            f"(no {CARD_FILE}); pass a new folder or remove it first")
    if out.resolve() in base_path.resolve().parents:
        raise SmallragError(f"output folder {str(out)!r} contains the base model; pass another folder")


# -- batching and metrics --------------------------------------------------------------------

def _train_batches(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool = batch_size * _POOL_BATCHES
    batches: list[list[int]] = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start:start + pool], key=lambda i: (lengths[i], i))
        batches.extend(chunk[j:j + batch_size] for j in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def _collate(encoded: Mapping[str, list], rows: Sequence[int], pad_id: int):
    import torch

    length = max(len(encoded["input_ids"][i]) for i in rows)
    features = {}
    for key in ("input_ids", "attention_mask", "token_type_ids"):
        if key not in encoded:
            continue
        pad = pad_id if key == "input_ids" else 0
        features[key] = torch.tensor([encoded[key][i] + [pad] * (length - len(encoded[key][i])) for i in rows],
                                     dtype=torch.long)
    return features


def _logits(model, encoded: Mapping[str, list], pad_id: int) -> np.ndarray:
    import torch

    n = len(encoded["input_ids"])
    order = sorted(range(n), key=lambda i: len(encoded["input_ids"][i]))
    out = np.zeros((n, model.config.num_labels), dtype=np.float32)
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for start in range(0, n, _EVAL_BATCH):
            rows = order[start:start + _EVAL_BATCH]
            out[rows] = model(**_collate(encoded, rows, pad_id)).logits.float().numpy()
    model.train(was_training)
    return out


def nli_metrics(logits: np.ndarray, gold: Sequence[str], id2label: Mapping[int, str]) -> dict[str, Any]:
    """Accuracy, per-class accuracy (recall) and the confusion counts gold -> predicted."""
    predicted = [id2label[int(i)] for i in logits.argmax(axis=1)]
    confusion = {g: {p: 0 for p in NLI_COLUMNS} for g in NLI_COLUMNS}
    for g, p in zip(gold, predicted):
        confusion[g][p] += 1
    per_class = {g: (confusion[g][g] / sum(row.values()) if sum(row.values()) else None)
                 for g, row in confusion.items()}
    return {"pairs": len(gold), "accuracy": sum(g == p for g, p in zip(gold, predicted)) / len(gold),
            "per_class_accuracy": per_class, "confusion": confusion}


def _selection_score(task: str, metrics: Mapping[str, Any]) -> float:
    value = metrics.get("accuracy") if task == "nli" else metrics.get("auroc")
    return float(value) if value is not None else float("-inf")


def _none_if_nan(value: float) -> float | None:
    return None if math.isnan(value) else value  # JSON has no NaN: a card says null


def reranker_metrics(logits: np.ndarray, gold: Sequence[float], queries: Sequence[str]) -> dict[str, Any]:
    """Pair accuracy at probability 0.5, AUROC, and MRR over queries with both relevant and other passages."""
    scores = logits[:, 0].astype(np.float64)
    positive = np.asarray(gold) >= 0.5
    by_query: dict[str, list[int]] = {}
    for i, query in enumerate(queries):
        by_query.setdefault(query, []).append(i)
    reciprocal = []
    for rows in by_query.values():
        if positive[rows].all() or not positive[rows].any():
            continue
        ranked = sorted(rows, key=lambda i: (-scores[i], i))
        reciprocal.append(1.0 / (1 + next(r for r, i in enumerate(ranked) if positive[i])))
    return {"pairs": len(gold), "accuracy": float(((scores >= 0.0) == positive).mean()),
            "auroc": _none_if_nan(auroc(scores, positive)), "queries": len(reciprocal),
            "mrr": float(np.mean(reciprocal)) if reciprocal else None}


# -- training --------------------------------------------------------------------------------

def _versions() -> dict[str, str]:
    from smallrag.core.version import __version__

    versions = {"smallrag": __version__, "python": platform.python_version()}
    for package in ("torch", "transformers", "sentence-transformers", "tokenizers", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def train_cross_encoder(
    task: str,
    train_file: str | Path,
    *,
    out: str | Path,
    eval_file: str | Path | None = None,
    base: str | Path | None = None,
    epochs: int = 1,
    max_minutes: float | None = None,
    seed: int = 0,
    batch_size: int = 32,
    learning_rate: float = 5e-5,
    max_length: int | None = None,
    warmup_ratio: float = 0.1,
    weight_decay: float = 0.01,
    max_steps: int | None = None,
    progress: bool = True,
    on_epoch: Callable[[Mapping[str, Any]], None] | None = None,
    command: Sequence[str] | None = None,
    keep_best: bool = False,
) -> TrainResult:
    """Fine-tune a cross-encoder for `task` ("nli" or "reranker") and write it to `out`.

    `base` is a local encoder or cross-encoder folder (default: the packaged all-MiniLM-L6-v2);
    a fresh classification head is initialised from `seed`. Training stops after `epochs`, after
    `max_steps` optimizer steps, or once `max_minutes` have passed (the running step finishes,
    then the model is evaluated and saved). `eval_file` is scored after every epoch;
    `on_epoch` receives each epoch's metrics. `command` is recorded in the card. With `keep_best`
    the saved weights are those of the epoch that scored best on `eval_file` (accuracy for nli,
    AUROC for reranker), so the checkpoint is chosen on a held-out slice of the training data."""
    if task not in TASKS:
        raise SmallragError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    if keep_best and eval_file is None:
        raise SmallragError("keep_best needs an eval_file to choose the epoch on; pass --eval FILE.jsonl")
    check_int("epochs", epochs, minimum=1)
    check_number("max_minutes", max_minutes, minimum=0.0, optional=True)
    check_int("seed", seed, minimum=0)
    check_int("batch_size", batch_size, minimum=1)
    check_int("max_steps", max_steps, minimum=1, optional=True)
    check_int("max_length", max_length, minimum=16, optional=True)
    check_number("weight_decay", weight_decay, minimum=0.0)
    check_number("warmup_ratio", warmup_ratio, minimum=0.0)
    if warmup_ratio >= 1:
        raise SmallragError(f"warmup_ratio must be below 1, got {warmup_ratio!r}")
    check_number("learning_rate", learning_rate, above=0, below=1, expected="a number between 0 and 1 (e.g. 5e-5)")
    out = Path(out).expanduser().absolute()
    base_name, base_path = _resolve_base(base)
    _check_out(out, base_path)
    base_config = json.loads((base_path / "config.json").read_text(encoding="utf-8"))
    positions = int(base_config.get("max_position_embeddings") or 512)
    if max_length is not None and max_length > positions:
        raise SmallragError(f"max_length {max_length} exceeds the base model's {positions} positions; "
                            "pass a smaller --max-length")
    max_length = max_length if max_length is not None else min(DEFAULT_MAX_LENGTH[task], positions)
    train = read_pairs(task, train_file)
    evaluation = read_pairs(task, eval_file) if eval_file is not None else None

    import torch

    started = time.monotonic()
    deadline = started + max_minutes * 60 if max_minutes is not None else None
    id2label, kept_head = _task_labels(task, base_config)
    label2id = {name: index for index, name in id2label.items()}
    with torch.random.fork_rng(devices=[]):  # seed our run without disturbing the caller's RNG
        torch.manual_seed(seed)
        model, tokenizer = _load_base(base_path, id2label, label2id, kept_head)
        encode = lambda data: tokenizer(list(data.first), list(data.second), truncation="longest_first",  # noqa: E731
                                        max_length=max_length)
        train_enc = encode(train)
        eval_enc = encode(evaluation) if evaluation is not None else None
        targets = (torch.tensor([label2id[x] for x in train.labels], dtype=torch.long) if task == "nli"
                   else torch.tensor(train.labels, dtype=torch.float32))
        lengths = [len(ids) for ids in train_enc["input_ids"]]
        steps_per_epoch = math.ceil(len(train) / batch_size)
        planned = epochs * steps_per_epoch if max_steps is None else min(max_steps, epochs * steps_per_epoch)
        optimizer, scheduler = _optimizer(model, learning_rate, weight_decay, warmup_ratio, planned)
        logger.info("training %s cross-encoder from %s on %d pairs (%d eval): %d epochs x %d steps, batch %d, "
                    "lr %g, max_length %d, seed %d", task, base_path, len(train),
                    len(evaluation) if evaluation is not None else 0, epochs, steps_per_epoch, batch_size,
                    learning_rate, max_length, seed)
        rng = random.Random(seed)
        history: list[dict[str, Any]] = []
        step = 0
        trained_pairs = 0
        train_seconds = 0.0
        stopped_by = "epochs"
        best: tuple[float, int, dict[str, Any]] | None = None  # (score, epoch, weights copy)
        from smallrag.core.progress import progress_bar

        bar = progress_bar(planned, f"train {task}", "step", progress)
        try:
            model.train()
            for epoch in range(1, epochs + 1):
                batches = _train_batches(lengths, batch_size, rng)
                losses: list[float] = []
                epoch_start = time.monotonic()
                for rows in batches:
                    logits = model(**_collate(train_enc, rows, tokenizer.pad_token_id)).logits
                    if task == "nli":
                        loss = torch.nn.functional.cross_entropy(logits, targets[rows])
                    else:
                        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 0], targets[rows])
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad(set_to_none=True)
                    step += 1
                    trained_pairs += len(rows)
                    losses.append(loss.item())
                    bar.update(1)
                    bar.set_postfix(epoch=epoch, loss=f"{np.mean(losses[-50:]):.4f}", refresh=False)
                    if max_steps is not None and step >= max_steps:
                        stopped_by = "max_steps"
                        break
                    if deadline is not None and time.monotonic() >= deadline:
                        stopped_by = "time_budget"
                        break
                train_seconds += time.monotonic() - epoch_start
                entry: dict[str, Any] = {"epoch": epoch, "steps": step,
                                         "epoch_fraction": round(len(losses) / len(batches), 4),
                                         "train_loss": float(np.mean(losses)),
                                         "seconds": round(time.monotonic() - started, 1)}
                if evaluation is not None:
                    scores = _logits(model, eval_enc, tokenizer.pad_token_id)
                    entry["eval"] = (nli_metrics(scores, evaluation.labels, id2label) if task == "nli"
                                     else reranker_metrics(scores, evaluation.labels, evaluation.first))
                history.append(entry)
                if keep_best:
                    score = _selection_score(task, entry["eval"])
                    if best is None or score > best[0]:
                        best = (score, epoch, {k: v.detach().clone() for k, v in model.state_dict().items()})
                logger.info("epoch %d: %s", epoch, _summary(entry))
                if on_epoch is not None:
                    on_epoch(entry)
                if stopped_by != "epochs":
                    if stopped_by == "time_budget":
                        logger.warning("time budget of %g minutes reached after %d steps (epoch %d); saving",
                                       max_minutes, step, epoch)
                    break
        finally:
            bar.close()
        chosen_epoch = len(history)
        if best is not None:
            chosen_epoch = best[1]
            model.load_state_dict(best[2])
            logger.info("keeping epoch %d of %d (best on the eval file)", chosen_epoch, len(history))

    seconds = time.monotonic() - started
    card = {
        "task": task,
        "labels": {str(k): v for k, v in sorted(id2label.items())},
        "base": {"name": base_name, "path": str(base_path), "fingerprint": _fingerprint(base_path),
                 "head": "kept" if kept_head else f"new, initialised from seed {seed}"},
        "data": {"train": train.describe(), "eval": evaluation.describe() if evaluation is not None else None},
        "seed": seed,
        "epochs_requested": epochs,
        "epochs_run": len(history),
        "epoch_kept": chosen_epoch,
        "selection": "best eval epoch" if keep_best else "last epoch",
        "steps": step,
        "stopped_by": stopped_by,
        "hyperparameters": {"batch_size": batch_size, "learning_rate": learning_rate, "max_length": max_length,
                            "warmup_ratio": warmup_ratio, "weight_decay": weight_decay, "max_steps": max_steps,
                            "max_minutes": max_minutes, "optimizer": "AdamW", "schedule": "linear warmup+decay",
                            "grad_clip": 1.0, "loss": "cross-entropy" if task == "nli" else "binary cross-entropy",
                            "truncation": "longest_first"},
        "wall_seconds": round(seconds, 1),
        "train_seconds": round(train_seconds, 1),
        "train_pairs_per_second": round(trained_pairs / train_seconds, 2) if train_seconds > 0 else None,
        "torch_threads": torch.get_num_threads(),
        "weights_dtype": "float16",
        "versions": _versions(),
        "metrics": history,
        "command": list(command) if command is not None else None,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    _save(model, tokenizer, out, card)
    logger.info("saved %s cross-encoder to %s (%d steps, %.0f s)", task, out, step, seconds)
    return TrainResult(out, task, step, len(history), stopped_by, seconds, tuple(history), card)


def _fingerprint(path: Path) -> str:
    from smallrag.core.models import model_fingerprint

    return model_fingerprint(path)


def _load_base(base_path: Path, id2label: dict[int, str], label2id: dict[str, int], kept_head: bool):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(base_path)
        model = AutoModelForSequenceClassification.from_pretrained(
            base_path, num_labels=len(id2label), id2label=id2label, label2id=label2id, dtype=torch.float32,
            ignore_mismatched_sizes=not kept_head)
    except (OSError, ValueError) as exc:
        raise SmallragError(f"cannot load the base model in {base_path}: {exc}") from exc
    if not getattr(tokenizer, "is_fast", False):
        raise SmallragError(f"the base model in {base_path} has no fast tokenizer (tokenizer.json), which the "
                            "NLI verifier needs; pass a base folder that holds tokenizer.json")
    model.config.problem_type = "single_label_classification" if len(id2label) > 1 else "regression"
    return model, tokenizer


def _optimizer(model, learning_rate: float, weight_decay: float, warmup_ratio: float, total_steps: int):
    import torch

    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        (no_decay if name.endswith("bias") or "LayerNorm" in name else decay).append(parameter)
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=learning_rate)
    warmup = int(total_steps * warmup_ratio)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _save(model, tokenizer, out: Path, card: Mapping[str, Any]) -> None:
    import torch

    from smallrag.core.atomic import atomic_folder

    with atomic_folder(out) as tmp:
        model.to(torch.float16).save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        config_file = tmp / "config.json"
        config = json.loads(config_file.read_text(encoding="utf-8"))
        # The weights are fp16 on disk only; loaders that honour config dtype ("auto") must compute
        # in fp32, as fp16 matmuls on CPU are slow and round differently.
        for key in ("dtype", "torch_dtype"):
            if key in config:
                config[key] = "float32"
        config_file.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        if not (tmp / "tokenizer.json").is_file():
            raise SmallragError(f"the tokenizer did not save a tokenizer.json into {out}; the NLI verifier needs "
                                "a fast tokenizer")
        write_card(tmp, card)


def write_card(folder: Path, card: Mapping[str, Any]) -> None:
    """The last step of publishing a model folder: its card.json and README.md (rendered from the
    card), and every file made world-readable."""
    (folder / CARD_FILE).write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (folder / "README.md").write_text(render_card(card), encoding="utf-8")
    for path in folder.iterdir():  # safetensors writes through a private (0600) temp file
        path.chmod(0o644)


# -- the card as text ------------------------------------------------------------------------

def _summary(entry: Mapping[str, Any]) -> str:
    text = f"{entry['steps']} steps, train loss {entry['train_loss']:.4f}"
    metrics = entry.get("eval")
    if metrics is None:
        return text
    text += f", eval accuracy {metrics['accuracy']:.4f}"
    if "per_class_accuracy" in metrics:
        text += " (" + ", ".join(f"{k} {v:.3f}" for k, v in metrics["per_class_accuracy"].items()
                                 if v is not None) + ")"
    else:
        for key in ("auroc", "mrr"):
            if metrics.get(key) is not None:
                text += f", {key.upper()} {metrics[key]:.4f}"
    return text


def epoch_summary(entry: Mapping[str, Any]) -> str:
    """One line for an epoch's metrics, as `smallrag train` prints it."""
    return f"epoch {entry['epoch']}: {_summary(entry)}"


def render_card(card: Mapping[str, Any]) -> str:
    """A short README.md for the model folder, from its card."""
    train = card["data"]["train"]
    evaluation = card["data"]["eval"]
    lines = [
        f"# smallrag {card['task']} cross-encoder",
        "",
        f"Fine-tuned by `smallrag train {card['task']}` from **{card['base']['name']}** "
        f"(fingerprint `{card['base']['fingerprint']}`, head {card['base']['head']}).",
        f"Labels: {', '.join(f'{k} = {v}' for k, v in card['labels'].items())}. Weights are fp16 safetensors.",
        "",
        "| data | file | sha256 | pairs | labels |",
        "|---|---|---|---|---|",
    ]
    for name, data in (("train", train), ("eval", evaluation)):
        if data is not None:
            lines.append(f"| {name} | `{Path(data['path']).name}` | `{data['sha256'][:16]}…` | {data['pairs']} | "
                         + ", ".join(f"{k}: {v}" for k, v in data["label_counts"].items()) + " |")
    hp = card["hyperparameters"]
    lines += [
        "",
        f"Seed {card['seed']}; {card['epochs_run']} of {card['epochs_requested']} epochs, {card['steps']} steps "
        f"(stopped by {card['stopped_by']}); batch {hp['batch_size']}, learning rate {hp['learning_rate']}, "
        f"max length {hp['max_length']}; {card['wall_seconds']} s wall time on {card['torch_threads']} threads.",
        "",
        "Metrics per epoch:",
        "",
    ]
    lines += [f"- {epoch_summary(entry)}" for entry in card["metrics"]]
    mix = card.get("interpolation")
    if mix:  # a weight-space mix of this fine-tune with the model it started from
        lines += ["", f"Shipped weights: (1 - {mix['alpha']}) × `{Path(mix['base']).name}` + {mix['alpha']} × "
                      f"this fine-tune, per tensor ({mix['rule']}); the metrics above are the fine-tune's."]
    decision = card.get("decision")
    if decision:
        lines += ["", "Decision rule: " + ", ".join(f"{k} = {v}" for k, v in decision.items()) + "."]
    lines += ["", "Versions: " + ", ".join(f"{k} {v}" for k, v in card["versions"].items()), ""]
    if card.get("command"):
        lines += ["Command:", "", "    " + " ".join(card["command"]), ""]
    lines += ["Load it with `smallrag.verifiers.nli.HFNLIModel(folder)` (NLI) or `sentence_transformers.CrossEncoder(folder)`; "
              "the full recipe is in `card.json`.", ""]
    return "\n".join(lines)
