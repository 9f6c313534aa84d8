"""The plan's outcomes over several seeds match the stored multi-seed baseline within seed noise
(tests/seed_statistics.py), and the check sees a real change of behaviour."""

from __future__ import annotations

import json

from tests.seed_statistics import MONTHS, SEEDS, STATISTICS, outcomes, plan, shifted, summary


def test_outcomes_match_the_multi_seed_baseline():
    stored = json.loads(STATISTICS.read_text())
    assert (stored["months"], stored["seeds"]) == (MONTHS, list(SEEDS))
    moved = shifted(stored["outcomes"], summary(outcomes(plan())))
    assert not moved, ("outcomes moved beyond seed noise against tests/seed_statistics.json (if intended, "
                       "run `python -m tests.seed_statistics` and say why in the commit):\n" + "\n".join(moved))


def test_a_change_of_behaviour_is_seen():
    stored = json.loads(STATISTICS.read_text())["outcomes"]
    sc = plan()
    keener = sc.model_copy(update={"behaviour": sc.behaviour.model_copy(
        update={"settle_takeup": 2 * sc.behaviour.settle_takeup})})
    assert any(line.startswith("settlements:") for line in shifted(stored, summary(outcomes(keener))))


def test_shifted_uses_the_standard_error_of_the_difference():
    old = {"x": {"mean": 10.0, "sd": 2.0, "n": 8}}
    assert shifted(old, {"x": {"mean": 13.0, "sd": 2.0, "n": 8}}) == []  # 3.0 standard errors
    assert shifted(old, {"x": {"mean": 15.0, "sd": 2.0, "n": 8}}) == ["x: mean 10 -> 15 (+5.0 standard errors)"]
