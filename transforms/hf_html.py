"""Hugging Face papers pages (HTML): the list items embedded in the DailyPapers element.

The pages /papers/date/D, /papers/week/W, /papers/month/M and the trending page render from a
`data-props` attribute (HTML-escaped JSON) on the element with `data-target="DailyPapers"`;
its `dailyPapers` array holds the same items as the API. Parsed with a real HTML parser
(selectolax/lexbor), never with regular expressions. A page without that structure raises
PageFormatError naming what is missing, so it is reported, not half-parsed.
"""

from __future__ import annotations

import json

from selectolax.lexbor import LexborHTMLParser

from .hf_listings import PageFormatError
from .json_text import json_loads

PROPS_TARGET = "DailyPapers"


def daily_papers_props(html: str) -> dict:
    """The decoded data-props object of the page's DailyPapers element."""
    tree = LexborHTMLParser(html)
    nodes = tree.css(f'[data-target="{PROPS_TARGET}"]')
    if not nodes:
        raise PageFormatError(
            f'no element with data-target="{PROPS_TARGET}": not a papers page, or its structure changed'
        )
    if len(nodes) > 1:
        raise PageFormatError(f'{len(nodes)} elements with data-target="{PROPS_TARGET}": the structure changed')
    props = nodes[0].attributes.get("data-props")
    if not props:
        raise PageFormatError(f'the data-target="{PROPS_TARGET}" element has no data-props attribute')
    try:
        document = json_loads(props)
    except json.JSONDecodeError as error:
        raise PageFormatError(f"data-props is not valid JSON: {error.msg} at char {error.pos}") from None
    if not isinstance(document, dict):
        raise PageFormatError(f"data-props is a JSON {type(document).__name__}, not an object")
    return document


def daily_papers_from_html(html: str) -> list:
    """The `dailyPapers` items of a papers page; PageFormatError when the page is not one."""
    props = daily_papers_props(html)
    items = props.get("dailyPapers")
    if not isinstance(items, list):
        keys = ", ".join(sorted(props)[:12]) or "none"
        raise PageFormatError(f"data-props has no dailyPapers list (its keys: {keys}): the structure changed")
    return items


def daily_papers_json_from_html(html: str) -> bytes:
    """The page's items re-encoded as an API-style JSON list (what the list parser reads)."""
    return json.dumps(daily_papers_from_html(html), ensure_ascii=False).encode("utf-8")
