"""Statistics on trend series: smoothing, a verdict (rising / falling / flat / inconclusive), change points, rising terms.

Pure functions on Polars frames and numpy arrays; no I/O.

The verdict's test: a quasi-binomial logistic regression of matches out of total on time in
years, fitted by Newton's method with step halving. The slope is the log odds ratio per year.
It is tested by the likelihood ratio against the intercept-only model, and its 95% interval is
the profile-likelihood interval (the slopes the same test would not reject), both scaled by the
Pearson dispersion when that exceeds 1 (papers in a month are not independent draws, and plain
binomial errors would call every wiggle significant). Unlike the Wald test (slope / standard
error), these hold with sparse counts: with no match at all on one side the Wald standard error
blows up and a clear rise (0 of 970, then 11 of 2,338) reads as "p = 0.09, flat". An interval may
be unbounded on one side (then the odds ratio bound is 0 or infinity).

"flat" is said only when the interval rules out a large change: over the whole window (first to
last period) the odds could neither have grown nor shrunk by more than FLAT_CHANGE times. A
non-significant test with a wider interval is "inconclusive": there is too little data to tell,
which is not evidence of no trend.

The change point: the period from which the logistic trend line jumps or bends, with the
highest likelihood, at least MIN_SEGMENT_PERIODS periods from either end, kept when its
likelihood-ratio statistic (scaled by the dispersion) beats the chi-square(1) critical value at
0.05 after a Bonferroni correction over every candidate tried (see change_point).

tests/test_trend_stats.py checks the fits, likelihoods, dispersion and tests against statsmodels'
GLM (a test-only oracle) on generated and real-shaped series.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import NormalDist

import numpy as np
import polars as pl

from .terms import words_expr

ALPHA = 0.05
MIN_PERIODS = 4            # fewer periods with papers: too little data for a verdict
MIN_MATCHES = 10           # fewer matching papers in the window: too little data
MIN_SEGMENT_PERIODS = 3    # each side of a change point spans at least this many periods
FLAT_CHANGE = 2.0          # "flat": the 95% interval rules out the odds doubling or halving over the window
COEF_LIMIT = 50.0          # |log odds| bound: beyond it a coefficient counts as infinite (separation)
# The chi-square(1) quantile at 1 - ALPHA: the square of the normal quantile at 1 - ALPHA/2.
CHI2_1_CRITICAL = NormalDist().inv_cdf(1 - ALPHA / 2) ** 2

# Common English function words and generic paper vocabulary, removed from rising terms.
STOP_WORDS = frozenset(
    """a about above after again against all also an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had has
    have having he her here hers him his how i if in into is it its itself just more most my no nor not
    now of off on once only or other our ours out over own same she should so some such than that the
    their theirs them then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours via using use used based
    we our paper propose proposed show shows results approach method methods new novel model models
    work study present existing however while well across within without both first two one three
    per may can achieve achieves demonstrate significantly performance""".split()
)


def smoothed(trend: pl.DataFrame, periods: int) -> pl.DataFrame:
    """Add share_smoothed: centred moving sum of matches over that of total, `periods` wide, per term.

    A ratio of moving sums is a moving average of the share weighted by each period's papers, so
    thin periods (and empty ones, whose share is null) do not swing it.
    """
    if periods < 1:
        raise ValueError("--smooth must be at least 1")
    window = dict(window_size=periods, center=True, min_samples=1)
    return trend.with_columns(
        share_smoothed=(
            pl.col("matches").rolling_sum(**window) / pl.col("total").rolling_sum(**window)
        ).over("term", order_by="period_start")
    ).with_columns(pl.col("share_smoothed").fill_nan(None))


def _loglik(eta: np.ndarray, matches: np.ndarray, totals: np.ndarray, failures: np.ndarray | None = None) -> float:
    """Binomial log-likelihood (without the constant binomial coefficients) at linear predictor eta.

    `failures` is totals - matches, passed by callers that evaluate many etas on one series.
    """
    failures = totals - matches if failures is None else failures
    # log(mu) = -log(1 + e^-eta) and log(1 - mu) = -eta - log(1 + e^-eta), without overflow.
    return -float(totals @ np.logaddexp(0, -eta) + failures @ eta)


def _logistic_fit(
    X: np.ndarray, matches: np.ndarray, totals: np.ndarray, offset: np.ndarray | None = None,
    start: np.ndarray | None = None, covariance: bool = True,
) -> tuple[np.ndarray, np.ndarray | None, float]:
    """Binomial logistic regression by Newton's method with step halving: (coefficients, covariance, log-likelihood).

    Every step raises the likelihood, so sparse or separated data (a segment with no matches,
    whose logit runs off to -inf) cannot make it oscillate; coefficients stop at +-COEF_LIMIT.
    covariance=False skips the covariance (None): the change-point search and the profile
    likelihood fit hundreds of models and need only their likelihoods.
    """
    # The verdict fits a few hundred small models per term: the loop avoids numpy's slower
    # wrappers (np.clip, np.max) for the ufuncs that compute the same numbers.
    # Without an offset eta is X @ beta alone (adding zeros changes no bit that matters).
    predictor = (lambda b: X @ b) if offset is None else (lambda b: X @ b + offset)
    failures = totals - matches
    p0 = np.clip(matches.sum() / totals.sum(), 1e-6, 1 - 1e-6)
    beta = np.zeros(X.shape[1])
    beta[0] = math.log(p0 / (1 - p0)) - (float(np.mean(offset)) * (X.shape[1] == 1) if offset is not None else 0.0)
    if start is not None:  # a nearby fit (the same line without the change term) converges sooner
        beta[: len(start)] = start
    XT = X.T
    eta = predictor(beta)
    loglik = _loglik(eta, matches, totals, failures)
    for _ in range(200):
        mu = 1 / (1 + np.exp(-eta))  # eta of beta: computed when beta was accepted
        weight = np.maximum(totals * mu * (1 - mu), 1e-12)
        step = np.linalg.lstsq(XT @ (weight[:, None] * X), XT @ (matches - totals * mu), rcond=None)[0]
        size = 1.0
        while True:
            candidate = np.minimum(np.maximum(beta + size * step, -COEF_LIMIT), COEF_LIMIT)
            candidate_eta = predictor(candidate)
            updated = _loglik(candidate_eta, matches, totals, failures)
            if updated >= loglik - 1e-12 or size < 1e-6:
                break
            size /= 2
        moved = np.abs(candidate - beta).max()
        gain = updated - loglik
        beta, eta, loglik = candidate, candidate_eta, max(updated, loglik)
        # Converged: the parameters stand still, or the likelihood does (a separated coefficient
        # creeping towards -inf changes the fitted probabilities, and the likelihood, by ~nothing).
        if moved < 1e-10 or gain < 1e-11 * (1 + abs(loglik)):
            break
    found = None
    if covariance:
        mu = 1 / (1 + np.exp(-eta))
        found = np.linalg.pinv(XT @ ((totals * mu * (1 - mu))[:, None] * X))
    return beta, found, _loglik(eta, matches, totals, failures)


def _profile_loglik(slope: float, centred: np.ndarray, matches: np.ndarray, totals: np.ndarray) -> float:
    """Highest log-likelihood of the line with this slope (the intercept fitted).

    _logistic_fit's Newton iteration for the one-column model (the intercept, with the slope as an
    offset), written for a scalar coefficient: the profile bounds' bisection calls it ~100 times
    per term, and the general fit's matrix calls (lstsq of a 1x1 system) cost more than the sums.
    """
    offset = slope * centred
    failures = totals - matches
    p0 = min(max(matches.sum() / totals.sum(), 1e-6), 1 - 1e-6)
    beta = math.log(p0 / (1 - p0)) - float(np.mean(offset))
    eta = beta + offset
    loglik = _loglik(eta, matches, totals, failures)
    for _ in range(200):
        mu = 1 / (1 + np.exp(-eta))
        weight = np.maximum(totals * mu * (1 - mu), 1e-12)
        step = float((matches - totals * mu).sum()) / float(weight.sum())
        size = 1.0
        while True:
            candidate = min(max(beta + size * step, -COEF_LIMIT), COEF_LIMIT)
            candidate_eta = candidate + offset
            updated = _loglik(candidate_eta, matches, totals, failures)
            if updated >= loglik - 1e-12 or size < 1e-6:
                break
            size /= 2
        moved = abs(candidate - beta)
        gain = updated - loglik
        beta, eta, loglik = candidate, candidate_eta, max(updated, loglik)
        if moved < 1e-10 or gain < 1e-11 * (1 + abs(loglik)):
            break
    return _loglik(eta, matches, totals, failures)


def _profile_bound(fit_slope: float, fit_loglik: float, direction: int, scale: float, centred, matches, totals) -> float:
    """The slope on one side of the estimate where the scaled LR statistic reaches the critical value.

    Returns +-inf when it never does within COEF_LIMIT (the data cannot bound the trend that way).
    """
    critical = CHI2_1_CRITICAL * scale

    def deficit(slope: float) -> float:
        return 2 * (fit_loglik - _profile_loglik(slope, centred, matches, totals)) - critical

    inside, step = fit_slope, 0.25
    while True:
        outside = fit_slope + direction * step
        if abs(outside) >= COEF_LIMIT:
            outside = direction * COEF_LIMIT
            if deficit(outside) < 0:
                return direction * math.inf
            break
        if deficit(outside) >= 0:
            break
        inside, step = outside, step * 2
    for _ in range(60):  # bisection to ~1e-12 of the bracket
        middle = (inside + outside) / 2
        if deficit(middle) >= 0:
            outside = middle
        else:
            inside = middle
        if abs(outside - inside) < 1e-9:
            break
    return (inside + outside) / 2


def logistic_trend(matches: np.ndarray, totals: np.ndarray, years: np.ndarray) -> dict:
    """Quasi-binomial logistic fit of matches/totals on years.

    Returns slope (log odds ratio per year), loglik and null_loglik (intercept only), dispersion
    (Pearson, at least 1), lr (the likelihood-ratio statistic divided by the dispersion), p (its
    chi-square(1) p-value), ci_low/ci_high (95% profile-likelihood interval of the slope, maybe
    infinite), and the Wald se/z for reference (not used for the verdict).
    """
    centred = years - years.mean()
    X = np.column_stack([np.ones_like(years), centred])
    beta, covariance, loglik = _logistic_fit(X, matches, totals)
    share = matches.sum() / totals.sum()
    null_loglik = _loglik(np.full(len(totals), math.log(share / (1 - share))), matches, totals) \
        if 0 < share < 1 else 0.0
    dispersion = _pearson_dispersion(X, beta, matches, totals)
    lr = max(0.0, 2 * (loglik - null_loglik)) / dispersion
    se = math.sqrt(covariance[1, 1] * dispersion)
    low = _profile_bound(beta[1], loglik, -1, dispersion, centred, matches, totals)
    high = _profile_bound(beta[1], loglik, +1, dispersion, centred, matches, totals)
    return {"slope": float(beta[1]), "loglik": loglik, "null_loglik": null_loglik, "dispersion": dispersion,
            "lr": lr, "p": math.erfc(math.sqrt(lr / 2)), "ci_low": low, "ci_high": high,
            "se": se, "z": beta[1] / se if se > 0 else 0.0}


def _pearson_dispersion(X: np.ndarray, beta: np.ndarray, matches: np.ndarray, totals: np.ndarray) -> float:
    mu = np.clip(1 / (1 + np.exp(-(X @ beta))), 1e-12, 1 - 1e-12)
    pearson = float(np.sum((matches - totals * mu) ** 2 / (totals * mu * (1 - mu))))
    return max(1.0, pearson / max(len(totals) - X.shape[1], 1))


def _batch_logistic_fit(
    line: np.ndarray, extra: np.ndarray, matches: np.ndarray, totals: np.ndarray, start: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """_logistic_fit (no offset, no covariance) of many models at once: (coefficients, log-likelihoods).

    Model m's design is [line, extra[m]]: the shared columns `line` (periods, 2) and one column of
    its own (extra: models x periods). Each model follows the same Newton steps with step halving
    and the same stopping rules as _logistic_fit from the same start (`start` for the line's
    coefficients, 0 for the extra one); the models still moving are stepped together, so the
    change-point search is a few dozen array operations instead of hundreds of small fits. The
    results equal _logistic_fit's up to floating-point rounding (tests compare).
    """
    models = extra.shape[0]
    failures = totals - matches
    ones, centred = line[:, 0], line[:, 1]

    def predictor(coefficients: np.ndarray, columns: np.ndarray) -> np.ndarray:
        return (coefficients[:, 0:1] * ones + coefficients[:, 1:2] * centred) + coefficients[:, 2:3] * columns

    def logliks(eta: np.ndarray) -> np.ndarray:
        return -(np.logaddexp(0, -eta) @ totals + eta @ failures)

    beta = np.zeros((models, 3))
    beta[:, :2] = start
    eta = predictor(beta, extra)
    loglik = logliks(eta)
    active = np.arange(models)
    for _ in range(200):
        if not active.size:
            break
        za, ba, ea, la = extra[active], beta[active], eta[active], loglik[active]
        mu = 1 / (1 + np.exp(-ea))
        weight = np.maximum(totals * mu * (1 - mu), 1e-12)
        residual = matches - totals * mu
        wz = weight * za
        hessian = np.empty((len(active), 3, 3))
        hessian[:, 0, 0] = weight @ ones
        hessian[:, 0, 1] = hessian[:, 1, 0] = weight @ centred
        hessian[:, 1, 1] = weight @ (centred * centred)
        hessian[:, 0, 2] = hessian[:, 2, 0] = wz @ ones
        hessian[:, 1, 2] = hessian[:, 2, 1] = wz @ centred
        hessian[:, 2, 2] = (wz * za).sum(axis=1)
        gradient = np.stack([residual @ ones, residual @ centred, (residual * za).sum(axis=1)], axis=1)
        try:
            step = np.linalg.solve(hessian, gradient[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:  # a singular model: least squares, as _logistic_fit does
            step = np.stack([np.linalg.lstsq(h, g, rcond=None)[0] for h, g in zip(hessian, gradient)])
        size = np.ones(len(active))
        candidate, candidate_eta, updated = np.empty_like(ba), np.empty_like(ea), np.empty(len(active))
        pending = np.arange(len(active))
        while pending.size:
            trial = np.minimum(np.maximum(ba[pending] + size[pending, None] * step[pending], -COEF_LIMIT), COEF_LIMIT)
            trial_eta = predictor(trial, za[pending])
            trial_loglik = logliks(trial_eta)
            candidate[pending], candidate_eta[pending], updated[pending] = trial, trial_eta, trial_loglik
            accepted = (trial_loglik >= la[pending] - 1e-12) | (size[pending] < 1e-6)
            size[pending[~accepted]] /= 2
            pending = pending[~accepted]
        moved = np.abs(candidate - ba).max(axis=1)
        gain = updated - la
        kept = np.maximum(updated, la)
        beta[active], eta[active], loglik[active] = candidate, candidate_eta, kept
        converged = (moved < 1e-10) | (gain < 1e-11 * (1 + np.abs(kept)))
        active = active[~converged]
    return beta, logliks(eta)


def change_point(matches: np.ndarray, totals: np.ndarray, years: np.ndarray) -> dict | None:
    """Where the trend changes, if it does: {index, kind, before, after, lr, p}.

    Model: the logistic trend line plus, from period k on, either a jump (kind 'level':
    d * [t >= t_k]) or a bend (kind 'slope': c * max(0, t - t_k)). The best (k, kind), at least
    MIN_SEGMENT_PERIODS periods from either end, is kept when the likelihood-ratio statistic,
    divided by the Pearson dispersion of that fuller model, beats chi-square(1) at ALPHA after a
    Bonferroni correction over every (k, kind) tried. before/after are the observed shares.
    Every candidate model is fitted at once (_batch_logistic_fit).
    """
    n = len(totals)
    candidates = list(range(MIN_SEGMENT_PERIODS, n - MIN_SEGMENT_PERIODS + 1))
    if not candidates:
        return None
    line = np.column_stack([np.ones_like(years), years - years.mean()])
    line_beta, _, straight = _logistic_fit(line, matches, totals, covariance=False)
    # Models in the order (k, level), (k, slope) for k ascending: argmax keeps the first of equal
    # likelihoods, as max() over the candidates in that order did.
    tried = [(k, kind) for k in candidates for kind in ("level", "slope")]
    starts = years[[k for k, _ in tried]]
    change = np.where(
        np.array([kind == "level" for _, kind in tried])[:, None],
        (years[None, :] >= starts[:, None]).astype(float),
        np.maximum(0.0, years[None, :] - starts[:, None]),
    )
    betas, logliks = _batch_logistic_fit(line, change, matches, totals, line_beta)
    chosen = int(np.argmax(logliks))
    best, kind = tried[chosen]
    loglik = float(logliks[chosen])
    dispersion = _pearson_dispersion(np.column_stack([line, change[chosen]]), betas[chosen], matches, totals)
    statistic = 2 * (loglik - straight) / dispersion
    p_value = min(1.0, math.erfc(math.sqrt(max(statistic, 0) / 2)) * len(tried))
    if p_value >= ALPHA:
        return None
    return {"index": best, "kind": kind, "before": float(matches[:best].sum() / totals[:best].sum()),
            "after": float(matches[best:].sum() / totals[best:].sum()), "lr": statistic, "p": p_value}


def _ratio(value: float) -> str:
    if math.isinf(value):
        return "∞"
    return f"{value:.3g}" if value >= 100 or value < 0.01 else f"{value:.2f}"


@dataclass(frozen=True)
class Verdict:
    """What the test says about one term's series.

    odds_ratio_per_year, ci_low and ci_high may be 0 or infinity (math.inf) when the data cannot
    bound the trend on that side; record() gives them as None there, for JSON and CSV.
    """

    term: str
    verdict: str                 # rising | falling | flat | inconclusive | too little data
    odds_ratio_per_year: float | None
    ci_low: float | None         # 95% profile-likelihood interval of the odds ratio per year
    ci_high: float | None
    p_value: float | None        # likelihood-ratio test of "no trend"
    since: str | None            # period label of the change point
    change: str | None           # level (the share jumps) or slope (the trend bends)
    share_before: float | None
    share_after: float | None
    periods: int
    matches: int
    total: int
    note: str

    def sentence(self) -> str:
        """One line a person reads."""
        if self.verdict == "too little data":
            return f"{self.term}: too little data to say ({self.note})"
        label = self.verdict
        if self.verdict == "inconclusive":
            label = "inconclusive (too little data to tell rising, falling or flat)"
        text = (f"{self.term}: {label} — odds ratio per year {_ratio(self.odds_ratio_per_year)} "
                f"(95% CI {_ratio(self.ci_low)}–{_ratio(self.ci_high)}, p = {self.p_value:.2g}; "
                f"{self.matches} of {self.total} papers over {self.periods} periods)")
        if self.since:
            how = "jumps" if self.change == "level" else "bends"
            text += f"; changes since {self.since} (the trend {how}): share {self.share_before:.1%} → {self.share_after:.1%}"
        return text

    def record(self) -> dict:
        """The verdict as a flat dict of JSON-safe values (an unbounded interval end is None)."""
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


def verdict(trend: pl.DataFrame, term: str) -> Verdict:
    """Rising, falling, flat or inconclusive for one term of a trend frame (period, period_start, matches, total)."""
    series = trend.filter((pl.col("term") == term) & (pl.col("total") > 0)).sort("period_start")
    matches = series["matches"].to_numpy().astype(float)
    totals = series["total"].to_numpy().astype(float)
    base = dict(term=term, periods=series.height, matches=int(matches.sum()), total=int(totals.sum()))
    empty = dict(odds_ratio_per_year=None, ci_low=None, ci_high=None, p_value=None, since=None, change=None,
                 share_before=None, share_after=None)
    if series.height < MIN_PERIODS or matches.sum() < MIN_MATCHES or matches.sum() == totals.sum():
        # Name only what fell short, so the user knows what to change (a finer --by, a wider window).
        reasons = []
        if series.height < MIN_PERIODS:
            reasons.append(f"{series.height} periods with papers (need {MIN_PERIODS}; try a finer --by)")
        if matches.sum() < MIN_MATCHES:
            reasons.append(f"{int(matches.sum())} matching papers (need {MIN_MATCHES})")
        if matches.sum() == totals.sum() and matches.sum() >= MIN_MATCHES:
            reasons.append("every paper matches, so there is no share to compare")
        note = ", ".join(reasons)
        return Verdict(verdict="too little data", note=note, **base, **empty)
    first = series["period_start"][0]
    years = np.array([(d - first).days / 365.25 for d in series["period_start"]], dtype=float)
    fit = logistic_trend(matches, totals, years)
    low, high = _exp(fit["ci_low"]), _exp(fit["ci_high"])
    if fit["p"] < ALPHA:
        direction = "rising" if fit["slope"] > 0 else "falling"
    elif flat_span(fit["ci_low"], fit["ci_high"], years[-1] - years[0]):
        direction = "flat"
    else:
        direction = "inconclusive"
    found = change_point(matches, totals, years)
    note = (f"quasi-binomial logistic regression of share on time, likelihood-ratio test and profile-likelihood "
            f"interval, dispersion {fit['dispersion']:.2f}; flat only when the interval rules out the odds changing "
            f"{FLAT_CHANGE:g}-fold over the {series.height} periods; change point: logistic line with one jump or bend, "
            f"LR test, Bonferroni, min {MIN_SEGMENT_PERIODS} periods a side")
    return Verdict(
        verdict=direction,
        odds_ratio_per_year=_exp(fit["slope"]), ci_low=low, ci_high=high, p_value=fit["p"],
        since=series["period"][found["index"]] if found else None,
        change=found["kind"] if found else None,
        share_before=found["before"] if found else None,
        share_after=found["after"] if found else None,
        note=note,
        **base,
    )


def flat_span(slope_low: float, slope_high: float, span_years: float) -> bool:
    """Whether a slope interval (log odds per year) rules out a FLAT_CHANGE-fold change over span_years."""
    bound = math.log(FLAT_CHANGE)
    return -bound <= slope_low * span_years and slope_high * span_years <= bound


def _exp(log_odds: float) -> float:
    """The odds ratio of a log odds ratio; a coefficient at COEF_LIMIT counts as unbounded."""
    if abs(log_odds) >= COEF_LIMIT:
        return math.inf if log_odds > 0 else 0.0
    return math.exp(log_odds)


def paper_terms(texts: pl.DataFrame) -> pl.DataFrame:
    """(row, term, kind): distinct words and two-word phrases of each paper's title and abstract.

    Phrases never run from the title into the abstract (as in transforms/terms.py).
    """
    fields = []
    indexed = texts.with_row_index("row")
    for column in ("title", "abstract"):
        tokens = indexed.select("row", word=words_expr(pl.col(column))).explode("word").drop_nulls("word")
        tokens = tokens.with_columns(next_word=pl.col("word").shift(-1).over("row"))
        fields.append(tokens.select("row", term=pl.col("word"), kind=pl.lit("word")))
        fields.append(
            tokens.drop_nulls("next_word").select(
                "row", term=pl.concat_str([pl.col("word"), pl.col("next_word")], separator=" "), kind=pl.lit("phrase")
            )
        )
    return pl.concat(fields).unique()


def _is_interesting(term: pl.Expr) -> pl.Expr:
    """No stop word at either end, no bare number, more than one character."""
    first, last = term.str.split(" ").list.first(), term.str.split(" ").list.last()
    stop = pl.lit(sorted(STOP_WORDS))
    return (
        ~first.is_in(stop) & ~last.is_in(stop)
        & ~first.str.contains(r"^\p{N}+$") & ~last.str.contains(r"^\p{N}+$")
        & (first.str.len_chars() > 1) & (last.str.len_chars() > 1)
    )


def rising_terms(texts: pl.DataFrame, recent_first, min_support: int = 5, limit: int = 20) -> pl.DataFrame:
    """Words and two-word phrases ranked by how much their share grew from the earlier window to the recent.

    `texts` holds title, abstract and period_start of every paper in both windows; rows with
    period_start >= recent_first form the recent window. Ranked by the two-proportion z statistic
    (growth weighed by its support); terms in fewer than `min_support` recent papers are left out.
    This tokenizes the texts; `papertrends rising` counts the same terms from the term index
    (warehouse.analytics.window_terms) and ranks them with rank_rising: the same rows.
    """
    recent = (pl.col("period_start") >= recent_first)
    windows = texts.with_columns(recent=recent)
    total_recent = int(windows["recent"].sum())
    total_before = windows.height - total_recent
    if total_recent == 0 or total_before == 0:
        raise ValueError("need papers in both windows to compare; widen --window or load more data")
    found = paper_terms(windows.select("title", "abstract")).join(
        windows.with_row_index("row").select("row", "recent"), on="row"
    )
    counted = (
        found.group_by("term", "kind")
        .agg(recent=pl.col("recent").sum(), before=(~pl.col("recent")).sum())
    )
    return rank_rising(counted, total_recent, total_before, min_support, limit)


def rank_rising(counted: pl.DataFrame, total_recent: int, total_before: int, min_support: int = 5,
                limit: int = 20) -> pl.DataFrame:
    """The rising table from per-term paper counts (term, kind, recent, before) of the two windows.

    Terms with a stop word or a bare number at either end, or of one character, are dropped here
    (so a caller may pass them, or not); so are terms in fewer than `min_support` recent papers.
    """
    if total_recent == 0 or total_before == 0:
        raise ValueError("need papers in both windows to compare; widen --window or load more data")
    counted = (
        counted.filter(_is_interesting(pl.col("term")))
        .with_columns(pl.col("recent").cast(pl.UInt32), pl.col("before").cast(pl.UInt32))
        .filter(pl.col("recent") >= min_support)
    )
    share_recent = pl.col("recent") / total_recent
    share_before = pl.col("before") / total_before
    pooled = (pl.col("recent") + pl.col("before")) / (total_recent + total_before)
    standard_error = (pooled * (1 - pooled) * (1 / total_recent + 1 / total_before)).sqrt()
    return (
        counted.with_columns(
            share_before=share_before,
            share_recent=share_recent,
            growth=(pl.col("recent") + 0.5) / total_recent / ((pl.col("before") + 0.5) / total_before),
            z=((share_recent - share_before) / standard_error).fill_nan(None),
        )
        .filter(pl.col("z") > 0)  # a term in every paper of both windows has no z (0/0): not rising
        .sort(["z", "term"], descending=[True, False])
        .head(limit)
        .select("term", "kind", pl.col("before").alias("papers_before"), "share_before",
                pl.col("recent").alias("papers_recent"), "share_recent", "growth", "z")
    )
