"""Output formats shared by every command: an aligned table for people, CSV and JSON for programs."""

from __future__ import annotations

import datetime as dt
import json
import sys

import polars as pl

FORMATS = ("table", "csv", "json")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v) for v in value)
    return str(value)


def table_text(frame: pl.DataFrame, max_width: int = 60) -> str:
    """Columns aligned under their names; numbers right-aligned; long text cut with an ellipsis."""
    if frame.width == 0:
        return "(no columns)"
    numeric = [dtype.is_numeric() for dtype in frame.dtypes]
    cells = [[_cell(v) for v in row] for row in frame.iter_rows()]
    cells = [[c if len(c) <= max_width else c[: max_width - 1] + "…" for c in row] for row in cells]
    widths = [max([len(name)] + [len(row[i]) for row in cells]) for i, name in enumerate(frame.columns)]

    def line(values):
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)).rstrip()

    out = [line(frame.columns), line(["-" * w for w in widths])]
    out += [line(row) for row in cells]
    if not cells:
        out.append("(no rows)")
    return "\n".join(out)


def _json_default(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def write_frame(frame: pl.DataFrame, fmt: str, stream=None) -> None:
    """Write a result in the chosen format to stdout (or `stream`)."""
    stream = stream or sys.stdout
    if fmt == "table":
        stream.write(table_text(frame) + "\n")
    elif fmt == "csv":
        stream.write(frame.write_csv())
    elif fmt == "json":
        stream.write(json.dumps(frame.to_dicts(), default=_json_default, ensure_ascii=False, indent=1) + "\n")
    else:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}")
