"""The national series of two short runs equal the stored regression baseline exactly (tests/baseline.py)."""

from __future__ import annotations

import json

from tests.baseline import BASELINE, compute, differences


def test_results_equal_the_regression_baseline():
    stored = json.loads(BASELINE.read_text())
    now = compute()
    assert (stored["scale"], stored["months"]) == (now["scale"], now["months"])
    changed = differences(stored, now)
    assert not changed, ("results differ from tests/baseline.json (if intended, run `python -m tests.baseline` "
                         "and say why in the commit):\n" + "\n".join(changed))


def test_a_changed_value_is_reported_by_run_metric_and_month():
    stored = {"runs": {"plan": {"national": {"resident_rate": [0.5, 0.6], "births": [1.0, float("nan")]}}}}
    now = {"runs": {"plan": {"national": {"resident_rate": [0.5, 0.61], "births": [1.0, float("nan")]}}}}
    assert differences(stored, now) == ["plan resident_rate month 1: 0.6 -> 0.61"]
    assert differences(stored, stored) == []
