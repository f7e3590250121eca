"""Trend statistics on series whose answers are known by construction; charts in every format."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest
# The test-only oracle for the verdict's fit (pyproject's `test` extra); scipy comes with it.
import statsmodels.api as statsmodels
from papertrends.transforms import trend_stats
from scipy import stats as scipy_stats


def series(term, matches, totals, first=dt.date(2024, 1, 1)):
    """A monthly trend frame for one term."""
    starts = [dt.date(first.year + (first.month - 1 + i) // 12, (first.month - 1 + i) % 12 + 1, 1) for i in range(len(totals))]
    return pl.DataFrame({
        "period": [d.strftime("%Y-%m") for d in starts], "term": term, "matches": matches, "total": totals,
        "share": [m / t if t else None for m, t in zip(matches, totals)], "period_start": starts,
    })


def test_fits_without_covariance_give_the_same_coefficients_and_likelihood():
    """The change-point search and the profile likelihood skip the covariance (hundreds of fits per verdict)."""
    years = np.arange(30) / 12
    totals = np.full(30, 500.0)
    matches = np.round(totals / (1 + np.exp(-(-3.0 + 0.5 * years + 0.7 * (years > 1.2)))))
    X = np.column_stack([np.ones_like(years), years - years.mean(), (years > 1.2).astype(float)])
    beta, covariance, loglik = trend_stats._logistic_fit(X, matches, totals)
    quick_beta, nothing, quick_loglik = trend_stats._logistic_fit(X, matches, totals, covariance=False)
    assert nothing is None and covariance.shape == (3, 3)
    assert quick_beta.tolist() == beta.tolist() and quick_loglik == loglik


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
        assert "<svg" in text and "share of papers" in text and "tractable: smoothed" in text
    else:
        text = content.decode()
        assert "<title>" in text and "plotly" not in text and '"scaling"' in text and "drawTrend" in text


def test_a_chart_refuses_an_unknown_format(tmp_path):
    from papertrends.cli.charts import write_chart

    with pytest.raises(ValueError, match="must end in"):
        write_chart(series("t", [1], [2]), tmp_path / "x.pdf", "month")


# --- honest statistics (issue 15, item 5): LR test, profile intervals, "inconclusive" -------------



def monthly(matches, totals, first=dt.date(2025, 1, 1)):
    """(matches, totals, years since the first month) as the verdict computes them."""
    starts = series("x", list(matches), list(totals), first)["period_start"]
    years = np.array([(d - starts[0]).days / 365.25 for d in starts])
    return np.asarray(matches, float), np.asarray(totals, float), years


def oracle(matches, totals, years):
    """statsmodels' binomial GLM of the same model: slope, LR statistic, Pearson dispersion, Wald p, a profile."""
    endog = np.column_stack([matches, totals - matches])
    centred = years - years.mean()
    full = statsmodels.GLM(endog, statsmodels.add_constant(centred), family=statsmodels.families.Binomial()).fit()
    null = statsmodels.GLM(endog, np.ones((len(totals), 1)), family=statsmodels.families.Binomial()).fit()

    def profile(slope):
        return statsmodels.GLM(endog, np.ones((len(totals), 1)), family=statsmodels.families.Binomial(),
                               offset=slope * centred).fit().llf

    return {"slope": full.params[1], "lr": 2 * (full.llf - null.llf), "wald_p": full.pvalues[1],
            "dispersion": max(1.0, full.pearson_chi2 / full.df_resid), "llf": full.llf, "profile": profile}


# Real-shaped: "tractable" on Hugging Face listings, 0 of 970 papers in 2025, 11 of 2,338 in 2026.
NONE_BEFORE = ([0] * 12 + [3, 3, 3, 2], [80] * 11 + [90] + [584, 584, 584, 586])
NONE_BEFORE_LONGER = ([0] * 12 + [0, 0, 1, 0, 1, 1, 2, 1, 2, 1, 2],
                      [60, 62, 70, 75, 78, 80, 82, 85, 88, 92, 97, 101] + [180, 190, 200, 205, 210, 215, 220, 225, 225, 230, 238])


@pytest.mark.parametrize("shape", [NONE_BEFORE, NONE_BEFORE_LONGER], ids=["4-months-2026", "11-months-2026"])
def test_zero_then_eleven_is_rising_not_flat(shape):
    matches, totals = shape
    assert sum(matches[:12]) == 0 and sum(totals[:12]) == 970 and sum(matches) == 11 and sum(totals[12:]) == 2338
    got = trend_stats.verdict(series("tractable", matches, totals, dt.date(2025, 1, 1)), "tractable")
    expected = oracle(*monthly(matches, totals))
    # The likelihood-ratio test statsmodels' fit gives is the one the verdict uses.
    assert got.p_value == pytest.approx(scipy_stats.chi2.sf(expected["lr"] / expected["dispersion"], 1), rel=1e-6)
    assert got.verdict == "rising" and got.p_value < 0.05 and got.ci_low > 1, got.sentence()
    assert "flat" not in got.sentence()


