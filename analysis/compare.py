"""Scenario comparison with common random numbers, and the decomposition of the plan by lever group.

``citizensim compare A.yaml B.yaml ...`` runs every scenario with the same seed and scale, so that
the same agent sees the same random draws in every scenario (common random numbers): differences
between scenarios are then due to the levers, not to sampling noise. It prints the final-month
(December 2029 for the default 60 months) resident and hukou urbanization rates and their gap,
nationally and by settlement tier, with differences against the first scenario, and writes

* ``comparison.csv``: every metric in the final month (national and by tier) per scenario, with the
  difference against the first scenario, plus the last year's sums of the flows (settlements etc.);
* ``comparison.png``: national resident and hukou rates over time per scenario, and the decomposition;
* ``series.parquet``: the tidy series of all runs with a ``scenario`` column;
* ``decomposition.csv`` when a decomposition was made.

Decomposition: the contribution of a lever group (one sub-model of :class:`sim.policy.Policy`) is the
plan minus the plan with that group at its status-quo defaults ("plan without the group"). It is made
automatically for every "plan without" scenario given beside the plan (a scenario whose policy differs
from the plan's in exactly one group, set to the defaults), and for all groups with ``--decompose``
(missing counterfactuals are built from the plan). Because the groups interact, the contributions need
not add up to the plan's total effect against the status quo; the table shows the interaction term.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from sim.policy import Policy, Scenario

GROUPS: tuple[str, ...] = tuple(Policy.model_fields)
TABLE_METRICS = ("resident_rate", "hukou_rate", "urbanization_gap")
TIERS = ("open", "relaxed", "points")


def without_group(plan: Scenario, group: str) -> Scenario:
    """The plan with one lever group reset to its status-quo defaults."""
    policy = plan.policy.model_copy(update={group: Policy.model_fields[group].default})
    return plan.model_copy(update={"policy": policy, "name": f"plan-without-{group.replace('_', '-')}"})


def group_removed(plan: Scenario, other: Scenario) -> str | None:
    """The group ``other`` switches back to the defaults if it is 'the plan without one group', else None."""
    if other.model_dump(exclude={"name", "description", "extends", "policy"}) != \
            plan.model_dump(exclude={"name", "description", "extends", "policy"}):
        return None
    differ = [g for g in GROUPS if getattr(other.policy, g) != getattr(plan.policy, g)]
    if len(differ) != 1 or getattr(other.policy, differ[0]) != Policy.model_fields[differ[0]].default:
        return None
    return differ[0]


def pick_plan(scenarios: list[Scenario], name: str | None = None) -> Scenario | None:
    """The plan: the scenario called ``name`` (default 'plan-2024'), else None."""
    target = name or "plan-2024"
    return next((s for s in scenarios if s.name == target), None)


def run_all(scenarios: list[Scenario], on_month: Callable[[int], None] | None = None):
    """Run every scenario (same seed and scale as given); returns the tidy series with a 'scenario' column."""
    import pandas as pd

    from sim.runner import run_scenario

    frames, done = [], 0
    for sc in scenarios:
        def tick(m: int, base: int = done) -> None:
            if on_month is not None:
                on_month(base + m)
        series = run_scenario(sc, on_month=tick).series
        series.insert(0, "scenario", sc.name)
        frames.append(series)
        done += sc.months
    out = pd.concat(frames, ignore_index=True)
    out["scenario"] = pd.Categorical(out["scenario"], categories=[s.name for s in scenarios])
    return out


def final_values(series):
    """Final-month values of every metric, national and by tier: scenario x (level, region, metric)."""
    last = series[(series["month"] == series["month"].max()) & series["level"].isin(["national", "tier"])]
    return last.pivot_table(index="scenario", columns=["level", "region", "metric"], values="value",
                            observed=True, aggfunc="first")


def last_year_flows(series, flow_names):
    """Sums over the last 12 months of the flows (e.g. settlements per year), national and by tier."""
    months = series["month"].max()
    sel = series[(series["month"] > months - 12) & series["metric"].isin(flow_names)
                 & series["level"].isin(["national", "tier"])]
    return sel.groupby(["scenario", "level", "region", "metric"], observed=True)["value"].sum()


def comparison_table(finals):
    """Rows: scenarios. Columns: national and tier rates (TABLE_METRICS) and national differences vs row 0."""
    import pandas as pd

    cols = {}
    for metric in TABLE_METRICS:
        cols[("China", metric)] = finals[("national", "China", metric)]
    first = finals.index[0]
    for metric in ("resident_rate", "hukou_rate", "urbanization_gap"):
        v = finals[("national", "China", metric)]
        cols[("China", f"d_{metric}")] = v - v.loc[first]
    for tier in TIERS:
        for metric in ("resident_rate", "hukou_rate"):
            key = ("tier", tier, metric)
            if key in finals.columns:
                v = finals[key]
                cols[(tier, metric)] = v
                cols[(tier, f"d_{metric}")] = v - v.loc[first]
    table = pd.DataFrame(cols)
    table.columns = pd.MultiIndex.from_tuples(table.columns, names=["region", "metric"])
    return table


def decomposition_table(finals, plan_name: str, removed: dict[str, str], status_quo: str | None):
    """Each group's contribution (plan - plan without it) to the final national and tier rates."""
    import pandas as pd

    keys = [("national", "China", m) for m in TABLE_METRICS]
    keys += [("tier", t, "hukou_rate") for t in TIERS if ("tier", t, "hukou_rate") in finals.columns]
    plan = finals.loc[plan_name, keys]
    rows = {}
    for group in GROUPS:
        if group in removed:
            rows[group] = plan - finals.loc[removed[group], keys]
    table = pd.DataFrame(rows).T
    if table.empty:
        return table
    table.loc["sum of groups"] = table.sum()
    if status_quo is not None:
        total = plan - finals.loc[status_quo, keys]
        table.loc["plan - status quo"] = total
        table.loc["interaction"] = total - table.loc["sum of groups"]
    table.columns = [f"{m}" if lvl == "national" else f"{m} ({reg})" for lvl, reg, m in table.columns]
    return table


