"""Report figures (matplotlib, print-readable: titles, axis labels with units, a source line).

Every function takes tidy series (columns month, date, level, region, metric, value and optionally
``run``) and works for one run (a line) and for an ensemble (median over runs, 5-95% band), like
:mod:`analysis.plots`. Counts are drawn in millions of persons, rates and shares in percent.
"""

from __future__ import annotations

import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import FuncFormatter, PercentFormatter  # noqa: E402

from analysis import plots  # noqa: E402

SIM_SOURCE = "Source: citizensim simulation"
TIER_LABELS = {"open": "under 3M (open)", "relaxed": "3-5M (relaxed)", "points": "over 5M (points)"}
TIER_COLORS = {"open": "#8fbcd4", "relaxed": "#3a87b7", "points": "#1b4f72"}
COLORS = ["tab:blue", "tab:red", "tab:green", "tab:purple", "tab:brown", "tab:olive", "tab:cyan", "tab:pink"]
MILLIONS = FuncFormatter(lambda v, _: f"{v / 1e6:,.0f}")
MILLIONS_1 = FuncFormatter(lambda v, _: f"{v / 1e6:,.1f}")

# Province tile grid (column, row from the top): neighbours stay neighbours where a grid allows.
TILES = {
    "Heilongjiang": (7, 0), "Inner Mongolia": (4, 1), "Beijing": (5, 1), "Jilin": (7, 1),
    "Xinjiang": (1, 2), "Ningxia": (3, 2), "Shanxi": (4, 2), "Hebei": (5, 2), "Tianjin": (6, 2), "Liaoning": (7, 2),
    "Qinghai": (1, 3), "Gansu": (2, 3), "Shaanxi": (3, 3), "Henan": (4, 3), "Shandong": (5, 3),
    "Tibet": (1, 4), "Sichuan": (2, 4), "Chongqing": (3, 4), "Hubei": (4, 4), "Anhui": (5, 4), "Jiangsu": (6, 4),
    "Shanghai": (7, 4),
    "Yunnan": (2, 5), "Guizhou": (3, 5), "Hunan": (4, 5), "Jiangxi": (5, 5), "Zhejiang": (6, 5),
    "Guangxi": (3, 6), "Guangdong": (4, 6), "Fujian": (5, 6),
    "Hainan": (4, 7),
}


def select(series: pd.DataFrame, metric: str, level: str = "national", region: str | None = "China") -> pd.DataFrame:
    sel = series[(series["level"] == level) & (series["metric"] == metric)]
    if region is not None:
        sel = sel[sel["region"] == region]
    return sel


def has_metric(series: pd.DataFrame, metric: str) -> bool:
    return bool((series["metric"] == metric).any())


def by_region(series: pd.DataFrame, metric: str, level: str, stat: str = "median") -> pd.DataFrame:
    """date x region table of ``metric`` at ``level``: the value, or the median over runs."""
    sel = select(series, metric, level, None)
    keys = ["date", "region"]
    vals = sel.groupby(keys, observed=True)["value"]
    agg = vals.median() if stat == "median" else vals.mean()
    return agg.unstack("region")


def _source(fig, text: str) -> None:
    """A grey source line (wrapped to the figure's width) under the axes."""
    width_in, height_in = fig.get_size_inches()
    lines = textwrap.wrap(text, width=int(width_in * 19))
    fig.text(0.01, 0.01, "\n".join(lines), fontsize=6, color="grey", va="bottom")
    for ax in fig.axes:
        if ax.xaxis.get_converter() is not None and "Date" in type(ax.xaxis.get_converter()).__name__:
            locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    fig.tight_layout(rect=(0, min(0.3, (0.05 + 0.11 * len(lines)) / height_in), 1, 1))  # leaves room for suptitle


def _is_ensemble(series: pd.DataFrame) -> bool:
    return "run" in series.columns and series["run"].nunique() > 1


def _band_note(series: pd.DataFrame) -> str:
    if _is_ensemble(series):
        return f"; lines: median of {series['run'].nunique()} runs, shading: 5-95% range"
    return ""


# -- 1. trajectories -------------------------------------------------------------------------------
def trajectories(series: pd.DataFrame, history: pd.DataFrame, name: str):
    """National resident and hukou rates against the NBS history and the plan's 70% target."""
    fig, ax = plt.subplots(figsize=(8, 4.6), dpi=110)
    plots.plot_urbanization(series, history, ax=ax,
                            title=f"Resident and hukou urbanization, China: scenario '{name}'")
    ax.set_xlabel("year (values at year end; simulation monthly)")
    _source(fig, plots.SOURCE_NOTE + " " + SIM_SOURCE + _band_note(series) + ".")
    return fig


