"""What an answer costs: the performance-efficiency ratio (PER) and an energy / CO2 estimate.

PER
---
Cao et al. (2026, "Task-Specific Efficiency Analysis: When Small Language Models Outperform
Large Language Models", arXiv 2603.21389) define a Performance-Efficiency Ratio that combines
accuracy with throughput, memory and latency "through geometric mean normalization". Their exact
normalisation (min-max over the models compared) was not available to us and would make a run's
score depend on which other runs it is compared with, so smallrag uses this transparent version,
fixed per run:

    PER = accuracy × (T / T0 · L0 / L · M0 / M) ^ (1/3)

- accuracy: token F1 (SQuAD) when the dataset has gold answers, else nDCG@k of the retrieval
  (`accuracy_metric` in the summary says which); in [0, 1];
- T: throughput, completion tokens per second of answering (completion tokens / the summed
  end-to-end seconds of the answers); T0 = 10 tokens/s;
- L: median (p50) end-to-end seconds per answer; L0 = 1 s;
- M: peak resident memory of the answering process(es), MB; M0 = 1024 MB.

The bracket is the geometric mean of three efficiency factors, each 1 at the reference point:
higher throughput, lower latency and less memory raise PER; accuracy scales it. The reference
values only set the scale: the PER ratio of two runs is independent of them
(acc1/acc2 × geometric mean of the three ratios). L and M are floored at 1 ms and 1 MB so fakes
that take no time cannot divide by zero.

Energy and CO2
--------------
    energy (J) = process CPU seconds (user + system) × cpu_watts
    CO2 (g)    = energy (kWh) × grid_intensity (g CO2e / kWh)

- `cpu_watts` (default 10 W per busy core): the power one fully busy core draws, the
  "TDP per core" model of the Green Algorithms calculator (Lannelongue et al., 2021). TDP
  divided by core count is 5-15 W for common desktop and server x86 CPUs (e.g. a 65 W 6-core
  desktop part: 10.8 W), so 10 W is a round mid-range figure; pass your CPU's TDP / cores.
  CPU seconds already count how many cores were busy, so no core count is needed.
- `grid_intensity` (default 475 g CO2e/kWh): the world-average carbon intensity of
  electricity (IEA, 2019), also the fallback of CodeCarbon and Green Algorithms.
- Left out: memory, GPU, idle and data-centre overhead (PUE = 1). The figure is an estimate of
  the CPU work the answers caused, for comparing configurations on one machine, not a meter
  reading. CodeCarbon is not used: it wants RAPL counters (root) or looks up the location online.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from smallrag.core.checks import check_int, is_number
from smallrag.core.errors import SmallragError

DEFAULT_CPU_WATTS = 10.0
DEFAULT_GRID_INTENSITY = 475.0  # g CO2e per kWh
JOULES_PER_KWH = 3.6e6


@dataclass(frozen=True)
class PerReference:
    """The point where every efficiency factor is 1."""

    tokens_per_second: float = 10.0
    latency_seconds: float = 1.0
    memory_mb: float = 1024.0


REFERENCE = PerReference()


@dataclass(frozen=True)
class PerResult:
    per: float
    accuracy: float
    throughput_factor: float  # T / T0
    latency_factor: float  # L0 / L
    memory_factor: float  # M0 / M
    efficiency: float  # geometric mean of the three factors

    def to_json(self) -> dict[str, float]:
        return asdict(self)


def _non_negative(name: str, value: Any) -> float:
    if not is_number(value) or math.isnan(value) or value < 0:
        raise SmallragError(f"{name} must be a non-negative number, got {value!r}")
    return float(value)


def performance_efficiency_ratio(accuracy: float, *, tokens_per_second: float, latency_seconds: float,
                                 peak_memory_mb: float, reference: PerReference = REFERENCE) -> PerResult:
    """PER = accuracy × geometric mean of (T/T0, L0/L, M0/M); see the module docstring."""
    accuracy = _non_negative("accuracy", accuracy)
    if accuracy > 1.0:
        raise SmallragError(f"accuracy must be a fraction from 0 to 1, got {accuracy!r}")
    throughput = _non_negative("tokens_per_second", tokens_per_second)
    latency = max(_non_negative("latency_seconds", latency_seconds), 1e-3)
    memory = max(_non_negative("peak_memory_mb", peak_memory_mb), 1.0)
    factors = (throughput / reference.tokens_per_second, reference.latency_seconds / latency,
               reference.memory_mb / memory)
    efficiency = math.prod(factors) ** (1 / 3)
    return PerResult(accuracy * efficiency, accuracy, *factors, efficiency)


@dataclass(frozen=True)
class EnergyEstimate:
    cpu_seconds: float
    joules: float
    kwh: float
    co2_grams: float
    joules_per_answer: float
    co2_grams_per_answer: float
    cpu_watts: float
    grid_intensity: float  # g CO2e / kWh

    def to_json(self) -> dict[str, float]:
        return asdict(self)


def energy_estimate(cpu_seconds: float, answers: int, *, cpu_watts: float = DEFAULT_CPU_WATTS,
                    grid_intensity: float = DEFAULT_GRID_INTENSITY) -> EnergyEstimate:
    """Energy = CPU seconds × `cpu_watts`; CO2 = kWh × `grid_intensity`; see the module docstring."""
    cpu_seconds = _non_negative("cpu_seconds", cpu_seconds)
    cpu_watts = _non_negative("cpu_watts", cpu_watts)
    grid_intensity = _non_negative("grid_intensity", grid_intensity)
    check_int("answers", answers, minimum=1, expected="a positive whole number")
    joules = cpu_seconds * cpu_watts
    kwh = joules / JOULES_PER_KWH
    co2 = kwh * grid_intensity
    return EnergyEstimate(cpu_seconds, joules, kwh, co2, joules / answers, co2 / answers, cpu_watts, grid_intensity)