def _fmt_pct(x: float) -> str:
    return f"{x:.2%}"


def _fmt_pp(x: float) -> str:
    return f"{100 * x:+.2f} pp"


def print_tables(console, table, decomposition) -> None:
    from rich.table import Table

    t = Table(title="Final-month urbanization rates (differences against the first scenario)", title_justify="left")
    t.add_column("scenario")
    heads = [("China", "resident_rate", "resident"), ("China", "hukou_rate", "hukou"),
             ("China", "urbanization_gap", "gap"), ("China", "d_resident_rate", "Δ resident"),
             ("China", "d_hukou_rate", "Δ hukou"), ("China", "d_urbanization_gap", "Δ gap")]
    heads += [(tier, m, f"{tier} {m.split('_')[0]}") for tier in TIERS for m in ("resident_rate", "hukou_rate")
              if (tier, m) in table.columns]
    for _, _, label in heads:
        t.add_column(label, justify="right")
    for name, row in table.iterrows():
        cells = []
        for region, metric, _ in heads:
            v = row[(region, metric)]
            cells.append(_fmt_pp(v) if metric.startswith("d_") else _fmt_pct(v))
        t.add_row(str(name), *cells)
    console.print(t)
    if decomposition is not None and not decomposition.empty:
        d = Table(title="Lever decomposition: plan minus plan-without-group (percentage points)",
                  title_justify="left")
        d.add_column("group")
        for col in decomposition.columns:
            d.add_column(col, justify="right")
        for name, row in decomposition.iterrows():
            d.add_row(str(name), *[_fmt_pp(v) for v in row])
        console.print(d)