# -- 2. scenario comparison ------------------------------------------------------------------------
def comparison(results: list[tuple[str, pd.DataFrame]], history: pd.DataFrame):
    """Resident (left) and hukou (right) rates of several scenarios, each with its band."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4), dpi=110, sharey=False)
    start = min(s["date"].min() for _, s in results)
    hist = history[pd.to_datetime(history["year"].astype(str) + "-12-31") >= start - pd.DateOffset(years=4)]
    for ax, metric, label in ((axes[0], "resident_rate", "resident"), (axes[1], "hukou_rate", "hukou")):
        for i, (name, series) in enumerate(results):
            plots.draw_metric(ax, series, metric, name, COLORS[i % len(COLORS)])
        h = hist.dropna(subset=[metric])
        ax.plot(pd.to_datetime(h["year"].astype(str) + "-12-31"), h[metric], "o", color="black", ms=3,
                label="NBS history")
        if metric == "resident_rate":
            ax.axhline(plots.PLAN_TARGET, color="grey", ls="--", lw=1, label="plan target (~70%)")
        ax.set_title(f"{label.capitalize()} urbanization rate", fontsize=10)
        ax.set_ylabel("share of resident population")
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle("Scenario comparison (same seeds: common random numbers)", fontsize=11)
    _source(fig, plots.SOURCE_NOTE + " " + SIM_SOURCE + ".")
    return fig


# -- 3. city tiers ---------------------------------------------------------------------------------
def tiers(series: pd.DataFrame, name: str):
    """Stacked areas of urban residents by city tier (left) and the hukou rate by tier (right)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), dpi=110)
    urban = by_region(series, "urban_residents", "tier").reindex(columns=list(TIER_LABELS)).fillna(0.0)
    axes[0].stackplot(urban.index, *[urban[t] for t in urban.columns], labels=[TIER_LABELS[t] for t in urban.columns],
                      colors=[TIER_COLORS[t] for t in urban.columns], alpha=0.9)
    axes[0].yaxis.set_major_formatter(MILLIONS)
    axes[0].set_ylabel("urban residents (millions)")
    axes[0].set_title("Urban residents by city tier (stacked)", fontsize=10)
    axes[0].legend(fontsize=7, loc="lower left")
    hk = by_region(series, "hukou_rate", "tier").reindex(columns=list(TIER_LABELS))
    for t in hk.columns:
        axes[1].plot(hk.index, hk[t], color=TIER_COLORS[t], label=TIER_LABELS[t])
    axes[1].yaxis.set_major_formatter(PercentFormatter(1.0))
    axes[1].set_ylabel("hukou holders / residents of the tier's cities")
    axes[1].set_title("Hukou rate by city tier", fontsize=10)
    axes[1].legend(fontsize=7)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle(f"City tiers by urban-district population: scenario '{name}'", fontsize=11)
    _source(fig, SIM_SOURCE + "; a city's tier is recomputed each year from its urban-district population"
            + (f"; values: median of {series['run'].nunique()} runs" if _is_ensemble(series) else "") + ".")
    return fig


# -- 4. settlements per year -----------------------------------------------------------------------
def yearly_flow(series: pd.DataFrame, metric: str, level: str) -> pd.DataFrame:
    """Per year and region: the flow summed over the year's months, median/p05/p95 over runs."""
    sel = select(series, metric, level, None)
    sel = sel[sel["month"] >= 1]
    sel = sel.assign(year=sel["date"].dt.year)
    runs = ["run"] if "run" in sel.columns else []
    tot = sel.groupby(["year", "region", *runs], observed=True)["value"].sum().reset_index()
    g = tot.groupby(["year", "region"], observed=True)["value"]
    months = sel.groupby("year")["month"].nunique()
    out = pd.DataFrame({"median": g.median(), "p05": g.quantile(0.05), "p95": g.quantile(0.95)}).reset_index()
    out["months"] = out["year"].map(months)
    return out


