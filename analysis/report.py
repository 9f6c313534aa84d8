"""``citizensim report``: one self-contained HTML file (figures embedded as base64 PNG) of one or more
projections, optionally a PDF of the same figures and tables.

Inputs are result folders of ``citizensim run`` (one run, or an ensemble with ``--replications``)
and optionally one sweep folder (``citizensim sweep``), which adds the sensitivity section. The
first run or ensemble folder is the main scenario; all of them appear in the scenario comparison. A
sweep given alone stands in for the main scenario with its yearly values over all its runs.

Sections (HTML ids): ``summary``, ``trajectories``, ``comparison``, ``tiers``, ``settlements``,
``children``, ``insurance-housing``, ``provinces``, ``sensitivity``, ``manifest``. A section whose
metrics a result does not have says so ("not in this result") instead of failing.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from analysis import figures, outputs, plots

SECTIONS = {
    "summary": "Summary",
    "trajectories": "National urbanization against the official history and the plan's target",
    "comparison": "Scenario comparison",
    "tiers": "City tiers",
    "settlements": "Settlements per year by city tier",
    "children": "Migrant children: public schools and left-behind",
    "insurance-housing": "Insurance and housing coverage",
    "provinces": "Provinces: change to 2029",
    "sensitivity": "Sensitivity of the 2029 rates to levers and parameters",
    "manifest": "Provenance: scenarios, seeds and versions",
}
REPORT_LEVELS = ["national", "tier", "province"]


class ReportError(Exception):
    """Unusable inputs (missing folder, not a result); one line."""


@dataclass
class Result:
    """A run, an ensemble, or a sweep's runs seen as an ensemble of yearly values."""

    path: Path
    name: str
    series: pd.DataFrame
    manifest: dict
    kind: str  # "run", "ensemble" or "sweep"

    @property
    def runs(self) -> int:
        return int(self.series["run"].nunique()) if "run" in self.series.columns else 1


@dataclass
class SweepInput:
    path: Path
    state: dict
    table: pd.DataFrame | None = None
    problem: str | None = None
    figure: object = None
    notes: list[str] = field(default_factory=list)


def _categorise(df: pd.DataFrame) -> pd.DataFrame:
    for col in ("level", "region", "metric"):
        if col in df.columns:
            df[col] = df[col].astype("category")
    return df


def load_result(path: Path) -> Result:
    path = Path(path)
    series_path = path / "series.parquet"
    if not series_path.is_file() or not (path / "manifest.json").is_file():
        raise ReportError(f"{path}: not a result folder (needs series.parquet and manifest.json from "
                          "`citizensim run`, or sweep.json from `citizensim sweep`)")
    series = pd.read_parquet(series_path, filters=[("level", "in", REPORT_LEVELS)])
    series = _categorise(series)
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    name = (manifest.get("scenario") or {}).get("name") or path.name
    kind = "ensemble" if "run" in series.columns and series["run"].nunique() > 1 else "run"
    return Result(path, name, series, manifest, kind)


def sweep_as_result(path: Path, state: dict) -> Result:
    """The sweep's yearly national/tier/province values, one ``run`` per run id (an ensemble)."""
    from analysis.sweep import RESULTS, read_results

    if not (path / RESULTS).is_file():
        raise ReportError(f"{path}: the sweep has no results.parquet yet; finish it with --resume")
    res = read_results(path, filters=[("period", "in", ["start", "year"])])
    res = res[res["level"].isin(REPORT_LEVELS)]
    if res.empty or not (res["metric"] == "resident_rate").any():
        raise ReportError(f"{path}: the sweep's results have no yearly series; pass a run or ensemble folder too")
    year = res["year"].astype(int)
    month = res["month"].astype(int)
    date = pd.to_datetime(year.astype(str) + "-12-31")
    series = pd.DataFrame({"run": res["run_id"].astype(str), "month": month, "date": date,
                           "level": res["level"], "region": res["region"], "metric": res["metric"],
                           "value": res["value"]})
    base = state.get("base_scenario", {})
    manifest = {"scenario": base, "seed": state.get("spec", {}).get("replications"), "sweep": state.get("name"),
                "runs": state.get("runs"), "created_utc": state.get("created_utc")}
    return Result(path, f"{state.get('name', path.name)} (sweep)", _categorise(series), manifest, "sweep")


