"""Isotonic and temperature calibration, its file format and the reliability diagram."""

import json

import numpy as np
import pytest

from smallrag.core.errors import SmallragError
from smallrag.verifiers.calibration import Calibration, expected_calibration_error, reliability_bins


def test_isotonic_is_the_pool_adjacent_violators_fit():
    cal = Calibration.fit([0.1, 0.2, 0.3, 0.4], [0, 1, 0, 1])
    # the violating middle pair is pooled to 0.5
    np.testing.assert_allclose(cal.apply([0.1, 0.2, 0.3, 0.4]), [0.0, 0.5, 0.5, 1.0])
    assert cal(0.35) == pytest.approx(0.75)  # interpolated between breakpoints
    assert cal(-1.0) == 0.0 and cal(2.0) == 1.0


def test_isotonic_is_monotone_and_reduces_calibration_error():
    rng = np.random.default_rng(0)
    scores = rng.uniform(size=2000)
    labels = (rng.uniform(size=2000) < scores ** 3).astype(int)  # over-confident raw scores
    cal = Calibration.fit(scores, labels)
    grid = np.linspace(0, 1, 101)
    assert np.all(np.diff(cal.apply(grid)) >= 0)
    assert cal.metrics["ece"] < cal.metrics["ece_raw"] and cal.metrics["brier"] < cal.metrics["brier_raw"]


def test_temperature_scaling_recovers_a_known_slope():
    rng = np.random.default_rng(1)
    z = rng.normal(size=5000) * 2
    raw = 1 / (1 + np.exp(-z))
    labels = (rng.uniform(size=5000) < 1 / (1 + np.exp(-0.5 * z))).astype(int)
    cal = Calibration.fit(raw, labels, method="temperature")
    assert cal.slope == pytest.approx(0.5, abs=0.08) and abs(cal.bias) < 0.1


def test_ties_get_one_value():
    cal = Calibration.fit([0.5, 0.5, 0.5, 0.9], [0, 1, 1, 1])
    assert cal(0.5) == pytest.approx(2 / 3)


def test_save_and_load_round_trip(tmp_path):
    cal = Calibration.fit([0.1, 0.4, 0.6, 0.9], [0, 0, 1, 1], fitted_on="toy")
    path = cal.save(tmp_path)
    assert json.loads(path.read_text())["format"] == "smallrag-calibration/1"
    again = Calibration.load(tmp_path)
    assert again.xs == cal.xs and again.ys == cal.ys and again.fitted_on == "toy"
    temp = Calibration.fit([0.1, 0.4, 0.6, 0.9], [0, 1, 0, 1], method="temperature")
    temp.save(tmp_path)
    assert Calibration.load(tmp_path)(0.7) == pytest.approx(temp(0.7))


def test_foreign_or_broken_files_are_refused(tmp_path):
    (tmp_path / "calibration.json").write_text('{"format": "other"}')
    with pytest.raises(SmallragError, match="not a smallrag calibration"):
        Calibration.load(tmp_path)
    (tmp_path / "calibration.json").write_text("{")
    with pytest.raises(SmallragError, match="cannot read"):
        Calibration.load(tmp_path)
    (tmp_path / "calibration.json").write_text('{"format": "smallrag-calibration/1", "method": "isotonic"}')
    with pytest.raises(SmallragError, match="malformed"):
        Calibration.load(tmp_path)


def test_bad_fit_input():
    with pytest.raises(SmallragError, match="positive"):
        Calibration.fit([0.1, 0.2], [1, 1])
    with pytest.raises(SmallragError, match="equal-length"):
        Calibration.fit([0.1, 0.2], [1])
    with pytest.raises(SmallragError, match="finite"):
        Calibration.fit([0.1, float("nan")], [0, 1])
    with pytest.raises(SmallragError, match="unknown calibration method"):
        Calibration.fit([0.1, 0.2], [0, 1], method="magic")


def test_reliability_bins_and_ece():
    bins = reliability_bins([0.05, 0.15, 0.95, 0.95], [0, 0, 1, 0], n_bins=10)
    assert len(bins) == 10 and bins[0]["count"] == 1 and bins[9]["count"] == 2
    assert bins[9]["frequency"] == 0.5 and bins[9]["mean_prob"] == pytest.approx(0.95)
    assert expected_calibration_error([0.05, 0.15, 0.95, 0.95], [0, 0, 1, 0]) == pytest.approx(
        (0.05 + 0.15 + 2 * 0.45) / 4)
    assert reliability_bins([1.0], [1], n_bins=4)[3]["count"] == 1