def plot_comparison(series, decomposition=None, title: str = "Scenario comparison"):
    """National resident and hukou rates per scenario over time; the decomposition as bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis.plots import PLAN_TARGET

    has_dec = decomposition is not None and not decomposition.empty
    fig, axes = plt.subplots(1, 3 if has_dec else 2, figsize=(16 if has_dec else 11, 4.8), dpi=120)
    nat = series[(series["level"] == "national")]
    names = list(series["scenario"].cat.categories)
    palette = iter(plt.get_cmap("tab20")(range(20)))
    main = {"status-quo": "black", "plan-2024": "tab:red"}
    colors = [main.get(name) if name in main else next(palette) for name in names]
    for ax, metric, label in ((axes[0], "resident_rate", "resident urbanization"),
                              (axes[1], "hukou_rate", "hukou urbanization")):
        for name, color in zip(names, colors, strict=True):
            sel = nat[(nat["scenario"] == name) & (nat["metric"] == metric)]
            lw = 2.4 if name in main else 0.9
            ax.plot(sel["date"], sel["value"], color=color, lw=lw, label=name, zorder=3 if name in main else 2)
        if metric == "resident_rate":
            ax.axhline(PLAN_TARGET, color="grey", ls="--", lw=1, label="plan target (~70%)")
        ax.set_title(label)
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=1))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=6, loc="upper left")
    if has_dec:
        groups = [g for g in decomposition.index if g in GROUPS]
        ax = axes[2]
        y = range(len(groups))
        ax.barh([i + 0.2 for i in y], [100 * decomposition.loc[g, "hukou_rate"] for g in groups], 0.4,
                label="hukou rate", color="tab:orange")
        ax.barh([i - 0.2 for i in y], [100 * decomposition.loc[g, "resident_rate"] for g in groups], 0.4,
                label="resident rate", color="tab:blue")
        ax.set_yticks(list(y), [g.replace("_", " ") for g in groups], fontsize=8)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_xlabel("contribution, final month (pp): plan - plan without group")
        ax.set_title("lever decomposition")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3, axis="x")
    fig.suptitle(title)
    fig.text(0.01, 0.01, "Same seed and scale in every run (common random numbers). Magnitudes of most levers "
             "are assumptions: docs/levers.md.", fontsize=7, color="grey")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def compare_scenarios(scenarios: list[Scenario], out_dir: Path, decompose: bool = False, plan_name: str | None = None,
                      on_month: Callable[[int], None] | None = None, console=None) -> dict:
    """Run, tabulate, plot and write a comparison; returns the tables (see the module docstring)."""
    from analysis import outputs, plots
    from sim.model import FLOWS

    plan = pick_plan(scenarios, plan_name)
    if decompose and plan is None:
        raise ValueError(f"--decompose needs the plan scenario '{plan_name or 'plan-2024'}' among the scenarios")
    removed: dict[str, str] = {}
    if plan is not None:
        for sc in scenarios:
            group = group_removed(plan, sc) if sc is not plan else None
            if group is not None and group not in removed:
                removed[group] = sc.name
        if decompose:
            for group in GROUPS:
                if group not in removed:
                    extra = without_group(plan, group)
                    scenarios = [*scenarios, extra]
                    removed[group] = extra.name
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        raise ValueError("scenario names must differ: " + ", ".join(names))
    series = run_all(scenarios, on_month)
    finals = final_values(series)
    table = comparison_table(finals)
    flows = last_year_flows(series, list(FLOWS))
    status_quo = next((s.name for s in scenarios if s.policy == Policy()), None)
    decomposition = decomposition_table(finals, plan.name, removed, status_quo) if plan is not None and removed \
        else None
    if console is not None:
        print_tables(console, table, decomposition)

    def fill(tmp: Path) -> None:
        long = finals.stack(["level", "region", "metric"], future_stack=True).rename("value").reset_index()
        first = long[long["scenario"] == long["scenario"].iloc[0]].set_index(["level", "region", "metric"])["value"]
        long["diff_vs_first"] = long["value"] - long.set_index(["level", "region", "metric"]).index.map(first)
        long["period"] = "final month"
        fl = flows.rename("value").reset_index()
        fl_first = fl[fl["scenario"] == scenarios[0].name].set_index(["level", "region", "metric"])["value"]
        fl["diff_vs_first"] = fl["value"] - fl.set_index(["level", "region", "metric"]).index.map(fl_first)
        fl["period"] = "last 12 months"
        import pandas as pd

        pd.concat([long, fl], ignore_index=True).to_csv(tmp / "comparison.csv", index=False)
        if decomposition is not None:
            decomposition.to_csv(tmp / "decomposition.csv", index_label="group")
        outputs.write_series(tmp / "series.parquet", series)
        title = (f"Scenario comparison ({len(scenarios)} runs, 1 agent = {scenarios[0].scale:,} persons, "
                 f"seed {scenarios[0].seed}, common random numbers)")
        plots.save(plot_comparison(series, decomposition, title=title), tmp / "comparison.png")
        outputs.write_json(tmp / "manifest.json", {
            "scenarios": [s.model_dump(mode="json") for s in scenarios],
            "seed": scenarios[0].seed, "scale": scenarios[0].scale, "months": scenarios[0].months,
            "versions": outputs.package_versions(), "git_revision": outputs.git_revision(),
        })

    path = outputs.write_atomically(out_dir, fill)
    return {"table": table, "decomposition": decomposition, "finals": finals, "flows": flows, "path": path,
            "series": series}


def compare(
    scenarios: Annotated[list[Path], typer.Argument(help="Scenario YAML files; differences are against the first.")],
    scale: Annotated[int | None, typer.Option(help="Persons per agent for every run (default: the first's).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for every run (default: the first scenario's).")] = None,
    months: Annotated[int | None, typer.Option(help="Months for every run (default: the first's).")] = None,
    out: Annotated[Path, typer.Option(help="Results folder.")] = Path("results/compare"),
    decompose: Annotated[bool, typer.Option(help="Also run the plan without each lever group and tabulate "
                                                 "each group's contribution.")] = False,
    plan: Annotated[str | None, typer.Option(help="Name of the plan scenario (default: plan-2024).")] = None,
    threads: Annotated[int | None, typer.Option(help="Numba threads (default: all cores).")] = None,
) -> None:
    """Run scenarios with common random numbers; print and write final-year rates, differences and
    the lever decomposition (comparison.csv, decomposition.csv, comparison.png)."""
    from analysis import outputs
    from sim.cli import UserError, compile_kernels_ahead, err_console, fail, month_progress, set_threads
    from sim.cli_support import warn_if_short_of_memory
    from sim.scenario_io import ScenarioError, load_scenario

    try:
        set_threads(threads)
        first = load_scenario(scenarios[0], scale=scale, seed=seed, months=months)
        common = {"scale": first.scale, "seed": first.seed, "months": first.months}
        loaded = [first] + [load_scenario(p, **common) for p in scenarios[1:]]
        for path, sc in zip(scenarios[1:], loaded[1:], strict=True):
            if sc.start_year != first.start_year:  # else the final months would be different years
                raise UserError(f"{path}: key 'start_year': compared scenarios start in the same year as the "
                                f"first ({first.start_year}), got {sc.start_year}")
        if decompose and pick_plan(loaded, plan) is None:
            raise UserError(f"option --decompose: no scenario named '{plan or 'plan-2024'}' among the scenarios "
                            "(name it with --plan)")
        outputs.check_destination(out)
    except (ScenarioError, UserError, outputs.OutputError) as err:
        fail(str(err))
    warn_if_short_of_memory(first.start_year, first.scale)
    total = sum(s.months for s in loaded)
    if decompose or pick_plan(loaded, plan) is not None:
        p = pick_plan(loaded, plan)
        if decompose and p is not None:
            have = {group_removed(p, s) for s in loaded}
            total += p.months * sum(1 for g in GROUPS if g not in have)
    compile_kernels_ahead()
    with month_progress(total, f"compare (1 agent = {first.scale} persons, seed {first.seed})") as bar:
        task = bar.add_task("compare", total=total)
        result = compare_scenarios(loaded, out, decompose=decompose, plan_name=plan,
                                   on_month=lambda m: bar.update(task, completed=m))
    from rich.console import Console

    print_tables(Console(width=190), result["table"], result["decomposition"])
    err_console.print(f"-> {result['path']}", highlight=False)