def load_inputs(paths: list[Path]) -> tuple[list[Result], SweepInput | None]:
    results: list[Result] = []
    sweep: SweepInput | None = None
    for p in paths:
        p = Path(p)
        if not p.is_dir():
            raise ReportError(f"{p}: folder not found")
        if (p / "sweep.json").is_file():
            if sweep is not None:
                raise ReportError(f"{p}: only one sweep folder per report (already have {sweep.path})")
            sweep = SweepInput(p, json.loads((p / "sweep.json").read_text(encoding="utf-8")))
        else:
            results.append(load_result(p))
    if not results and sweep is None:
        raise ReportError("no result folders given")
    if not results:
        results.append(sweep_as_result(sweep.path, sweep.state))
    return results, sweep


def _sensitivity(sweep: SweepInput) -> None:
    from analysis import sensitivity as sa

    csv = sweep.path / "sensitivity.csv"
    try:
        sweep.table = sa.analyse(sweep.path)
    except sa.SensitivityError as err:
        if csv.is_file():
            sweep.table = pd.read_csv(csv)
            sweep.notes.append(f"Indices read from {csv.name} (could not recompute: {err}).")
        else:
            sweep.problem = str(err)
            return
    sweep.figure = sa.plot(sweep.table, title=f"Sensitivity of the final-year rates: sweep '{sweep.state.get('name')}'")


