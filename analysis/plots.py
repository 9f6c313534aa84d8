"""Figures. One API for one run and for many: a series with a ``run`` column (an ensemble) is drawn
as the median with a 5-95% band, a single run as a line."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

PLAN_TARGET = 0.70  # 国发〔2024〕17号: resident urbanization "接近70%" after five years
SOURCE_NOTE = ("History: NBS (sim/data/national_history.csv). Target: State Council action plan "
               "Guofa [2024] No. 17 (resident urbanization close to 70%).")


def band(series: pd.DataFrame, metric: str, level: str = "national", region: str = "China",
         low: float = 0.05, high: float = 0.95) -> pd.DataFrame:
    """Per date: median, low and high quantiles of ``metric`` over runs (one run: all equal)."""
    sel = series[(series["level"] == level) & (series["region"] == region) & (series["metric"] == metric)]
    runs = "run" if "run" in sel.columns else None
    if runs is None:
        out = sel[["date", "value"]].set_index("date")["value"]
        return pd.DataFrame({"median": out, "low": out, "high": out})
    g = sel.groupby("date", observed=True)["value"]
    return pd.DataFrame({"median": g.median(), "low": g.quantile(low), "high": g.quantile(high)})


def draw_metric(ax, series: pd.DataFrame, metric: str, label: str, color: str, **where) -> None:
    """A line (one run) or a median line with a shaded 5-95% band (ensemble)."""
    b = band(series, metric, **where)
    ax.plot(b.index, b["median"], color=color, label=label)
    if (b["high"] > b["low"]).any():
        ax.fill_between(b.index, b["low"], b["high"], color=color, alpha=0.2, linewidth=0)


def plot_urbanization(series: pd.DataFrame, history: pd.DataFrame | None = None, title: str = "",
                      ax=None):
    """Resident and hukou urbanization rates (national), official history and the plan's target."""
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 4.5), dpi=120)
    draw_metric(ax, series, "resident_rate", "resident (simulated)", "tab:blue")
    draw_metric(ax, series, "hukou_rate", "hukou (simulated)", "tab:orange")
    if history is not None:
        dates = pd.to_datetime(history["year"].astype(str) + "-12-31")
        ax.plot(dates, history["resident_rate"], "o", color="tab:blue", ms=4, label="resident (NBS)")
        hk = history.dropna(subset=["hukou_rate"])
        ax.plot(pd.to_datetime(hk["year"].astype(str) + "-12-31"), hk["hukou_rate"], "s", color="tab:orange",
                ms=4, label="hukou (NBS/MPS)")
    ax.axhline(PLAN_TARGET, color="grey", ls="--", lw=1, label="plan target (~70%)")
    ax.set_ylabel("share of resident population")
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=0))
    ax.set_title(title or "Urbanization rates, China")
    ax.legend(loc="lower right", fontsize=8, ncol=2)
    ax.grid(alpha=0.3)
    if fig is not None:
        fig.text(0.01, 0.01, SOURCE_NOTE, fontsize=6, color="grey")
        fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig if fig is not None else ax.figure


def save(fig, path) -> None:
    fig.savefig(path)
    plt.close(fig)
