"""Destination choice: sampled shares agree with the logit formula; counter-based draws are uniform."""

from __future__ import annotations

import numpy as np
from scipy import stats

from sim import choice
from sim.kernels.migration import sample_many
from sim.rng import stream_key, uniform_array


def test_sampled_destination_shares_match_logit_formula():
    """Chi-square goodness of fit of 200k draws per type to exp(V)/sum exp(V), at the 0.1% level."""
    rng = np.random.default_rng(7)
    v = rng.normal(0, 1.5, size=(3, 40))
    p = choice.logit_probabilities(v)
    assert np.allclose(p.sum(axis=1), 1)
    assert np.allclose(p[0], np.exp(v[0]) / np.exp(v[0]).sum())
    cdf = choice.cumulative(p)
    draws = 200_000
    for row in range(3):
        dest = sample_many(cdf, np.full(draws, row), stream_key(1, 0, 10 + row))
        observed = np.bincount(dest, minlength=v.shape[1])
        chi2 = stats.chisquare(observed, p[row] * draws)
        assert chi2.pvalue > 1e-3, chi2
    # The test can fail: the shares of a perturbed utility are rejected.
    wrong = choice.cumulative(choice.logit_probabilities(v * 1.1))
    dest = sample_many(wrong, np.zeros(draws, np.int64), stream_key(1, 0, 10))
    assert stats.chisquare(np.bincount(dest, minlength=40), p[0] * draws).pvalue < 1e-3


def test_cumulative_distribution_is_numpys_bit_for_bit():
    """The parallel kernel sums in numpy's order: the same bits as cumsum / last, last column exactly 1."""
    rng = np.random.default_rng(11)
    for shape in ((2896, 362), (5, 3), (1, 1)):
        p = choice.logit_probabilities(rng.normal(0, 3, size=shape))
        expected = np.cumsum(p, axis=1)
        expected /= expected[:, -1:]
        expected[:, -1] = 1.0
        np.testing.assert_array_equal(choice.cumulative(p), expected)


def test_uniform_draws_are_uniform_and_keyed():
    a = uniform_array(stream_key(3, 5, 1), 100_000)
    assert stats.kstest(a, "uniform").pvalue > 1e-3
    assert np.array_equal(a, uniform_array(stream_key(3, 5, 1), 100_000))
    b = uniform_array(stream_key(3, 6, 1), 100_000)
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.02
