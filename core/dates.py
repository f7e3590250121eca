"""Dates as the command line and flows take them."""

from __future__ import annotations

import datetime as dt


def parsed_dates(dates: list[str]) -> list[dt.date]:
    """The requested dates that are dates (a malformed one is quarantined by its HTTP 400, not here)."""
    parsed = []
    for text in dates:
        try:
            parsed.append(dt.date.fromisoformat(text))
        except ValueError:
            pass
    return parsed


def date_range(since: dt.date, until: dt.date) -> list[str]:
    """Every date from since to until inclusive, as YYYY-MM-DD."""
    if until < since:
        raise ValueError(f"--until {until} is before --since {since}")
    return [(since + dt.timedelta(days=n)).isoformat() for n in range((until - since).days + 1)]
