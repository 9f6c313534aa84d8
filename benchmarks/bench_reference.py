"""Speed-up of the numba engine over the pure-Mesa reference model of the same rules.

Run from the repository root::

    python -m benchmarks.bench_reference                     # both at 1:100,000; engine at 1:1000 and 1:100
    python -m benchmarks.bench_reference --full-scales 1000  # quicker: engine full scale 1:1000 only
    python -m benchmarks.bench_reference --reference-scales 1000  # also the reference on 1.4M agents

1. The engine is warmed up (JIT), then a ``CitizenizationModel(plan-2024, scale=S, seed=0)`` is built
   and the reference (:class:`benchmarks.reference_model.ReferenceModel`) is built from its initial
   population; both run ``--months`` months (default 13, January to January) on the same population.
   For each, agent-steps per second = agents alive at the start of a month / the month's wall time:
   ``best`` is the best month, ``overall`` all agent-steps / all step time. Initialisation is timed
   separately (for the reference: turning the engine's columns into ``mesa.Agent`` objects).
2. The engine at its full scales (``--full-scales``, default 1:1000 and 1:100) is measured by
   :mod:`benchmarks.bench_engine` in a fresh process (2 threads).
3. Speed-up = engine agent-steps/s / reference agent-steps/s (overall, best month, and per CPU-second
   of the process with all threads counted: work per core, less disturbed by other jobs on the
   machine), at the same scale and with the engine at its full scale against the reference at the
   small scale (the reference's rate per agent hardly depends on the population size;
   ``--reference-scales 1000`` measures it on the 1:1000 population, about 1.4M Python agents, for
   fewer months).

``--repeat N`` runs every measurement N times and keeps each model's fastest run (overall rate), as
:mod:`benchmarks.bench_engine` does on a shared machine. The runs are interleaved in rounds (each round
runs the reference and then the engine at every scale), so that a machine whose speed drifts over the
minutes of a benchmark (by 15-25% within a day on a shared host) slows both models alike: the fastest
runs come from the same stretch of time, and each round's own speed-up is printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from benchmarks.bench_engine import SCENARIO, compile_kernels, fastest, run_child, warm_up

TARGET_SPEEDUP = 300


def time_steps(model, months: int, agents_of) -> dict:
    times, cpu_times, counts = [], [], []
    for _ in range(months):
        counts.append(agents_of(model))
        c, t = time.process_time(), time.perf_counter()
        model.step()
        times.append(time.perf_counter() - t)
        cpu_times.append(time.process_time() - c)
    rates = [a / t for a, t in zip(counts, times, strict=True)]
    return {"agents": counts[0], "months": months, "step_s": times, "step_cpu_s": cpu_times,
            "best_agent_steps_per_s": max(rates), "overall_agent_steps_per_s": sum(counts) / sum(times),
            "overall_agent_steps_per_cpu_s": sum(counts) / sum(cpu_times)}


def measure_pair(scale: int, months: int, seed: int = 0, engine_too: bool = True) -> tuple[dict, dict | None]:
    """Reference and engine on the same initial population at ``scale``."""
    from benchmarks.reference_model import ReferenceModel
    from sim.model import CitizenizationModel

    t0 = time.perf_counter()
    engine = CitizenizationModel(SCENARIO, scale=scale, months=months, seed=seed)
    t1 = time.perf_counter()
    reference = ReferenceModel(engine)
    t2 = time.perf_counter()
    ref = time_steps(reference, months, lambda m: len(m.people))
    ref.update(model="reference (pure Mesa)", scale=scale, init_s=t2 - t1)
    eng = None
    if engine_too:
        eng = time_steps(engine, months, lambda m: m.people.n_alive)
        eng.update(model="engine (numba)", scale=scale, init_s=t1 - t0)
    return ref, eng


def _overall(engine: dict, reference: dict) -> float:
    return engine["overall_agent_steps_per_s"] / reference["overall_agent_steps_per_s"]


def _round(args: argparse.Namespace, k: int) -> list[dict]:
    """One round: reference and engine side by side at the small scale, the reference alone at
    ``--reference-scales``, the engine at each full scale (fresh processes); always in this order."""
    tag = f"round {k + 1}/{args.repeat}: "
    print(f"{tag}reference and engine at 1:{args.scale}, {args.months} months ...", file=sys.stderr, flush=True)
    rows = list(measure_pair(args.scale, args.months))
    for scale in args.reference_scales:
        if scale != args.scale:
            print(f"{tag}reference at 1:{scale}, {args.reference_months} months ...", file=sys.stderr, flush=True)
            rows.append(measure_pair(scale, args.reference_months, engine_too=False)[0])
    for scale in args.full_scales:
        print(f"{tag}engine at 1:{scale} (fresh process) ...", file=sys.stderr, flush=True)
        r = run_child(scale, args.threads, args.months)
        r.update(model="engine (numba)", months=r["steps"])
        rows.append(r)
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=int, default=100_000, help="small scale for the side-by-side run")
    ap.add_argument("--months", type=int, default=13)
    ap.add_argument("--full-scales", type=int, nargs="*", default=[1000, 100], help="engine full scales")
    ap.add_argument("--reference-scales", type=int, nargs="*", default=[],
                    help="extra scales for the reference alone (e.g. 1000: ~1.4M Python agents)")
    ap.add_argument("--reference-months", type=int, default=2, help="months for --reference-scales runs")
    ap.add_argument("--threads", type=int, default=2, help="numba threads of the engine")
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs of every measurement; each model keeps its fastest (overall) run, as bench_engine")
    ap.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = ap.parse_args(argv)

    import numba

    numba.set_num_threads(args.threads)
    compile_kernels()
    print("warm-up (JIT) ...", file=sys.stderr, flush=True)
    warm_up()
    rounds = [_round(args, k) for k in range(args.repeat)]
    rows = [fastest([r[i] for r in rounds]) for i in range(len(rounds[0]))]

    print(f"citizensim engine vs pure-Mesa reference, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPU(s), "
          f"engine on {args.threads} thread(s), reference on 1, fastest of {args.repeat} run(s) each\n")
    print("| model | scale | agents | months | init s | agent-steps/s best month | overall | overall per CPU-s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['model']} | 1:{r['scale']} | {r['agents']:,} | {r['months']} | {r['init_s']:.2f} "
              f"| {r['best_agent_steps_per_s']:,.0f} | {r['overall_agent_steps_per_s']:,.0f} "
              f"| {r['overall_agent_steps_per_cpu_s']:,.0f} |")
    print()
    reference_at = {r["scale"]: i for i, r in enumerate(rows) if r["model"].startswith("reference")}
    for i, r in enumerate(rows):
        if not r["model"].startswith("engine"):
            continue
        j = reference_at.get(r["scale"], 0)  # the same scale, else the small one
        base = rows[j]
        overall = _overall(r, base)
        best = r["best_agent_steps_per_s"] / base["best_agent_steps_per_s"]
        cpu = r["overall_agent_steps_per_cpu_s"] / base["overall_agent_steps_per_cpu_s"]
        met = "met" if overall >= TARGET_SPEEDUP else "NOT met"
        print(f"speed-up, engine at 1:{r['scale']} vs reference at 1:{base['scale']}: {overall:,.0f}x overall, "
              f"{best:,.0f}x best month, {cpu:,.0f}x per CPU-second (target >= {TARGET_SPEEDUP}x overall: {met})")
        if len(rounds) > 1:
            each = [_overall(rnd[i], rnd[j]) for rnd in rounds]
            print(f"  overall, round by round (each from runs of the same round): "
                  f"{', '.join(f'{x:,.0f}x' for x in each)}; median {statistics.median(each):,.0f}x")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
