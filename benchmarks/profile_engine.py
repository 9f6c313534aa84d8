"""Where the engine's month goes: wall time per kernel and per piece of Python glue.

Run from the repository root::

    python -m benchmarks.profile_engine --scale 100 --steps 13 --threads 2
    python -m benchmarks.profile_engine --scale 100 --month 13   # January alone (its compaction)

After a JIT warm-up on a tiny model, every numba kernel that the model calls from Python (the
dispatchers in ``sim.kernels.*``, ``sim.population`` and ``sim.model``), the destination-choice
functions (``sim.choice``), the model's own step methods, the city agents' bookkeeping and the data
collector are wrapped with a timer. Times are *exclusive*: a method's time excludes the wrapped calls
inside it, so the rows add up to the total step time and the ``CitizenizationModel.*`` rows hold only
their own glue (e.g. the ``np.lexsort`` of the December points queue sits in ``_settle``).
The wrapping is generic (by type, not by name), so it keeps working while kernels are renamed.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
from collections import defaultdict
from pathlib import Path

from numba.core.registry import CPUDispatcher

ROOT = Path(__file__).absolute().parents[1]
SCENARIO = ROOT / "scenarios" / "plan-2024.yaml"


class Timer:
    """Exclusive wall time per name, with nesting."""

    def __init__(self) -> None:
        self.total: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._stack: list[list] = []  # [name, start, time of wrapped children]

    def wrap(self, name: str, fn):
        timer = self

        def timed(*args, **kwargs):
            timer._stack.append([name, time.perf_counter(), 0.0])
            try:
                return fn(*args, **kwargs)
            finally:
                _, start, children = timer._stack.pop()
                elapsed = time.perf_counter() - start
                timer.total[name] += elapsed - children
                timer.calls[name] += 1
                if timer._stack:
                    timer._stack[-1][2] += elapsed

        timed.__wrapped__ = fn
        return timed


def kernel_modules() -> list:
    """The modules that hold the engine's compiled kernels: every ``sim.kernels`` module and ``sim.population``."""
    import sim.kernels
    from sim import population

    return [importlib.import_module(f"sim.kernels.{m.name}") for m in pkgutil.iter_modules(sim.kernels.__path__)] + \
        [population]


def compiled_kernels(modules: list):
    """(module, name, dispatcher) for every compiled kernel bound in ``modules`` that is called, not inlined."""
    for module in modules:
        for name, obj in list(vars(module).items()):
            if isinstance(obj, CPUDispatcher) and not obj.targetoptions.get("inline"):
                yield module, name, obj


def instrument(timer: Timer) -> None:
    """Wrap kernels, choice functions, model methods and city bookkeeping (after JIT warm-up)."""
    from sim import choice, cities, model, population

    for module, name, obj in compiled_kernels(kernel_modules() + [model]):
        label = f"{obj.py_func.__module__.removeprefix('sim.')}.{obj.py_func.__name__}"
        setattr(module, name, timer.wrap(label, obj))
    for name in ("utilities", "logit_probabilities", "cumulative"):
        if hasattr(choice, name):
            setattr(choice, name, timer.wrap(f"choice.{name}", getattr(choice, name)))
    cls = model.CitizenizationModel
    for name, fn in list(vars(cls).items()):
        if callable(fn) and (name == "step" or name.startswith("_")) and not name.startswith("__"):
            setattr(cls, name, timer.wrap(f"CitizenizationModel.{name}", fn))
    for name, fn in list(vars(population.People).items()):
        if name in ("compact", "ensure_capacity", "rebuild_heads"):
            setattr(population.People, name, timer.wrap(f"People.{name}", fn))
    for name, fn in list(vars(cities.City).items()):
        if callable(fn) and not name.startswith("_"):
            setattr(cities.City, name, timer.wrap(f"City.{name} (all cities)", fn))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=int, default=100)
    ap.add_argument("--steps", type=int, default=13)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--month", type=int, default=None,
                    help="profile only this month (1 = the first; 12 = December's points round, 13 = January's "
                         "compaction), stepping the months before it untimed")
    args = ap.parse_args(argv)
    if args.month is not None:
        if args.month < 1:
            ap.error("--month: expected 1 or more")
        args.steps = args.month

    import mesa
    import numba

    from benchmarks.bench_engine import warm_up

    numba.set_num_threads(args.threads)
    warm_up()
    timer = Timer()
    instrument(timer)
    from sim.model import CitizenizationModel

    collect = mesa.DataCollector.collect
    mesa.DataCollector.collect = timer.wrap("DataCollector.collect", collect)
    try:
        model = CitizenizationModel(SCENARIO, scale=args.scale, months=args.steps, seed=args.seed)
        for _ in range(args.steps - 1 if args.month else 0):
            model.step()
        timed = 1 if args.month else args.steps
        agents = model.people.n_alive
        timer.total.clear()
        timer.calls.clear()
        t0 = time.perf_counter()
        while model.running:
            model.step()
        wall = time.perf_counter() - t0
    finally:
        mesa.DataCollector.collect = collect

    which = f"month {args.month} alone" if args.month else f"{args.steps} months"
    print(f"engine profile: scale 1:{args.scale} ({agents:,} agents), {which}, "
          f"{numba.get_num_threads()} thread(s); {wall:.2f} s stepping, "
          f"{agents * timed / wall / 1e6:.1f}M agent-steps/s overall\n")
    print("| where | calls | s total | ms per month | share |")
    print("|---|---:|---:|---:|---:|")
    for name, t in sorted(timer.total.items(), key=lambda kv: -kv[1]):
        print(f"| {name} | {timer.calls[name]} | {t:.3f} | {1000 * t / timed:.1f} | {t / wall:.1%} |")
    unaccounted = wall - sum(timer.total.values())
    print(f"| (outside the wrapped calls) | | {unaccounted:.3f} | {1000 * unaccounted / timed:.1f} "
          f"| {unaccounted / wall:.1%} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