def settlements(series: pd.DataFrame, name: str):
    """Persons newly granted an urban hukou each year, by the tier of the city they settle in."""
    t = yearly_flow(series, "settlements", "tier")
    years = sorted(t["year"].unique())
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=110)
    width = 0.8 / 3
    for i, tier in enumerate(TIER_LABELS):
        row = t[t["region"] == tier].set_index("year").reindex(years)
        x = np.arange(len(years)) + (i - 1) * width
        err = None
        if _is_ensemble(series):
            err = np.vstack([row["median"] - row["p05"], row["p95"] - row["median"]]).clip(min=0)
        ax.bar(x, row["median"].fillna(0), width, yerr=err, color=TIER_COLORS[tier], label=TIER_LABELS[tier],
               capsize=2)
    months = t.drop_duplicates("year").set_index("year")["months"]
    ax.set_xticks(np.arange(len(years)), [f"{y}" if months[y] == 12 else f"{y}\n({months[y]} mo.)" for y in years])
    ax.yaxis.set_major_formatter(MILLIONS_1)
    ax.set_ylabel("persons settling per year (millions)")
    ax.set_xlabel("year")
    ax.set_title(f"Hukou settlements per year by city tier: scenario '{name}'", fontsize=11)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    _source(fig, SIM_SOURCE + "; settlements include family members moving with the applicant"
            + ("; error bars: 5-95% range over runs" if _is_ensemble(series) else "") + ".")
    return fig