def test_the_wald_test_is_what_called_it_flat():
    # Issue 15: the Wald p-value of the same fit is not significant on the real-shaped series.
    assert oracle(*monthly(*NONE_BEFORE))["wald_p"] > 0.1


def test_a_wide_interval_is_inconclusive_not_flat():
    matches = [0, 1, 0, 0, 2, 0, 1, 0, 0, 3, 0, 1, 0, 2, 0, 1]
    got = trend_stats.verdict(series("rare", matches, [60] * 16), "rare")
    assert got.verdict == "inconclusive", got.sentence()
    assert got.p_value > 0.05 and not trend_stats.flat_span(math.log(got.ci_low), math.log(got.ci_high), 15 / 12)
    assert "inconclusive (too little data to tell rising, falling or flat)" in got.sentence()


def test_separated_data_gives_an_unbounded_interval_said_plainly():
    # Matches only in the last month: the likelihood rises forever with the slope.
    got = trend_stats.verdict(series("new", [0] * 11 + [12], [100] * 12), "new")
    assert got.verdict == "rising" and got.ci_high == float("inf") and got.ci_low > 1
    assert "–∞" in got.sentence()
    record = got.record()
    assert record["ci_high"] is None and record["odds_ratio_per_year"] is None and record["ci_low"] == got.ci_low


