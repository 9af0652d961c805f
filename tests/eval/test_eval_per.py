"""PER and the energy / CO2 estimate (eval/per.py), computed by hand."""

from __future__ import annotations

import math

import pytest

from smallrag.eval.per import PerReference, energy_estimate, performance_efficiency_ratio
from smallrag.core.errors import SmallragError


def test_per_at_the_reference_point_is_the_accuracy():
    result = performance_efficiency_ratio(0.6, tokens_per_second=10.0, latency_seconds=1.0, peak_memory_mb=1024.0)
    assert result.per == pytest.approx(0.6) and result.efficiency == pytest.approx(1.0)


def test_per_is_accuracy_times_the_geometric_mean_of_the_factors():
    result = performance_efficiency_ratio(0.5, tokens_per_second=40.0, latency_seconds=2.0, peak_memory_mb=512.0)
    assert (result.throughput_factor, result.latency_factor, result.memory_factor) == pytest.approx((4.0, 0.5, 2.0))
    assert result.per == pytest.approx(0.5 * (4.0 * 0.5 * 2.0) ** (1 / 3))


def test_the_ratio_of_two_runs_does_not_depend_on_the_reference():
    small = dict(tokens_per_second=40.0, latency_seconds=0.8, peak_memory_mb=700.0)
    large = dict(tokens_per_second=12.0, latency_seconds=3.0, peak_memory_mb=2100.0)
    other = PerReference(tokens_per_second=1.0, latency_seconds=5.0, memory_mb=100.0)
    ratio = performance_efficiency_ratio(0.5, **small).per / performance_efficiency_ratio(0.7, **large).per
    ratio_other = (performance_efficiency_ratio(0.5, **small, reference=other).per
                   / performance_efficiency_ratio(0.7, **large, reference=other).per)
    assert ratio == pytest.approx(ratio_other)
    assert ratio > 1  # the small, fast pipeline wins on PER despite lower accuracy


def test_per_floors_and_refusals():
    zero_time = performance_efficiency_ratio(1.0, tokens_per_second=10.0, latency_seconds=0.0, peak_memory_mb=1024.0)
    assert math.isfinite(zero_time.per) and zero_time.latency_factor == pytest.approx(1000.0)
    assert performance_efficiency_ratio(1.0, tokens_per_second=0.0, latency_seconds=1.0,
                                        peak_memory_mb=1024.0).per == 0.0
    with pytest.raises(SmallragError, match="accuracy"):
        performance_efficiency_ratio(1.5, tokens_per_second=1.0, latency_seconds=1.0, peak_memory_mb=1.0)
    with pytest.raises(SmallragError, match="latency_seconds"):
        performance_efficiency_ratio(0.5, tokens_per_second=1.0, latency_seconds=float("nan"), peak_memory_mb=1.0)


def test_energy_is_cpu_seconds_times_watts_and_co2_follows_the_grid():
    e = energy_estimate(36.0, 4, cpu_watts=10.0, grid_intensity=500.0)
    assert e.joules == pytest.approx(360.0) and e.kwh == pytest.approx(1e-4)
    assert e.co2_grams == pytest.approx(0.05) and e.joules_per_answer == pytest.approx(90.0)
    assert e.co2_grams_per_answer == pytest.approx(0.0125)
    default = energy_estimate(3.6e5, 1)  # 100 busy-core-hours at 10 W: 1 kWh, 475 g
    assert default.kwh == pytest.approx(1.0) and default.co2_grams == pytest.approx(475.0)
    with pytest.raises(SmallragError, match="answers"):
        energy_estimate(1.0, 0)
    with pytest.raises(SmallragError, match="cpu_watts"):
        energy_estimate(1.0, 1, cpu_watts=-1)
