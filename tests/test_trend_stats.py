"""Trend statistics on series whose answers are known by construction; charts in every format."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from papertrends.transforms import trend_stats


def series(term, matches, totals, first=dt.date(2024, 1, 1)):
    """A monthly trend frame for one term."""
    starts = [dt.date(first.year + (first.month - 1 + i) // 12, (first.month - 1 + i) % 12 + 1, 1) for i in range(len(totals))]
    return pl.DataFrame({
        "period": [d.strftime("%Y-%m") for d in starts], "term": term, "matches": matches, "total": totals,
        "share": [m / t if t else None for m, t in zip(matches, totals)], "period_start": starts,
    })


def test_logistic_fit_recovers_a_known_slope():
    years = np.arange(24) / 12
    totals = np.full(24, 100000.0)
    truth = -2.0 + 0.8 * years
    matches = np.round(totals / (1 + np.exp(-truth)))
    fit = trend_stats.logistic_trend(matches, totals, years)
    assert fit["slope"] == pytest.approx(0.8, abs=0.01)
    assert fit["p"] < 1e-6


def test_rising_falling_flat_and_too_little():
    totals = [200] * 18
    rising = trend_stats.verdict(series("up", [10 + 4 * i for i in range(18)], totals), "up")
    assert rising.verdict == "rising" and rising.odds_ratio_per_year > 1 and rising.ci_low > 1 and rising.p_value < 0.05
    falling = trend_stats.verdict(series("down", [80 - 4 * i for i in range(18)], totals), "down")
    assert falling.verdict == "falling" and falling.ci_high < 1
    flat = trend_stats.verdict(series("flat", [20, 22, 19, 21, 20, 18, 22, 20, 21, 19, 20, 21], [200] * 12), "flat")
    assert flat.verdict == "flat" and flat.ci_low < 1 < flat.ci_high and flat.since is None
    thin = trend_stats.verdict(series("thin", [1, 0, 2], [5, 4, 6]), "thin")
    assert thin.verdict == "too little data" and "too little data" in thin.sentence()


def test_a_step_is_found_as_a_change_point():
    matches = [10] * 10 + [60] * 8
    verdict = trend_stats.verdict(series("step", matches, [200] * 18), "step")
    assert verdict.since == "2024-11"
    assert verdict.share_before == pytest.approx(0.05) and verdict.share_after == pytest.approx(0.30)
    assert verdict.change == "level" and "changes since 2024-11 (the trend jumps)" in verdict.sentence()


def test_overdispersed_noise_is_not_called_a_trend():
    rng = np.random.default_rng(4)
    shares = np.clip(0.1 + rng.normal(0, 0.03, 36), 0.01, None)  # month-to-month swings, no trend
    totals = np.full(36, 2000)
    matches = rng.binomial(totals, shares)
    slope_sign = trend_stats.logistic_trend(matches.astype(float), totals.astype(float), np.arange(36) / 12)
    verdict = trend_stats.verdict(series("noise", matches.tolist(), totals.tolist()), "noise")
    assert slope_sign["dispersion"] > 2
    assert verdict.verdict == "flat", verdict.sentence()


def test_smoothing_is_a_centred_ratio_of_moving_sums():
    frame = trend_stats.smoothed(series("t", [0, 5, 10, 0], [10, 10, 10, 0]), 3)
    # (0+5)/(10+10), (0+5+10)/30, (5+10+0)/(10+10+0), (10+0)/(10+0): an empty period borrows its neighbours.
    assert frame["share_smoothed"].to_list() == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert frame["share"].to_list() == [0.0, 0.5, 1.0, None]  # raw share kept beside it


def test_paper_terms_keep_phrases_inside_one_field():
    texts = pl.DataFrame({"title": ["Deep Scaling"], "abstract": ["Laws of scaling"]})
    terms = set(trend_stats.paper_terms(texts)["term"])
    assert {"deep scaling", "laws of", "of scaling", "deep", "laws"} <= terms
    assert "scaling laws" not in terms


@pytest.mark.parametrize("suffix", [".png", ".svg", ".html"])
def test_a_chart_is_written_in_each_format(tmp_path, suffix):
    from papertrends.cli.charts import write_chart

    frame = pl.concat([series("scaling", [5 + 3 * i for i in range(12)], [100 + i for i in range(12)]),
                       series("tractable", [10] * 12, [100 + i for i in range(12)])])
    frame = trend_stats.smoothed(frame, 3)
    path = write_chart(frame, tmp_path / f"trend{suffix}", "month", "min upvotes 3")
    content = path.read_bytes()
    if suffix == ".png":
        assert content[:8] == b"\x89PNG\r\n\x1a\n" and len(content) > 10_000
    elif suffix == ".svg":
        text = content.decode()
        assert "<svg" in text and "share of papers" in text and "tractable (smoothed)" in text
    else:
        text = content.decode()
        assert "plotly" in text and "scaling (smoothed)" in text and "papers per month" in text


def test_a_chart_refuses_an_unknown_format(tmp_path):
    from papertrends.cli.charts import write_chart

    with pytest.raises(ValueError, match="must end in"):
        write_chart(series("t", [1], [2]), tmp_path / "x.pdf", "month")
