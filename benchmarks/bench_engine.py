"""Engine speed and memory: agent-steps per second and bytes per agent, by scale and thread count.

Run from the repository root::

    python -m benchmarks.bench_engine                       # scales 1000 and 100, 1 and 2 threads
    python -m benchmarks.bench_engine --scales 1000 --threads 2 --steps 13 --json out.json

Each (scale, threads) configuration runs in its own process, so that the process's peak resident set
size (``resource.getrusage``) belongs to that configuration alone. In the process:

1. JIT warm-up: a tiny model (1 agent = 200,000 persons) runs 13 months, which loads every kernel
   from numba's cache (filled first by the parent process, in parallel: :func:`compile_kernels`),
   December's points queue and January's compaction included; the peak RSS after it is the process's
   baseline (interpreter, numpy, numba, pandas, mesa).
2. Initialisation, timed on its own: ``CitizenizationModel(plan-2024, scale=S, seed=0)``.
3. ``--steps`` months (default 13: January to the next January, so one December points round and one
   January compaction are included), each timed. Agent-steps per second of a month = agents alive at
   its start / its wall time. Reported: the best month (the usual "best of N"), the median month, and
   the overall rate (all agent-steps / all step time, December and January included). ``per CPU-s``
   is the best month's agent-steps per second of process CPU time (all threads): on a shared machine
   it is less disturbed by other processes than wall time (for 1 thread it is close to the wall-time
   rate of an idle machine; with OpenMP spin-waiting it undercounts 2-thread efficiency).

Memory per agent (agents alive at the end): ``row`` = bytes of one row of person columns;
``columns`` = bytes of all person columns including spare capacity and the household index;
``peak RSS`` = the process's peak resident set / agents; ``RSS - baseline`` = the same after subtracting
the warm-up baseline (what the model itself costs at its peak, temporaries included).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).absolute().parents[1]
SCENARIO = ROOT / "scenarios" / "plan-2024.yaml"
TARGET_AGENT_STEPS = 40e6  # agent-steps per second at scale 100 (issue target)
TARGET_BYTES = 64  # bytes per agent (issue target)


def peak_rss_bytes() -> int:
    """Peak resident set size of this process (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def warm_up() -> None:
    """Compile (or load from cache) every kernel on a tiny model, December and January included."""
    from sim.model import CitizenizationModel

    model = CitizenizationModel(SCENARIO, scale=200_000, months=13, seed=1)
    while model.running:
        model.step()


def compile_kernels() -> None:
    """Fill numba's cache first, in parallel (:mod:`sim.compile_ahead`), unless it is full: the measured
    processes then load every kernel, and none counts the compiler's memory in its peak RSS (3-4 B/agent
    at 1:100)."""
    from sim.cli_support import compile_kernels_ahead

    compile_kernels_ahead(os.cpu_count() or 1)


def measure(scale: int, threads: int, steps: int, seed: int = 0) -> dict:
    """One configuration in this process (see the module docstring)."""
    import numba

    from sim.model import CitizenizationModel
    from sim.population import People

    numba.set_num_threads(threads)
    warm_up()
    baseline = peak_rss_bytes()

    t0 = time.perf_counter()
    model = CitizenizationModel(SCENARIO, scale=scale, months=steps, seed=seed)
    init_s = time.perf_counter() - t0
    agents_start = model.people.n_alive
    rss_after_init = peak_rss_bytes()

    times, cpu_times, agent_counts = [], [], []
    for _ in range(steps):
        agents = model.people.n_alive
        c, t = time.process_time(), time.perf_counter()
        model.step()
        times.append(time.perf_counter() - t)
        cpu_times.append(time.process_time() - c)
        agent_counts.append(agents)
    rates = [a / t for a, t in zip(agent_counts, times, strict=True)]
    agents_end = model.people.n_alive
    peak = peak_rss_bytes()
    return {
        "scale": scale,
        "threads": threads,
        "numba_threads": numba.get_num_threads(),
        "agents": agents_start,
        "init_s": init_s,
        "steps": steps,
        "step_s": times,
        "step_cpu_s": cpu_times,
        "threading_layer": numba.threading_layer(),
        "best_agent_steps_per_s": max(rates),
        "median_agent_steps_per_s": statistics.median(rates),
        "overall_agent_steps_per_s": sum(agent_counts) / sum(times),
        "overall_agent_steps_per_cpu_s": sum(agent_counts) / sum(cpu_times),
        "best_agent_steps_per_cpu_s": max(a / c for a, c in zip(agent_counts, cpu_times, strict=True) if c > 0),
        "row_bytes_per_agent": People.bytes_per_agent(),
        "column_bytes_per_agent": model.people.nbytes() / agents_end,
        "peak_rss_bytes": peak,
        "baseline_rss_bytes": baseline,
        "rss_after_init_bytes": rss_after_init,
        "peak_rss_per_agent": peak / agents_end,
        "model_rss_per_agent": (peak - baseline) / agents_end,
        "resident_rate": model.national("urban_residents") / model.national("residents"),
        "hukou_rate": model.national("urban_hukou") / model.national("residents"),
    }


def fastest(runs: list[dict]) -> dict:
    """The run with the highest overall agent-steps per second, with the number of runs it was chosen from."""
    best = max(runs, key=lambda r: r["overall_agent_steps_per_s"])
    best["runs"] = len(runs)
    return best


def run_child(scale: int, threads: int, steps: int, seed: int = 0) -> dict:
    """:func:`measure` in a fresh Python process (its own peak RSS); returns its result."""
    env = dict(os.environ)
    env["NUMBA_NUM_THREADS"] = str(max(threads, int(env.get("NUMBA_NUM_THREADS", "0") or 0), os.cpu_count() or 1))
    cmd = [sys.executable, "-m", "benchmarks.bench_engine", "--child", "--scales", str(scale),
           "--threads", str(threads), "--steps", str(steps), "--seed", str(seed)]
    out = subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(results: list[dict]) -> str:
    head = ("| scale | agents | threads | init s | best month s | agent-steps/s best | median | overall "
            "| per CPU-s best | row B | columns B/agent | peak RSS B/agent | RSS-baseline B/agent |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        lines.append(
            f"| 1:{r['scale']} | {r['agents']:,} | {r['threads']} | {r['init_s']:.2f} | {min(r['step_s']):.3f} "
            f"| {r['best_agent_steps_per_s'] / 1e6:.1f}M | {r['median_agent_steps_per_s'] / 1e6:.1f}M "
            f"| {r['overall_agent_steps_per_s'] / 1e6:.1f}M | {r['best_agent_steps_per_cpu_s'] / 1e6:.1f}M "
            f"| {r['row_bytes_per_agent']} "
            f"| {r['column_bytes_per_agent']:.1f} | {r['peak_rss_per_agent']:.0f} | {r['model_rss_per_agent']:.0f} |")
    return "\n".join(lines)


def month_times(results: list[dict]) -> str:
    """Wall time of each timed month (ms) per configuration: January carries the compaction, December
    the points round."""
    return "\n".join(f"months at 1:{r['scale']}, {r['threads']} thread(s), ms: "
                     + " ".join(f"{t * 1000:.0f}" for t in r["step_s"]) for r in results)


def verdict(results: list[dict]) -> str:
    out = []
    at100 = [r for r in results if r["scale"] == 100]
    if at100:
        for kind in ("best", "median", "overall"):
            v = max(r[f"{kind}_agent_steps_per_s"] for r in at100)
            met = "met" if v >= TARGET_AGENT_STEPS else "NOT met"
            out.append(f"speed at 1:100, {kind} month{'s' if kind == 'overall' else ''}: {v / 1e6:.1f}M agent-steps/s "
                       f"(target >= {TARGET_AGENT_STEPS / 1e6:.0f}M): {met}")
    for r in results:
        out.append(f"memory at 1:{r['scale']}, {r['threads']} thread(s): "
                   f"columns {r['column_bytes_per_agent']:.1f} B/agent, "
                   f"peak RSS {r['peak_rss_per_agent']:.0f} B/agent (target <= {TARGET_BYTES}): "
                   f"columns {'met' if r['column_bytes_per_agent'] <= TARGET_BYTES else 'NOT met'}, "
                   f"peak RSS {'met' if r['peak_rss_per_agent'] <= TARGET_BYTES else 'NOT met'}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", type=int, nargs="+", default=[1000, 100], help="persons per agent")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="numba thread counts")
    ap.add_argument("--steps", type=int, default=13, help="months timed per configuration")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs per configuration; the table keeps the fastest (overall) run (for shared machines)")
    ap.add_argument("--json", type=Path, help="also write the results to this JSON file")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.scales[0], args.threads[0], args.steps, args.seed)))
        return
    compile_kernels()
    load_before = os.getloadavg()[0]
    results = []
    for scale in args.scales:
        for threads in args.threads:
            print(f"scale 1:{scale}, {threads} thread(s) ...", file=sys.stderr, flush=True)
            r = fastest([run_child(scale, threads, args.steps, args.seed) for _ in range(args.repeat)])
            results.append(r)
            print(f"  init {r['init_s']:.2f} s, best {r['best_agent_steps_per_s'] / 1e6:.1f}M agent-steps/s, "
                  f"peak RSS {r['peak_rss_bytes'] / 2**30:.2f} GiB", file=sys.stderr, flush=True)
    print(f"citizensim engine benchmark, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPU(s), "
          f"{args.steps} months per configuration, fastest of {args.repeat} run(s), "
          f"load average before: {load_before:.2f}, after: {os.getloadavg()[0]:.2f}\n")
    print(table(results))
    print()
    print(month_times(results))
    print()
    print(verdict(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
