"""Classify an API answer before parsing it: data, or a named problem that is never parsed as data.

Pure functions on bytes. A problem is one line saying what came back: HTML where JSON was
expected, truncated JSON, a JSON error object, something that is not a list, or an empty list for
a date that normally has papers.
"""

from __future__ import annotations

import datetime as dt
import json

from ..core.settings import DEFAULT_SETTLED_DAYS
from .json_text import json_loads, json_text


def list_body_problem(body: bytes, *, first_page: bool, empty_is_suspicious: bool) -> str | None:
    """Why a 200 list answer is not a list of items (None when it is).

    `empty_is_suspicious` says the list normally has papers (a past weekday): an empty first page
    then is a problem, not an empty day.
    """
    stripped = body.lstrip()
    if stripped[:1] == b"<":
        return "HTML where JSON was expected (a login page, an error page or a changed API)"
    try:
        text = json_text(body)
    except UnicodeDecodeError as error:
        return f"not UTF-8 text: {error.reason} at byte {error.start}"
    try:
        document = json_loads(text)
    except json.JSONDecodeError as error:
        if not text.strip():
            return "empty body where a JSON list was expected"
        return json_error_problem(text, error)
    if isinstance(document, dict) and isinstance(document.get("data"), list):
        document = document["data"]
    if isinstance(document, dict) and "error" in document:
        return f"JSON error object: {document['error']!r}"
    if not isinstance(document, list):
        return f"JSON is a {type(document).__name__}, not a list of items"
    if first_page and not document and empty_is_suspicious:
        return "empty list for a past weekday, which normally has papers (kept in raw, not loaded)"
    return None


def is_past_weekday(day: dt.date, today: dt.date, min_age_days: int = DEFAULT_SETTLED_DAYS) -> bool:
    """A weekday at least `min_age_days` old: its daily list should not be empty.

    Yesterday and today may still be filling up (and HF dates are not UTC dates), so they never count.
    """
    return (today - day).days >= min_age_days and day.weekday() < 5


def page_item_count(body: bytes) -> int | None:
    """Items on a list page (a JSON list, or the archiver's {"data": [...]}), or None."""
    try:
        document = json_loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if isinstance(document, dict) and isinstance(document.get("data"), list):
        document = document["data"]
    return len(document) if isinstance(document, list) else None


def json_error_problem(text: str, error: json.JSONDecodeError) -> str:
    """'truncated JSON: ...' when the text ends inside a value, else 'not valid JSON: ...'."""
    if error.msg.startswith("Unterminated string") or error.pos >= len(text.rstrip()):
        return f"truncated JSON: the body ends at char {len(text)} inside a value ({error.msg})"
    return f"not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
