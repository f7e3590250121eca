"""Output formats shared by every read command: an aligned table for people; CSV, TSV, JSON and
NDJSON (one JSON object a line) for programs."""

from __future__ import annotations

import datetime as dt
import json
import sys

import polars as pl

FORMATS = ("table", "csv", "tsv", "json", "ndjson")


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


def flat_for_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Nested columns (lists, structs) as JSON text, so CSV and TSV can hold them (as exports do)."""
    nested = [name for name, dtype in zip(frame.columns, frame.dtypes) if dtype.is_nested()]
    if not nested:
        return frame
    return frame.with_columns(
        pl.Series(name, [None if v is None else json.dumps(v, default=_json_default, ensure_ascii=False)
                         for v in frame[name].to_list()], dtype=pl.String)
        for name in nested
    )


def write_frame(frame: pl.DataFrame, fmt: str, stream=None) -> None:
    """Write a result in the chosen format to stdout (or `stream`)."""
    stream = stream or sys.stdout
    if fmt == "table":
        stream.write(table_text(frame) + "\n")
    elif fmt == "csv":
        stream.write(flat_for_text(frame).write_csv())
    elif fmt == "tsv":
        stream.write(flat_for_text(frame).write_csv(separator="\t"))
    elif fmt == "json":
        stream.write(json.dumps(frame.to_dicts(), default=_json_default, ensure_ascii=False, indent=1) + "\n")
    elif fmt == "ndjson":
        for row in frame.iter_rows(named=True):
            stream.write(json.dumps(row, default=_json_default, ensure_ascii=False) + "\n")
    else:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}")
