"""``benchmarks.profile_pass``: a captured month's kernel, called on fresh copies, gives the same results each
time (the digest that A/B work relies on), and an unknown kernel is a one-line usage error."""

import pytest

from benchmarks import profile_pass


def test_fresh_copies_give_the_same_digest_every_call():
    name = "deaths_mothers_and_families"
    kernel, args = profile_pass.capture([name], scale=200_000, month=2)[name]
    digests = {profile_pass.digest(kernel(*profile_pass.fresh(args))) for _ in range(3)}
    assert len(digests) == 1
    # the captured arguments are copies: the calls above left them as the model passed them
    kernel, args = profile_pass.capture([name], scale=200_000, month=2)[name]
    assert profile_pass.digest(kernel(*args)) in digests


def test_unknown_kernel_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        profile_pass.main(["no_such_kernel"])
    assert exit_info.value.code == 2
    assert "unknown kernel no_such_kernel" in capsys.readouterr().err
