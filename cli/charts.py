"""Charts of trend series: PNG and SVG with matplotlib, interactive HTML with plotly.

One chart: the share of papers matching each term per period (a thin line with dots for the raw
share, a thick line for the smoothed one when asked), and below it the papers per period that
every share is out of.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

CHART_FORMATS = (".png", ".svg", ".html")


def chart_title(trend: pl.DataFrame, by: str) -> str:
    """'Share of papers mentioning "a", "b" per month'."""
    terms = ", ".join(f'"{t}"' for t in trend["term"].unique(maintain_order=True))
    return f"Share of papers matching {terms}, per {by}"


def _totals(trend: pl.DataFrame) -> pl.DataFrame:
    return trend.group_by("period_start", maintain_order=True).agg(pl.col("total").first()).sort("period_start")


def write_chart(trend: pl.DataFrame, path: Path, by: str, subtitle: str = "") -> Path:
    """Draw `trend` (period_start, term, share, total, optional share_smoothed) to a .png, .svg or .html file."""
    suffix = path.suffix.lower()
    if suffix not in CHART_FORMATS:
        raise ValueError(f"--chart must end in {', '.join(CHART_FORMATS)} (got {path.name!r})")
    if trend.height == 0:
        raise ValueError("nothing to draw: the trend has no rows")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".html":
        _write_html(trend, path, by, subtitle)
    else:
        _write_matplotlib(trend, path, by, subtitle)
    return path


def _write_matplotlib(trend: pl.DataFrame, path: Path, by: str, subtitle: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    smoothed = "share_smoothed" in trend.columns
    figure, (shares, papers) = plt.subplots(
        2, 1, figsize=(11, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]}, constrained_layout=True
    )
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, (term,) in enumerate(trend.select("term").unique(maintain_order=True).iter_rows()):
        series = trend.filter(pl.col("term") == term).sort("period_start")
        color = colors[index % len(colors)]
        dates = series["period_start"].to_list()
        raw = series["share"].to_list()
        if smoothed:
            shares.plot(dates, raw, color=color, alpha=0.35, linewidth=1, marker="o", markersize=3,
                        label=f"{term} (raw)")
            shares.plot(dates, series["share_smoothed"].to_list(), color=color, linewidth=2.4,
                        label=f"{term} (smoothed)")
        else:
            shares.plot(dates, raw, color=color, linewidth=1.8, marker="o", markersize=3.5, label=term)
    shares.set_title(chart_title(trend, by) + (f"\n{subtitle}" if subtitle else ""), fontsize=12)
    shares.set_ylabel("share of papers")
    shares.yaxis.set_major_formatter(PercentFormatter(1.0))
    shares.set_ylim(bottom=0)
    shares.grid(True, alpha=0.3)
    shares.legend(loc="upper left", fontsize=9, frameon=False)

    totals = _totals(trend)
    width = {"day": 0.8, "week": 5, "month": 24, "quarter": 70, "year": 300}.get(by, 20)
    papers.bar(totals["period_start"].to_list(), totals["total"].to_list(), width=width, color="0.6")
    papers.set_ylabel(f"papers per {by}")
    papers.set_xlabel(f"first list date ({by})")
    papers.grid(True, axis="y", alpha=0.3)
    locator = mdates.AutoDateLocator()
    papers.xaxis.set_major_locator(locator)
    papers.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _write_html(trend: pl.DataFrame, path: Path, by: str, subtitle: str) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    smoothed = "share_smoothed" in trend.columns
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.75, 0.25], vertical_spacing=0.06)
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
    for index, (term,) in enumerate(trend.select("term").unique(maintain_order=True).iter_rows()):
        series = trend.filter(pl.col("term") == term).sort("period_start")
        color = palette[index % len(palette)]
        hover = [f"{p}: {m} of {t}" for p, m, t in series.select("period", "matches", "total").iter_rows()]
        figure.add_trace(go.Scatter(
            x=series["period_start"].to_list(), y=series["share"].to_list(), name=f"{term} (raw)" if smoothed else term,
            mode="lines+markers", line={"color": color, "width": 1 if smoothed else 2}, opacity=0.45 if smoothed else 1,
            text=hover, hovertemplate="%{text}<br>share %{y:.1%}<extra></extra>",
        ), row=1, col=1)
        if smoothed:
            figure.add_trace(go.Scatter(
                x=series["period_start"].to_list(), y=series["share_smoothed"].to_list(), name=f"{term} (smoothed)",
                mode="lines", line={"color": color, "width": 3}, hovertemplate="smoothed %{y:.1%}<extra></extra>",
            ), row=1, col=1)
    totals = _totals(trend)
    figure.add_trace(go.Bar(x=totals["period_start"].to_list(), y=totals["total"].to_list(), name=f"papers per {by}",
                            marker_color="#999999"), row=2, col=1)
    title = chart_title(trend, by) + (f"<br><sub>{subtitle}</sub>" if subtitle else "")
    figure.update_layout(title=title, template="plotly_white", height=650, legend={"orientation": "h", "y": -0.15})
    figure.update_yaxes(title_text="share of papers", tickformat=".0%", rangemode="tozero", row=1, col=1)
    figure.update_yaxes(title_text=f"papers per {by}", row=2, col=1)
    figure.update_xaxes(title_text=f"first list date ({by})", row=2, col=1)
    # The plotly.js library goes inside the file: it opens offline, with nothing fetched.
    figure.write_html(str(path), include_plotlyjs=True, full_html=True)