def generated_series(seed):
    """Random series: sparse to dense shares, flat to steep trends, constant to growing totals."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(6, 40))
    years = np.arange(n) / 12
    totals = rng.integers(20, 3000, n) if seed % 2 else np.full(n, int(rng.integers(50, 500)))
    logit = rng.uniform(-7, -1) + rng.choice([0.0, rng.uniform(-2, 2)]) * (years - years.mean())
    matches = rng.binomial(totals, 1 / (1 + np.exp(-logit)))
    return matches.astype(float), totals.astype(float), years


@pytest.mark.parametrize("seed", range(40))
def test_fit_test_and_interval_agree_with_statsmodels(seed):
    matches, totals, years = generated_series(seed)
    if matches.sum() == 0 or matches.sum() == totals.sum():
        pytest.skip("no share to fit")
    fit = trend_stats.logistic_trend(matches, totals, years)
    expected = oracle(matches, totals, years)
    assert fit["slope"] == pytest.approx(expected["slope"], rel=1e-5, abs=1e-6)
    assert fit["dispersion"] == pytest.approx(expected["dispersion"], rel=1e-6)
    assert fit["lr"] == pytest.approx(expected["lr"] / expected["dispersion"], rel=1e-5, abs=1e-7)
    assert fit["p"] == pytest.approx(scipy_stats.chi2.sf(fit["lr"], 1), rel=1e-6, abs=1e-12)
    # Each end of the profile interval is where statsmodels' own profile likelihood drops by the
    # chi-square(1) 95% quantile (scaled by the dispersion).
    for bound in (fit["ci_low"], fit["ci_high"]):
        assert np.isfinite(bound)
        drop = 2 * (expected["llf"] - expected["profile"](bound)) / expected["dispersion"]
        assert drop == pytest.approx(scipy_stats.chi2.ppf(0.95, 1), abs=1e-4)
    # The interval excludes no trend exactly when the test rejects it.
    assert (fit["ci_low"] > 0 or fit["ci_high"] < 0) == (fit["p"] < 0.05)


@pytest.mark.parametrize("word", ["tractable", "scaling", "reasoning", "diffusion", "agent", "video"])
def test_fit_agrees_with_statsmodels_on_real_listings(samples, word):
    """Monthly series of real Hugging Face daily lists (../shared/samples), counted in plain Python."""
    from tests.test_shared_samples import expected_from_files, plain_words

    _, _, first_seen, text = expected_from_files(samples / "hf_daily")
    months = sorted({day.replace(day=1) for day in first_seen.values()})
    totals = {m: 0 for m in months}
    matches = {m: 0 for m in months}
    for paper_id, day in first_seen.items():
        totals[day.replace(day=1)] += 1
        matches[day.replace(day=1)] += word in plain_words(text[paper_id])
    frame = pl.DataFrame({
        "period": [m.strftime("%Y-%m") for m in months], "term": word, "matches": [matches[m] for m in months],
        "total": [totals[m] for m in months], "period_start": months,
    })
    got = trend_stats.verdict(frame, word)
    if got.verdict == "too little data":
        pytest.skip(got.note)
    m, n = frame["matches"].to_numpy().astype(float), frame["total"].to_numpy().astype(float)
    years = np.array([(d - months[0]).days / 365.25 for d in months])
    fit = trend_stats.logistic_trend(m, n, years)
    expected = oracle(m, n, years)
    assert math.log(got.odds_ratio_per_year) == pytest.approx(expected["slope"], rel=1e-5, abs=1e-6)
    assert got.p_value == pytest.approx(scipy_stats.chi2.sf(expected["lr"] / expected["dispersion"], 1), rel=1e-5)
    for bound in (fit["ci_low"], fit["ci_high"]):
        if np.isfinite(bound):
            drop = 2 * (expected["llf"] - expected["profile"](bound)) / expected["dispersion"]
            assert drop == pytest.approx(scipy_stats.chi2.ppf(0.95, 1), abs=1e-4)
    assert got.verdict in ("rising", "falling", "flat", "inconclusive")


# -- the vectorised change-point search and the scalar profile fit against the model-by-model code --

def _reference_change_point(matches, totals, years):
    """change_point as it was before the batched fit: one _logistic_fit per candidate (the oracle)."""
    n = len(totals)
    candidates = range(trend_stats.MIN_SEGMENT_PERIODS, n - trend_stats.MIN_SEGMENT_PERIODS + 1)
    if not candidates:
        return None
    line = np.column_stack([np.ones_like(years), years - years.mean()])
    line_beta, _, straight = trend_stats._logistic_fit(line, matches, totals, covariance=False)
    fits = {}
    for k in candidates:
        for kind, column in (("level", (years >= years[k]).astype(float)), ("slope", np.maximum(0.0, years - years[k]))):
            X = np.column_stack([line, column])
            beta, _, loglik = trend_stats._logistic_fit(X, matches, totals, start=line_beta, covariance=False)
            fits[(k, kind)] = (loglik, trend_stats._pearson_dispersion(X, beta, matches, totals))
    (best, kind), (loglik, dispersion) = max(fits.items(), key=lambda item: item[1][0])
    statistic = 2 * (loglik - straight) / dispersion
    p_value = min(1.0, math.erfc(math.sqrt(max(statistic, 0) / 2)) * len(fits))
    if p_value >= trend_stats.ALPHA:
        return None
    return {"index": best, "kind": kind, "lr": statistic, "p": p_value, "logliks": sorted(v[0] for v in fits.values())}


def _series(seed: int, shape: str, n: int):
    rng = np.random.default_rng(seed)
    totals = rng.integers(5 if shape == "sparse" else 200, 60 if shape == "sparse" else 3000, n).astype(float)
    t = np.arange(n)
    logit = {
        "step": -4 + 1.2 * (t >= n // 2 + seed % 5),
        "bend": -5 + 0.08 * np.maximum(0, t - n // 3),
        "flat": np.full(n, -3.0),
        "sparse": np.where(t < n // 2, -30.0, -3.0),  # no match at all in the first half: separation
        "noisy": -3 + rng.normal(0, 0.5, n),
    }[shape]
    matches = rng.binomial(totals.astype(int), 1 / (1 + np.exp(-logit))).astype(float)
    return matches, totals, t / 12


@pytest.mark.parametrize("shape", ["step", "bend", "flat", "sparse", "noisy"])
@pytest.mark.parametrize("seed", range(6))
def test_batched_change_point_equals_the_model_by_model_search(shape, seed):
    n = [8, 24, 36, 60, 120, 250][seed]
    matches, totals, years = _series(seed, shape, n)
    found = trend_stats.change_point(matches, totals, years)
    expected = _reference_change_point(matches, totals, years)
    assert (found is None) == (expected is None), (found, expected)
    if expected is not None:
        # The same candidate wins unless two candidates' likelihoods tie to rounding.
        top = expected["logliks"]
        if len(top) < 2 or top[-1] - top[-2] > 1e-7 * (1 + abs(top[-1])):
            assert (found["index"], found["kind"]) == (expected["index"], expected["kind"])
        assert found["lr"] == pytest.approx(expected["lr"], rel=1e-7, abs=1e-7)
        assert found["p"] == pytest.approx(expected["p"], rel=1e-6, abs=1e-300)


@pytest.mark.parametrize("seed", range(5))
def test_scalar_profile_fit_equals_the_general_fit(seed):
    matches, totals, years = _series(seed, ["step", "flat", "sparse", "bend", "noisy"][seed], 40)
    centred = years - years.mean()
    for slope in (-60.0, -3.0, -0.5, 0.0, 0.01, 0.7, 4.0, 60.0):
        _, _, expected = trend_stats._logistic_fit(np.ones((len(totals), 1)), matches, totals,
                                                   offset=slope * centred, covariance=False)
        assert trend_stats._profile_loglik(slope, centred, matches, totals) == pytest.approx(expected, rel=1e-10, abs=1e-9)
