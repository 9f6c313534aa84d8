"""One kernel timed on a captured month: for A/B work on a single pass, where a whole-model profile is noisy.

Run from the repository root::

    python -m benchmarks.profile_pass work_move_and_settle
    python -m benchmarks.profile_pass reclassify_and_count deaths_mothers_and_families --month 4 --repeat 9

The model steps (plan-2024, ``--scale``, seed 0) up to ``--month``; the arguments the named kernels receive in
that month are copied. Each kernel is then called ``--repeat`` times, every call on fresh copies of those
arguments (kernels write the person columns in place), and the fastest and median call are printed, with a
digest of the kernel's results: a change that should leave results identical must leave the digest alone.
Compare two versions by running this in each (e.g. ``git stash`` or a worktree), alternating, in one quiet
period: the host's own speed moves by 10-30% over a day.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import time

import numpy as np

from benchmarks.bench_engine import SCENARIO, warm_up
from benchmarks.profile_engine import compiled_kernels, kernel_modules


def kernel_homes() -> dict[str, object]:
    """Kernel name -> the module that defines it (where the model looks it up)."""
    return {name: module for module, name, obj in compiled_kernels(kernel_modules())
            if obj.py_func.__module__ == module.__name__}


def fresh(args: list) -> list:
    """The arguments with every array copied."""
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


def digest(result) -> str:
    """A short hash of a kernel's results (an array or a tuple of arrays)."""
    h = hashlib.sha1()
    for part in result if isinstance(result, tuple) else (result,):
        h.update(np.ascontiguousarray(part).tobytes())
    return h.hexdigest()[:10]


def capture(names: list[str], scale: int, month: int) -> dict[str, tuple]:
    """Step the model to ``month``; returns kernel name -> (kernel, copies of its arguments in that month)."""
    from sim.model import CitizenizationModel

    modules = kernel_homes()
    captured: dict[str, tuple] = {}
    capturing = [False]
    originals = {name: getattr(modules[name], name) for name in names}

    def recorder(name, kernel):
        def call(*args):
            if capturing[0]:
                captured[name] = (kernel, fresh(list(args)))
            return kernel(*args)
        return call

    for name, kernel in originals.items():
        setattr(modules[name], name, recorder(name, kernel))
    try:
        model = CitizenizationModel(SCENARIO, scale=scale, months=month, seed=0)
        for step in range(1, month + 1):
            capturing[0] = step == month
            model.step()
    finally:
        for name, kernel in originals.items():
            setattr(modules[name], name, kernel)
    missing = [name for name in names if name not in captured]
    if missing:
        raise SystemExit(f"profile_pass: not called in month {month}: {', '.join(missing)}")
    return captured


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("kernels", nargs="+", help="kernel names, e.g. work_move_and_settle reclassify_and_count")
    ap.add_argument("--scale", type=int, default=100)
    ap.add_argument("--month", type=int, default=4, help="the month whose arguments are captured (1 = the first)")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    known = kernel_homes()
    unknown = [name for name in args.kernels if name not in known]
    if unknown:
        ap.error(f"unknown kernel {', '.join(unknown)}; kernels: {', '.join(sorted(known))}")
    if min(args.month, args.repeat, args.threads) < 1:
        ap.error("--month, --repeat and --threads: expected 1 or more")

    import numba

    numba.set_num_threads(args.threads)
    warm_up()
    captured = capture(args.kernels, args.scale, args.month)
    print(f"kernels on month {args.month}'s state at 1:{args.scale}, {args.threads} thread(s), "
          f"{args.repeat} calls each on fresh copies\n")
    print("| kernel | fastest ms | median ms | results digest |")
    print("|---|---:|---:|---|")
    for name in args.kernels:
        kernel, kernel_args = captured[name]
        times, result = [], None
        for _ in range(args.repeat):
            call_args = fresh(kernel_args)
            t0 = time.perf_counter()
            result = kernel(*call_args)
            times.append(time.perf_counter() - t0)
        print(f"| {name} | {1000 * min(times):.1f} | {1000 * statistics.median(times):.1f} | {digest(result)} |")


if __name__ == "__main__":
    main()