# -- 5. migrant children ---------------------------------------------------------------------------
def children(series: pd.DataFrame, name: str):
    """Accompanying children in public and private schools, left-behind children, public-school share."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), dpi=110)
    for metric, label, color in (("children_public_school", "accompanying, in public school", "tab:green"),
                                 ("children_private_school", "accompanying, in private school", "tab:olive"),
                                 ("children_left_behind", "left behind in the countryside", "tab:red")):
        if has_metric(series, metric):
            plots.draw_metric(axes[0], series, metric, label, color)
    axes[0].yaxis.set_major_formatter(MILLIONS_1)
    axes[0].set_ylabel("children (millions)")
    axes[0].set_title("Migrant children", fontsize=10)
    axes[0].legend(fontsize=7)
    if has_metric(series, "migrant_children_public_share"):
        plots.draw_metric(axes[1], series, "migrant_children_public_share", "share in public schools", "tab:green")
    axes[1].yaxis.set_major_formatter(PercentFormatter(1.0))
    axes[1].set_ylabel("public-school pupils / accompanying children")
    axes[1].set_title("Accompanying children in public schools", fontsize=10)
    axes[1].legend(fontsize=7)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle(f"Schooling of migrant workers' children: scenario '{name}'", fontsize=11)
    _source(fig, SIM_SOURCE + "; plan clause II.(2).2 (school places for accompanying children)"
            + _band_note(series) + ".")
    return fig


# -- 6. insurance and housing ----------------------------------------------------------------------
HOUSING_WORDS = ("housing", "rental", "urban_village", "affordable", "dwelling")
INSURANCE_METRICS = {"migrant_insured_share": "migrant workers with employee insurance",
                     "migrant_permit_share": "migrants holding a residence permit"}


def housing_metrics(series: pd.DataFrame) -> list[str]:
    names = sorted(set(series["metric"].astype(str)))
    return [m for m in names if any(w in m for w in HOUSING_WORDS)]


def _is_share(metric: str) -> bool:
    return metric.endswith(("_share", "_rate", "_coverage"))


def insurance_housing(series: pd.DataFrame, name: str):
    """Insurance and permit coverage of migrants; housing shares and housing stocks when the run has them."""
    housing = housing_metrics(series)
    shares = [m for m in housing if _is_share(m)]
    stocks = [m for m in housing if not _is_share(m)]
    ncols = 1 + bool(shares) + bool(stocks)
    fig, axes = plt.subplots(1, ncols, figsize=(4.6 * ncols + (2 if ncols == 1 else 0), 4.2), dpi=110, squeeze=False)
    ax = axes[0][0]
    for i, (metric, label) in enumerate(INSURANCE_METRICS.items()):
        if has_metric(series, metric):
            plots.draw_metric(ax, series, metric, label, COLORS[i])
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel("share of migrants (%)")
    ax.set_title("Social insurance and residence permits", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    panels = [(shares, "Housing coverage", "share (%)", PercentFormatter(1.0)),
              (stocks, "Housing stocks and allocations", "persons or units (millions)", MILLIONS_1)]
    k = 1
    for metrics, title, ylabel, formatter in panels:
        if not metrics:
            continue
        ax = axes[0][k]
        k += 1
        for i, metric in enumerate(metrics):
            plots.draw_metric(ax, series, metric, metric.replace("_", " "), COLORS[(i + 2) % len(COLORS)])
        ax.yaxis.set_major_formatter(formatter)
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle(f"Insurance and housing coverage of migrants: scenario '{name}'", fontsize=11)
    _source(fig, SIM_SOURCE + "; plan clauses II.(2).3-4 (insurance at the place of work, housing)"
            + _band_note(series) + ".")
    return fig


# -- 7. provinces ----------------------------------------------------------------------------------
def province_change(series: pd.DataFrame, metric: str, year: int | None = None) -> tuple[pd.Series, str, str]:
    """Per province: change of ``metric`` from the start (month 0) to December of ``year`` (default:
    2029, or the last simulated month if the run ends earlier); median over runs. Also the labels."""
    sel = select(series, metric, "province", None)
    dates = sorted(sel["date"].unique())
    start = dates[0]
    target = pd.Timestamp(f"{year or 2029}-12-31")
    end = max(d for d in dates if d <= target) if any(d <= target for d in dates) else dates[-1]
    runs = ["run"] if "run" in sel.columns else []
    a = sel[sel["date"] == start].set_index(["region", *runs])["value"]
    b = sel[sel["date"] == end].set_index(["region", *runs])["value"]
    change = (b - a).groupby(level="region", observed=True).median()
    return change, pd.Timestamp(start).strftime("%b %Y"), pd.Timestamp(end).strftime("%b %Y")


def _tile_panel(ax, change: pd.Series, title: str, cmap: str) -> None:
    """Tiles coloured by ``change`` (shares; shown in percentage points): a diverging map centred on
    zero when there are losses and gains, a sequential one when all changes have one sign."""
    pp = change * 100
    lim = max(float(np.nanmax(np.abs(pp.to_numpy()))) if len(pp) else 1.0, 0.1)
    if (pp < 0).any() and (pp > 0).any():
        norm = matplotlib.colors.TwoSlopeNorm(vmin=-lim, vcenter=0.0, vmax=lim)
        colormap = plt.get_cmap(cmap)
    elif (pp < 0).any():
        norm = matplotlib.colors.Normalize(vmin=-lim, vmax=0.0)
        colormap = plt.get_cmap("Reds_r")
    else:
        norm = matplotlib.colors.Normalize(vmin=0.0, vmax=lim)
        colormap = plt.get_cmap("Purples" if cmap == "PuOr" else "Blues")
    extra = [r for r in pp.index if r not in TILES]
    pos = dict(TILES)
    for i, r in enumerate(extra):  # provinces not in the layout go in a row below
        pos[r] = (i % 8, 9 + i // 8)
    for region, (col, row) in pos.items():
        if region not in pp.index:
            continue
        v = pp[region]
        color = colormap(norm(v)) if np.isfinite(v) else (0.9, 0.9, 0.9, 1)
        ax.add_patch(matplotlib.patches.Rectangle((col, -row), 0.94, 0.94, facecolor=color, edgecolor="white"))
        dark = np.isfinite(v) and sum(color[:3]) < 1.5
        ax.text(col + 0.47, -row + 0.6, region if len(region) <= 9 else region.replace(" ", "\n"),
                ha="center", va="center", fontsize=5.5, color="white" if dark else "black")
        ax.text(col + 0.47, -row + 0.22, f"{v:+.1f}" if np.isfinite(v) else "n/a", ha="center", va="center",
                fontsize=7, fontweight="bold", color="white" if dark else "black")
    rows = [r for _, r in pos.values()]
    ax.set_xlim(-0.1, 8.1)
    ax.set_ylim(-max(rows) - 0.2, 1.1)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=9)
    sm = matplotlib.cm.ScalarMappable(norm=norm, cmap=colormap)
    cb = ax.figure.colorbar(sm, ax=ax, shrink=0.6, pad=0.01)
    cb.set_label("percentage points", fontsize=7)
    cb.ax.tick_params(labelsize=7)


def provinces(series: pd.DataFrame, name: str, year: int | None = None):
    """Tile grid of provinces: change in the hukou rate (left) and resident rate (right)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.2), dpi=110)
    hk, start, end = province_change(series, "hukou_rate", year)
    rs, _, _ = province_change(series, "resident_rate", year)
    _tile_panel(axes[0], hk, f"Hukou urbanization rate, change {start} - {end}", "PuOr")
    _tile_panel(axes[1], rs, f"Resident urbanization rate, change {start} - {end}", "RdBu")
    fig.suptitle(f"Change by province, {start} - {end} (percentage points): scenario '{name}'", fontsize=11)
    _source(fig, SIM_SOURCE + "; tile grid: one square per province-level unit, placed roughly by geography"
            + ("; median over runs" if _is_ensemble(series) else "") + ".")
    fig.subplots_adjust(top=0.86)  # equal-aspect panels: keep the panel titles clear of the suptitle
    return fig
