"""Map a verifier's raw score to a calibrated probability, fitted on held-out labelled data.

Two methods: isotonic regression (pool-adjacent-violators, monotone step function, stored as
its breakpoints) and temperature scaling (Platt: one slope and one bias on the score's logit).
A calibration is a small JSON file stored beside the model it was fitted for."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from smallrag.core.errors import SmallragError

CALIBRATION_FILE = "calibration.json"
FORMAT = "smallrag-calibration/1"
_EPS = 1e-6


def _check(scores: Sequence[float], labels: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise SmallragError(f"scores and labels must be two equal-length lists, got {x.shape} and {y.shape}")
    if len(x) < 2 or not set(np.unique(y)) <= {0.0, 1.0} or len(np.unique(y)) < 2:
        raise SmallragError("calibration needs at least one positive (1) and one negative (0) label, and only 0/1")
    if not np.all(np.isfinite(x)):
        raise SmallragError("calibration scores must be finite numbers")
    return x, y


def _pav(x: np.ndarray, y: np.ndarray) -> tuple[list[float], list[float]]:
    """Isotonic (non-decreasing) fit of y on x; returns breakpoints (xs, ys) for interpolation."""
    order = np.lexsort((y, x))
    x, y = x[order], y[order]
    # merge equal x first, so ties get one value
    ux, start = np.unique(x, return_index=True)
    sums = np.add.reduceat(y, start)
    counts = np.diff(np.append(start, len(x))).astype(np.float64)
    blocks: list[list[float]] = []  # [sum, count, x_lo, x_hi]
    for xi, s, c in zip(ux, sums, counts):
        blocks.append([s, c, xi, xi])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] >= blocks[-1][0] / blocks[-1][1]:
            s2, c2, _, hi = blocks.pop()
            blocks[-1][0] += s2
            blocks[-1][1] += c2
            blocks[-1][3] = hi
    xs: list[float] = []
    ys: list[float] = []
    for s, c, lo, hi in blocks:
        value = s / c
        xs.append(float(lo))
        ys.append(value)
        if hi > lo:
            xs.append(float(hi))
            ys.append(value)
    return xs, ys


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def _platt(x: np.ndarray, y: np.ndarray, iterations: int = 100) -> tuple[float, float]:
    """Logistic regression of y on logit(x) by Newton's method (deterministic, no dependency)."""
    z = _logit(x)
    a, b = 1.0, 0.0
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-(a * z + b)))
        w = p * (1 - p) + 1e-9
        grad = np.array([np.sum((p - y) * z), np.sum(p - y)])
        hess = np.array([[np.sum(w * z * z), np.sum(w * z)], [np.sum(w * z), np.sum(w)]]) + 1e-6 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        a, b = a - step[0], b - step[1]
        if np.max(np.abs(step)) < 1e-10:
            break
    return float(a), float(b)


@dataclass(frozen=True)
class Calibration:
    """A fitted score -> probability map. `apply` is monotone non-decreasing."""

    method: str  # "isotonic" or "temperature"
    xs: tuple[float, ...] = ()
    ys: tuple[float, ...] = ()
    slope: float = 1.0
    bias: float = 0.0
    fitted_on: str = ""  # what data, so a reader knows what the probability means
    n: int = 0
    metrics: dict[str, float] = field(default_factory=dict, hash=False)

    @classmethod
    def fit(cls, scores: Sequence[float], labels: Sequence[int], *, method: str = "isotonic",
            fitted_on: str = "") -> "Calibration":
        x, y = _check(scores, labels)
        if method == "isotonic":
            xs, ys = _pav(x, y)
            cal = cls("isotonic", tuple(xs), tuple(ys), fitted_on=fitted_on, n=len(x))
        elif method == "temperature":
            slope, bias = _platt(x, y)
            cal = cls("temperature", slope=slope, bias=bias, fitted_on=fitted_on, n=len(x))
        else:
            raise SmallragError(f"unknown calibration method {method!r}; use 'isotonic' or 'temperature'")
        p = cal.apply(x)
        metrics = {"brier_raw": float(np.mean((x - y) ** 2)), "brier": float(np.mean((p - y) ** 2)),
                   "ece_raw": expected_calibration_error(x, y), "ece": expected_calibration_error(p, y)}
        return cls(cal.method, cal.xs, cal.ys, cal.slope, cal.bias, fitted_on, len(x), metrics)

    def apply(self, scores: Any) -> np.ndarray:
        x = np.asarray(scores, dtype=np.float64)
        if self.method == "isotonic":
            return np.interp(x, self.xs, self.ys)
        return 1 / (1 + np.exp(-(self.slope * _logit(x) + self.bias)))

    def __call__(self, score: float) -> float:
        return float(self.apply(np.array([score]))[0])

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["xs"], out["ys"] = list(self.xs), list(self.ys)
        return {"format": FORMAT, **out}

    def save(self, folder: str | Path) -> Path:
        path = Path(folder) / CALIBRATION_FILE
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1), encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Calibration":
        path = Path(path)
        if path.is_dir():
            path = path / CALIBRATION_FILE
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SmallragError(f"cannot read the calibration file {path}: {exc}") from exc
        if not isinstance(obj, dict) or obj.get("format") != FORMAT:
            raise SmallragError(f"{path} is not a smallrag calibration file (format {FORMAT!r})")
        try:
            cal = cls(obj["method"], tuple(map(float, obj.get("xs", ()))), tuple(map(float, obj.get("ys", ()))),
                      float(obj.get("slope", 1.0)), float(obj.get("bias", 0.0)), str(obj.get("fitted_on", "")),
                      int(obj.get("n", 0)), dict(obj.get("metrics", {})))
        except (KeyError, TypeError, ValueError) as exc:
            raise SmallragError(f"the calibration file {path} is malformed: {exc}") from exc
        if cal.method not in ("isotonic", "temperature") or (cal.method == "isotonic" and (
                len(cal.xs) != len(cal.ys) or not cal.xs)):
            raise SmallragError(f"the calibration file {path} is malformed (method {cal.method!r})")
        return cal


def reliability_bins(probs: Sequence[float], labels: Sequence[int], n_bins: int = 10) -> list[dict[str, float]]:
    """Equal-width bins of predicted probability: count, mean prediction, observed frequency."""
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    edges = np.linspace(0, 1, n_bins + 1)
    index = np.clip(np.digitize(p, edges[1:-1], right=False), 0, n_bins - 1)
    bins = []
    for b in range(n_bins):
        mask = index == b
        count = int(mask.sum())
        bins.append({"lo": float(edges[b]), "hi": float(edges[b + 1]), "count": count,
                     "mean_prob": float(p[mask].mean()) if count else math.nan,
                     "frequency": float(y[mask].mean()) if count else math.nan})
    return bins


def expected_calibration_error(probs: Sequence[float], labels: Sequence[int], n_bins: int = 10) -> float:
    total = len(probs)
    if total == 0:
        return math.nan
    return float(sum(b["count"] / total * abs(b["mean_prob"] - b["frequency"])
                     for b in reliability_bins(probs, labels, n_bins) if b["count"]))
