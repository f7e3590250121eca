"""JSON from bytes as JSON allows them, and nothing that can abort a run.

`json_loads` reads UTF-8 with or without a byte-order mark, UTF-16 and UTF-32 (the encodings
RFC 8259 names, detected as the standard library's json.detect_encoding does), and turns a
document nested too deeply for Python (RecursionError, e.g. ``[[[[...]]]]`` a million levels
deep) into a JSONDecodeError, so every caller that already quarantines bad JSON quarantines it too.
"""

from __future__ import annotations

import json


class JsonTooDeep(json.JSONDecodeError):
    """A JSON document nested deeper than Python's parser can follow."""


def json_text(body: bytes | str) -> str:
    """The text of a JSON body: decoded by its BOM or byte pattern; a leading BOM dropped."""
    if isinstance(body, (bytes, bytearray)):
        body = bytes(body).decode(json.detect_encoding(body))
    return body.removeprefix("\ufeff")


def json_loads(body: bytes | str):
    """json.loads that reads every JSON encoding and raises JSONDecodeError (never RecursionError).

    Raises UnicodeDecodeError when the bytes are not text in the detected encoding.
    """
    text = json_text(body)
    try:
        return json.loads(text)
    except RecursionError:
        raise JsonTooDeep("nested too deeply to read (more levels than Python's recursion limit)", text, 0) from None
