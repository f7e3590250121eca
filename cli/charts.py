"""Charts of trend series for `trend --chart`: PNG and SVG with matplotlib, HTML with the explorer's chart.

Honest by construction: each share carries its 95% interval (a band; Wilson, so wide where a period
has few papers), periods of fewer than SMALL_SAMPLE papers are drawn hollow and their bars pale,
the y axis follows the shares and the intervals of periods large enough to trust (a month of 13
papers cannot stretch it), the legend sits outside the data and names each term's verdict, and a
change point is a labelled line. Below: the papers per period every share is out of.

Reruns give the same bytes: no dates in the files' metadata, fixed SVG ids, text kept as text.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ..transforms.intervals import SMALL_SAMPLE, with_share_interval

CHART_FORMATS = (".png", ".svg", ".html")


def chart_title(trend: pl.DataFrame, by: str) -> str:
    """'Share of papers matching "a", "b", per month'."""
    terms = ", ".join(f'"{t}"' for t in trend["term"].unique(maintain_order=True))
    return f"Share of papers matching {terms}, per {by}"


def _totals(trend: pl.DataFrame) -> pl.DataFrame:
    return trend.group_by("period_start", maintain_order=True).agg(pl.col("total").first()).sort("period_start")


def _verdicts(trend: pl.DataFrame) -> dict:
    from ..transforms.trend_stats import verdict

    return {term: verdict(trend, term) for term in trend["term"].unique(maintain_order=True)}


def write_chart(trend: pl.DataFrame, path: Path, by: str, subtitle: str = "") -> Path:
    """Draw `trend` (period, period_start, term, matches, total, share, optional share_smoothed) to a
    .png, .svg or .html file, with 95% bands, small samples marked, verdicts and change points."""
    suffix = path.suffix.lower()
    if suffix not in CHART_FORMATS:
        raise ValueError(f"--chart must end in {', '.join(CHART_FORMATS)} (got {path.name!r})")
    if trend.height == 0:
        raise ValueError("nothing to draw: the trend has no rows")
    path.parent.mkdir(parents=True, exist_ok=True)
    trend = with_share_interval(trend)
    if suffix == ".html":
        from ..explorer.app import chart_html

        path.write_text(chart_html(trend, by, chart_title(trend, by), subtitle), encoding="utf-8")
    else:
        _write_matplotlib(trend, path, by, subtitle)
    return path


def _y_top(trend: pl.DataFrame) -> float:
    trusted = trend.filter(pl.col("total") >= SMALL_SAMPLE)
    candidates = [trend["share"].max(), trusted["share_high"].max() if trusted.height else None]
    if "share_smoothed" in trend.columns:
        candidates.append(trend["share_smoothed"].max())
    top = max((c for c in candidates if c is not None), default=0.0)
    return top * 1.1 if top > 0 else 0.01


def _write_matplotlib(trend: pl.DataFrame, path: Path, by: str, subtitle: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    verdicts = _verdicts(trend)
    smoothed = "share_smoothed" in trend.columns
    style = {"svg.fonttype": "none", "svg.hashsalt": "papertrends", "path.simplify": False}
    with plt.rc_context(style):
        figure, (shares, papers) = plt.subplots(
            2, 1, figsize=(12, 6.8), sharex=True, gridspec_kw={"height_ratios": [3, 1]}, constrained_layout=True
        )
        colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        top = _y_top(trend)
        for index, term in enumerate(trend["term"].unique(maintain_order=True)):
            series = trend.filter((pl.col("term") == term) & (pl.col("total") > 0)).sort("period_start")
            color = colors[index % len(colors)]
            dates = series["period_start"].to_list()
            shares.fill_between(dates, series["share_low"].to_list(), series["share_high"].to_list(), color=color,
                                alpha=0.15, linewidth=0, gid=f"band-{index}")
            found = verdicts[term]
            label = f"{term}: {found.verdict}"
            if found.odds_ratio_per_year is not None:
                label += f" (odds ×{found.odds_ratio_per_year:.2f}/yr)"
            shares.plot(dates, series["share"].to_list(), color=color, linewidth=1 if smoothed else 1.8,
                        alpha=0.5 if smoothed else 1, label=label, gid=f"line-{index}")
            if smoothed:
                shares.plot(dates, series["share_smoothed"].to_list(), color=color, linewidth=2.6,
                            label=f"{term}: smoothed")
            big = series.filter(pl.col("total") >= SMALL_SAMPLE)
            small = series.filter(pl.col("total") < SMALL_SAMPLE)
            shares.scatter(big["period_start"].to_list(), big["share"].to_list(), s=16, color=color, zorder=3)
            if small.height:
                shares.scatter(small["period_start"].to_list(), small["share"].to_list(), s=22, facecolors="white",
                               edgecolors=color, linewidths=1.2, zorder=3, gid=f"small-{index}")
            if found.since:
                at = series.filter(pl.col("period") == found.since)["period_start"]
                if at.len():
                    shares.axvline(at[0], color=color, linestyle="--", linewidth=1.2, gid=f"change-{index}")
                    shares.annotate(f"{term}: changes since {found.since}", (at[0], top), xytext=(4, -12 - 13 * index),
                                    textcoords="offset points", color=color, fontsize=9)
        shares.scatter([], [], s=22, facecolors="white", edgecolors="0.4", label=f"fewer than {SMALL_SAMPLE} papers")
        shares.fill_between([], [], [], color="0.5", alpha=0.2, label="95% interval (Wilson)")
        shares.set_title(chart_title(trend, by) + (f"\n{subtitle}" if subtitle else ""), fontsize=12)
        shares.set_ylabel("share of papers")
        shares.yaxis.set_major_formatter(PercentFormatter(1.0))
        shares.set_ylim(0, top)
        shares.grid(True, alpha=0.3)
        shares.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False, borderaxespad=0)

        totals = _totals(trend)
        width = {"day": 0.8, "week": 5, "month": 24, "quarter": 70, "year": 300}.get(by, 20)
        colours = ["0.8" if t < SMALL_SAMPLE else "0.55" for t in totals["total"].to_list()]
        papers.bar(totals["period_start"].to_list(), totals["total"].to_list(), width=width, color=colours)
        papers.set_ylabel(f"papers per {by}")
        papers.set_xlabel(f"first list date ({by})")
        papers.grid(True, axis="y", alpha=0.3)
        locator = mdates.AutoDateLocator()
        papers.xaxis.set_major_locator(locator)
        papers.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        # No creation date or software version in the file: the same trend gives the same bytes.
        metadata = {"Date": None} if path.suffix.lower() == ".svg" else {"Software": None}
        figure.savefig(path, dpi=120, metadata=metadata)
        plt.close(figure)