# -- HTML pieces -----------------------------------------------------------------------------------
def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _figure_html(fig, alt: str, caption: str) -> str:
    return (f'<figure><img src="data:image/png;base64,{_png(fig)}" alt="{html.escape(alt)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _table_html(df: pd.DataFrame, cls: str = "data") -> str:
    return df.to_html(index=False, classes=cls, border=0, na_rep="-", escape=True)


def _pct(v: float) -> str:
    return f"{v:.1%}" if pd.notna(v) else "-"


def _end_value(series: pd.DataFrame, metric: str) -> tuple[float, float, float]:
    if not figures.has_metric(series, metric):
        return (float("nan"),) * 3
    b = plots.band(series, metric)
    last = b.iloc[-1]
    return float(last["median"]), float(last["low"]), float(last["high"])


def _start_value(series: pd.DataFrame, metric: str) -> float:
    b = plots.band(series, metric)
    return float(b.iloc[0]["median"])


def summary_table(results: list[Result]) -> pd.DataFrame:
    rows = []
    for r in results:
        s = r.series
        end = s["date"].max()
        res = _end_value(s, "resident_rate")
        hk = _end_value(s, "hukou_rate")
        band = (lambda v: f"{_pct(v[0])} ({_pct(v[1])}-{_pct(v[2])})") if r.runs > 1 else (lambda v: _pct(v[0]))
        settled = figures.yearly_flow(s, "settlements", "national") if figures.has_metric(s, "settlements") else None
        total = settled.groupby("year")["median"].sum().sum() / 1e6 if settled is not None else float("nan")
        rows.append({
            "scenario": r.name, "runs": r.runs, "end": end.strftime("%b %Y"),
            "resident rate": band(res), "hukou rate": band(hk),
            "gap (pp)": f"{(res[0] - hk[0]) * 100:.1f}",
            "hukou rate change (pp)": f"{(hk[0] - _start_value(s, 'hukou_rate')) * 100:+.1f}",
            "settlements (millions, whole period)": f"{total:.1f}",
            "70% target reached": "yes" if res[0] >= plots.PLAN_TARGET else "no",
        })
    return pd.DataFrame(rows)


def difference_table(results: list[Result]) -> pd.DataFrame:
    """Each scenario's end values minus the main scenario's (percentage points, millions)."""
    def ends(r: Result) -> dict:
        s = r.series
        settled = figures.yearly_flow(s, "settlements", "national") if figures.has_metric(s, "settlements") else None
        return {"resident": _end_value(s, "resident_rate")[0], "hukou": _end_value(s, "hukou_rate")[0],
                "settled": settled["median"].sum() if settled is not None else float("nan")}

    base = ends(results[0])
    rows = []
    for r in results[1:]:
        e = ends(r)
        rows.append({"scenario": r.name, "resident rate (pp)": f"{(e['resident'] - base['resident']) * 100:+.2f}",
                     "hukou rate (pp)": f"{(e['hukou'] - base['hukou']) * 100:+.2f}",
                     "settlements, whole period (millions)": f"{(e['settled'] - base['settled']) / 1e6:+.2f}"})
    return pd.DataFrame(rows)


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _defaults() -> dict:
    """The reference settings: the default (status-quo) levers and the calibrated behaviour that every
    scenario file starts from (sim/data/calibrated.yaml, when there is one)."""
    from analysis.designs import _calibrated_defaults
    from sim.policy import Scenario

    sc = Scenario.model_validate({"name": "defaults", **_calibrated_defaults()})
    return _flatten({k: v for k, v in sc.model_dump(mode="json").items() if k in ("policy", "behaviour")})


def manifest_tables(results: list[Result], sweep: SweepInput | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs table, levers differing from the defaults)."""
    rows = []
    for r in results:
        m = r.manifest
        versions = m.get("versions") or {}
        seeds = m.get("seeds") or m.get("seed")
        rows.append({
            "result": str(r.path), "scenario": r.name, "kind": r.kind,
            "seed(s)": ", ".join(map(str, seeds)) if isinstance(seeds, list) else str(seeds),
            "scale (persons/agent)": (m.get("scale") or (m.get("scenario") or {}).get("scale")),
            "months": m.get("months") or (m.get("scenario") or {}).get("months"),
            "start year": (m.get("scenario") or {}).get("start_year"),
            "agents at start": f"{m['agents_at_start']:,}" if isinstance(m.get("agents_at_start"), int) else None,
            "git revision": m.get("git_revision"), "created (UTC)": m.get("created_utc"),
            "wall time (s)": m.get("wall_seconds"),
            "versions": ", ".join(f"{k} {v}" for k, v in versions.items() if v),
        })
    if sweep is not None:
        st = sweep.state
        reps = (st.get("spec") or {}).get("replications") or {}
        seeds = reps.get("seeds") or [f"{reps.get('count')} seeds from {reps.get('first_seed')}"]
        rows.append({"result": str(sweep.path), "scenario": f"sweep '{st.get('name')}' on {st.get('sweep_file')}",
                     "kind": "sweep", "seed(s)": ", ".join(map(str, seeds)),
                     "scale (persons/agent)": (st.get("base_scenario") or {}).get("scale"),
                     "months": (st.get("base_scenario") or {}).get("months"),
                     "start year": (st.get("base_scenario") or {}).get("start_year"),
                     "created (UTC)": st.get("created_utc"),
                     "notes": f"{st.get('runs_done', '?')} of {st.get('runs')} runs done, "
                              f"design {(st.get('spec') or {}).get('design', {}).get('method')}"})
    runs = pd.DataFrame(rows).dropna(axis=1, how="all")
    try:
        defaults = _defaults()
    except Exception:  # noqa: BLE001 - the provenance table must not fail on a changed policy module
        defaults = {}
    diffs = []
    for r in results:
        sc = r.manifest.get("scenario") or {}
        flat = _flatten({k: v for k, v in sc.items() if k in ("policy", "behaviour")})
        for key, value in flat.items():
            if key in defaults and defaults[key] != value:
                diffs.append({"scenario": r.name, "setting": key, "value": value, "default": defaults[key]})
    lever_table = pd.DataFrame(diffs, columns=["scenario", "setting", "value", "default"])
    return runs, lever_table


CSS = """
body { font-family: "Helvetica Neue", Arial, "Noto Sans CJK SC", sans-serif; max-width: 1100px; margin: 2em auto;
       color: #222; line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #bbb; padding-bottom: 0.2em;
       margin-top: 1.8em; } .meta { color: #555; font-size: 0.9em; }
figure { margin: 1em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #444; } .note { background: #f6f6f0; border-left: 4px solid #c9b458;
       padding: 0.5em 0.8em; } .missing { color: #8a4b00; font-style: italic; }
table.data { border-collapse: collapse; font-size: 0.85em; margin: 0.6em 0; }
table.data th, table.data td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
table.data th { background: #f0f0f0; } nav ol { columns: 2; font-size: 0.9em; }
@media print { body { max-width: none; margin: 0; font-size: 10pt; } section { page-break-inside: avoid; }
       h2 { page-break-after: avoid; } nav { display: none; } figure img { border: none; } }
"""


def _section(sid: str, body: list[str]) -> str:
    return f'<section id="{sid}">\n<h2>{html.escape(SECTIONS[sid])}</h2>\n' + "\n".join(body) + "\n</section>"


def _p(text: str, cls: str | None = None) -> str:
    return f'<p class="{cls}">{html.escape(text)}</p>' if cls else f"<p>{html.escape(text)}</p>"


def build(results: list[Result], sweep: SweepInput | None, title: str | None = None):
    """The report as (HTML text, [(section id, figure title, figure)], [(title, table)]) for the PDF."""
    from sim.inputs import load_history

    history = load_history()
    main = results[0]
    s = main.series
    figs: list[tuple[str, str, object]] = []
    tables: list[tuple[str, pd.DataFrame]] = []
    sections: list[str] = []
    title = title or f"citizensim projection report: {', '.join(r.name for r in results)}"
    ens = (f"an ensemble of {main.runs} runs (lines: median, shading: 5-95% range)" if main.runs > 1
           else "a single run (use `citizensim run --replications R` for uncertainty bands)")

    def add_fig(sid: str, fig, alt: str, caption: str) -> str:
        figs.append((sid, alt, fig))
        return _figure_html(fig, alt, caption)

    # summary
    summ = summary_table(results)
    tables.append(("Summary at the end of the projection", summ))
    sections.append(_section("summary", [
        _p(f"Main scenario: '{main.name}' ({main.path}), {ens}. Rates are shares of the resident population; "
           "counts are persons (agents x scale). The plan (国发〔2024〕17号) aims at a resident urbanization rate "
           "close to 70% after five years."),
        _table_html(summ),
    ]))
    # trajectories
    sections.append(_section("trajectories", [
        _p("Resident (常住人口) and hukou (户籍人口) urbanization rates, simulated monthly, against the National "
           "Bureau of Statistics history (year-end values) and the plan's ~70% target."),
        add_fig("trajectories", figures.trajectories(s, history, main.name), "national urbanization trajectories",
                "Figure 1. National resident and hukou urbanization rates. Sources: NBS statistical communiqués "
                "(sim/data/national_history.csv); State Council, Guofa [2024] No. 17; citizensim."),
    ]))
    # comparison
    if len(results) > 1:
        body = [_p("Every scenario with its own band; runs with equal seeds share their random numbers, so "
                   "differences between scenarios are not sampling noise of independent draws."),
                add_fig("comparison", figures.comparison([(r.name, r.series) for r in results], history),
                        "scenario comparison", "Figure 2. Resident and hukou urbanization rates by scenario.")]
        diff = difference_table(results)
        tables.append((f"Difference from '{main.name}' at the end of the projection", diff))
        body += [_p(f"Difference from '{main.name}' at the end of the projection (medians over runs):"),
                 _table_html(diff)]
    else:
        body = [_p("Only one result was given: pass several result folders (e.g. results/plan-2024 "
                   "results/status-quo) to compare scenarios.", "missing")]
    sections.append(_section("comparison", body))
    # tiers
    if figures.has_metric(s, "urban_residents") and (s["level"] == "tier").any():
        body = [add_fig("tiers", figures.tiers(s, main.name), "city tiers",
                        "Figure 3. Urban residents by city tier (stacked) and hukou rate by tier. Tiers by "
                        "urban-district resident population: under 3M open settlement, 3-5M relaxed, over 5M points.")]
    else:
        body = [_p("City-tier series: not in this result.", "missing")]
    sections.append(_section("tiers", body))
    # settlements
    if figures.has_metric(s, "settlements") and (s["level"] == "tier").any():
        body = [add_fig("settlements", figures.settlements(s, main.name), "settlements per year by tier",
                        "Figure 4. Persons granted urban hukou per year, by tier of the city of settlement "
                        "(millions). Partial years are marked with their number of months.")]
        t = figures.yearly_flow(s, "settlements", "tier").pivot(index="year", columns="region", values="median")
        t = t.reindex(columns=[c for c in figures.TIER_LABELS if c in t.columns])
        t = (t / 1e6).round(2).reset_index()
        t.columns = [str(c) if c == "year" else f"{figures.TIER_LABELS.get(str(c), c)} (millions)" for c in t.columns]
        tables.append(("Settlements per year by tier (millions, median)", t))
        body.append(_table_html(t))
    else:
        body = [_p("Settlement flows by tier: not in this result.", "missing")]
    sections.append(_section("settlements", body))
    # children
    child_metrics = ("children_public_school", "children_left_behind", "migrant_children_public_share")
    present = [m for m in child_metrics if figures.has_metric(s, m)]
    body = []
    if present:
        body.append(add_fig("children", figures.children(s, main.name), "migrant children",
                            "Figure 5. Accompanying children by school type, left-behind children (millions), and "
                            "the share of accompanying children in public schools."))
    for m in child_metrics:
        if m not in present:
            body.append(_p(f"{m}: not in this result.", "missing"))
    sections.append(_section("children", body))
    # insurance and housing
    body = [add_fig("insurance-housing", figures.insurance_housing(s, main.name), "insurance and housing coverage",
                    "Figure 6. Shares of migrants with employee social insurance and residence permits"
                    + (", and housing metrics." if figures.housing_metrics(s) else "."))]
    if not figures.has_metric(s, "migrant_insured_share"):
        body.append(_p("migrant_insured_share: not in this result.", "missing"))
    housing = figures.housing_metrics(s)
    if housing:
        body.append(_p("Housing metrics shown: " + ", ".join(housing) + "."))
    else:
        body.append(_p("Housing coverage (affordable rental housing, urban-village renovation): not in this result "
                       "- the series has no housing metrics.", "missing"))
    sections.append(_section("insurance-housing", body))
    # provinces
    if figures.has_metric(s, "hukou_rate") and (s["level"] == "province").any():
        ch, start, end = figures.province_change(s, "hukou_rate")
        body = [add_fig("provinces", figures.provinces(s, main.name), "province tile grid",
                        f"Figure 7. Change in the hukou and resident urbanization rates by province, {start} to "
                        f"{end}, percentage points.")]
        top = (ch * 100).sort_values(ascending=False).round(2).reset_index()
        top.columns = ["province", f"hukou rate change {start}-{end} (pp)"]
        tables.append((f"Hukou rate change by province, {start}-{end} (pp)", top))
        body.append("<details><summary>Table: change by province</summary>" + _table_html(top) + "</details>")
    else:
        body = [_p("Province series: not in this result.", "missing")]
    sections.append(_section("provinces", body))
    # sensitivity
    if sweep is None:
        body = [_p("No sweep folder given: run `citizensim sweep sweeps/levers.yaml` and pass its folder to add "
                   "Sobol sensitivity indices.", "missing")]
    else:
        _sensitivity(sweep)
        if sweep.figure is None:
            body = [_p(f"Sweep '{sweep.state.get('name')}': {sweep.problem}", "missing")]
        else:
            from analysis.sensitivity import wide

            w = wide(sweep.table).round(3)
            tables.append(("Sensitivity indices", w))
            body = [_p(f"Sweep '{sweep.state.get('name')}' ({sweep.state.get('runs')} runs, "
                       f"{(sweep.state.get('spec') or {}).get('design', {}).get('method')} design). Outcomes are the "
                       "national rates at the end of the period, averaged over each point's seeds."),
                    add_fig("sensitivity", sweep.figure, "sensitivity bars",
                            "Figure 8. Sensitivity indices with 95% confidence intervals (SALib)."),
                    _table_html(w)] + [_p(n) for n in sweep.notes]
    sections.append(_section("sensitivity", body))
    # manifest
    runs, levers = manifest_tables(results, sweep)
    tables.append(("Results and versions", runs))
    body = [_p("What produced each result: scenario, seeds, scale, code revision and package versions."),
            _table_html(runs),
            "<h3>Settings that differ from the defaults (status-quo levers, calibrated behaviour)</h3>"]
    if len(levers):
        tables.append(("Settings that differ from the defaults", levers))
        body.append(_table_html(levers))
    else:
        body.append(_p("None: every result uses the default levers and parameters."))
    sections.append(_section("manifest", body))

    nav = "<nav><ol>" + "".join(f'<li><a href="#{k}">{html.escape(v)}</a></li>' for k, v in SECTIONS.items()) \
        + "</ol></nav>"
    created = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(title)}</title>\n'
        f"<style>{CSS}</style>\n</head>\n<body>\n<header><h1>{html.escape(title)}</h1>\n"
        f'<p class="meta">Generated {created} by citizensim report from {len(results)} result(s)'
        f"{' and one sweep' if sweep else ''}. Figures are embedded; this file is self-contained.</p></header>\n"
        f"{nav}\n" + "\n".join(sections) + "\n<footer><p class=\"meta\">Sources: National Bureau of Statistics "
        "(history), State Council 国发〔2024〕17号 (levers, target), citizensim simulation outputs (projections). "
        "Simulated values are model projections, not statistics.</p></footer>\n</body>\n</html>\n")
    return page, figs, tables


def _write_text_atomically(path: Path, text: str) -> None:
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _table_figure(name: str, table: pd.DataFrame):
    """A landscape A4 page with ``table`` drawn as wrapped text cells (wide, short tables transposed)."""
    import textwrap

    import matplotlib.pyplot as plt

    df = table.copy()
    df = df.astype(object).where(df.notna(), "-").astype(str)
    if df.shape[1] > 7 and len(df) <= 6:  # e.g. the manifest: one column per result reads better
        df = df.set_index(df.columns[0]).T.reset_index().rename(columns={"index": "field"})
    lengths = [max([len(str(c))] + [len(v) for v in df[c]]) for c in df.columns]
    weights = [min(max(n, 6), 60) for n in lengths]
    widths = [w / sum(weights) for w in weights]
    chars = [max(8, int(w * 200)) for w in widths]
    cells = [["\n".join(textwrap.wrap(v, c) or [""]) for v, c in zip(row, chars, strict=True)]
             for row in df.itertuples(index=False)]
    labels = ["\n".join(textwrap.wrap(str(col), c)) for col, c in zip(df.columns, chars, strict=True)]
    fig = plt.figure(figsize=(11.69, 8.27))
    fig.text(0.03, 0.95, name, fontsize=12)
    ax = fig.add_axes((0.03, 0.04, 0.94, 0.88))
    ax.axis("off")
    if cells:
        t = ax.table(cellText=cells, colLabels=labels, colWidths=widths, loc="upper left", cellLoc="left")
        t.auto_set_font_size(False)
        t.set_fontsize(6.5)
        rows = [labels] + cells
        for (r, _col), cell in t.get_celld().items():
            n_lines = max(v.count("\n") + 1 for v in rows[r])
            cell.set_height(0.022 * n_lines + 0.008)
            if r == 0:
                cell.set_facecolor("#eeeeee")
    return fig


def write_pdf(path: Path, title: str, figs: list, tables: list[tuple[str, pd.DataFrame]]) -> None:
    """A PDF with a title page, every figure, and the tables drawn as text pages."""
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}"
    with PdfPages(tmp) as pdf:
        fig = plt.figure(figsize=(11.69, 8.27))
        fig.text(0.5, 0.6, title, ha="center", fontsize=16, wrap=True)
        fig.text(0.5, 0.5, "citizensim report - generated " + datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                 ha="center", fontsize=10, color="grey")
        pdf.savefig(fig)
        plt.close(fig)
        for _, _, f in figs:
            pdf.savefig(f)
        for name, table in tables:
            for start in range(0, max(len(table), 1), 28):
                fig = _table_figure(name + (f" (continued, rows {start + 1}-)" if start else ""),
                                    table.iloc[start:start + 28])
                pdf.savefig(fig)
                plt.close(fig)
    os.replace(tmp, path)


def build_report(paths: list[Path], out: Path, pdf: bool = False, title: str | None = None) -> list[Path]:
    """Write the HTML report to ``out`` (and ``out`` with .pdf when ``pdf``); return the paths written."""
    import matplotlib.pyplot as plt

    results, sweep = load_inputs(paths)
    out = outputs.check_file_destination(out, "report.html")
    page, figs, tables = build(results, sweep, title)
    _write_text_atomically(out, page)
    written = [out]
    if pdf:
        pdf_path = out.with_suffix(".pdf")
        write_pdf(pdf_path, title or f"citizensim projection report: {', '.join(r.name for r in results)}",
                  figs, tables)
        written.append(pdf_path)
    for _, _, f in figs:
        plt.close(f)
    return written
