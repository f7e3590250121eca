"""Hugging Face Daily Papers: raw responses and saved pages in, typed listing rows out.

Pure functions: bytes or frames in, Polars frames out. Nothing here touches the network, the
disk or the warehouse. Every item that goes in comes out either as a listing row or as a
quarantine row with its reason and raw text (items in = loaded + quarantined).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass

import polars as pl
import pyarrow as pa

from .ids import paper_id_expr, synthetic_paper_id
from .json_text import json_loads
from .tables import LISTING_ROW_SCHEMA, QUARANTINE_ROW_SCHEMA

# Normalized listing rows: one per item seen on a list, with the paper fields the item carries (the
# lake and the warehouse load these), and quarantined items: declared in transforms/tables.py.
LISTING_SCHEMA: dict[str, pl.DataType] = LISTING_ROW_SCHEMA
QUARANTINE_SCHEMA: dict[str, pl.DataType] = QUARANTINE_ROW_SCHEMA

# quarantine.raw_text keeps at most this many bytes of a whole bad input: the raw archive has every
# byte, and a 200 MB bad body must not become a 200 MB warehouse row.
EXCERPT_BYTES = 65_536


def raw_excerpt(body: bytes, total: int | None = None) -> str:
    """The first EXCERPT_BYTES of a bad input as text, saying how much more the raw archive holds."""
    total = len(body) if total is None else total
    text = body[:EXCERPT_BYTES].decode("utf-8", errors="replace")
    if total > EXCERPT_BYTES:
        text += f"\n[... {total - EXCERPT_BYTES} more bytes in the raw archive]"
    return text


# Fields pulled out of each item before typing; strings stay strings until Polars parses them.
_EXTRACTED_SCHEMA: dict[str, pl.DataType] = {
    "position": pl.Int32(),
    "paper_id_raw": pl.String(),
    "title_raw": pl.String(),
    "abstract_raw": pl.String(),
    "authors": pl.List(pl.String()),
    "published_at_raw": pl.String(),
    "list_date_raw": pl.String(),
    "upvotes": pl.Int32(),
    "num_comments": pl.Int32(),
    "github_repo_raw": pl.String(),
    "project_page_raw": pl.String(),
    "ai_keywords": pl.List(pl.String()),
    "raw_text": pl.String(),
    "github_stars": pl.Int32(),
    "organization_raw": pl.String(),
    "ai_summary_raw": pl.String(),
    "withdrawn_at_raw": pl.String(),
}

SOURCE_HF_DAILY = "hf_daily"
SOURCE_HF_PAGE = "hf_page"

_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
_PAGE_DATE_LINE = re.compile(rf"^({_MONTHS})[a-z]*\.? (\d{{1,2}})$")
_GITHUB_IN_TEXT = re.compile(r"(?:https?://)?(?:www\.)?github\.com/[\w.-]+/[\w.-]*[\w-]", re.IGNORECASE)
_ISO_TIMESTAMP = "%Y-%m-%dT%H:%M:%S%.fZ"


class PageFormatError(ValueError):
    """A saved page whose structure is not the one this parser knows."""


@dataclass(frozen=True)
class Extracted:
    """Items pulled out of one raw input: candidate rows, quarantined items, items counted in."""

    items: pl.DataFrame
    quarantine: pl.DataFrame
    items_in: int


def _quarantine_frame(rows: list[dict], origin: str, raw_sha256: str) -> pl.DataFrame:
    """Quarantine rows stamped with their origin."""
    frame = pl.DataFrame(
        [{"position": r["position"], "reason": r["reason"], "raw_text": r["raw_text"]} for r in rows],
        schema={"position": pl.Int32(), "reason": pl.String(), "raw_text": pl.String()},
    )
    return frame.with_columns(
        origin=pl.lit(origin, pl.String()), raw_sha256=pl.lit(raw_sha256, pl.String())
    ).select(list(QUARANTINE_SCHEMA))


_INT32_MAX = 2**31 - 1


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _item_fields(item, position: int) -> tuple[dict | None, str | None]:
    """The fields of one API item, or the reason it cannot be loaded."""
    if isinstance(item, str):
        hint = " (it looks like a Python repr; it is never evaluated)" if item.lstrip()[:1] == "{" else ""
        return None, f"item is a string, not a JSON object{hint}"
    if not isinstance(item, dict):
        return None, f"item is a JSON {type(item).__name__}, not an object"
    paper = item.get("paper")
    if not isinstance(paper, dict):
        return None, "item has no paper object"
    raw_id = paper.get("id")
    if not isinstance(raw_id, str) or not raw_id.strip():
        return None, "item has no paper.id"
    title = paper.get("title", item.get("title"))
    if not isinstance(title, str) or not title.strip():
        return None, "item has no title"
    abstract = paper.get("summary", item.get("summary"))
    counts = (
        ("paper.upvotes", paper.get("upvotes")), ("numComments", item.get("numComments")),
        ("paper.githubStars", paper.get("githubStars")),
    )
    for name, value in counts:
        if value is not None and (not _is_int(value) or value < 0):
            return None, f"{name} is {value!r}, not a non-negative integer"
        if value is not None and value > _INT32_MAX:  # the column is a 32-bit integer
            return None, f"{name} is {value!r}, more than {_INT32_MAX}"
    authors = paper.get("authors") or []
    keywords = paper.get("ai_keywords")
    text_fields = {
        "abstract_raw": abstract,
        "published_at_raw": paper.get("publishedAt"),
        "list_date_raw": paper.get("submittedOnDailyAt"),
        "github_repo_raw": paper.get("githubRepo"),
        "project_page_raw": paper.get("projectPage"),
        "ai_summary_raw": paper.get("ai_summary"),
        "withdrawn_at_raw": paper.get("withdrawnAt"),
    }
    for name, value in text_fields.items():
        if value is not None and not isinstance(value, str):
            return None, f"{name.removesuffix('_raw')} is a {type(value).__name__}, not a string"
    return {
        "position": position,
        "paper_id_raw": raw_id,
        "title_raw": title,
        "authors": [a["name"] for a in authors if isinstance(a, dict) and isinstance(a.get("name"), str)],
        "upvotes": paper.get("upvotes"),
        "num_comments": item.get("numComments"),
        "ai_keywords": [k for k in keywords if isinstance(k, str)] if isinstance(keywords, list) else None,
        "raw_text": None,
        "github_stars": paper.get("githubStars"),
        "organization_raw": organization_name(paper.get("organization") or item.get("organization")),
        **text_fields,
    }, None


def organization_name(organization) -> str | None:
    """The name (slug) of an HF organization object, or None."""
    if isinstance(organization, dict) and isinstance(organization.get("name"), str):
        return organization["name"]
    return None


def _raw_json(item) -> str:
    return item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)


def _document_items(body: bytes) -> tuple[list | None, str | None]:
    """The items of a daily-papers JSON body, or the reason the whole body is not a list of items."""
    try:
        document = json_loads(body)
    except UnicodeDecodeError as error:
        return None, f"not UTF-8 text: {error.reason} at byte {error.start}"
    except json.JSONDecodeError as error:
        return None, f"not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
    # One real archiver wrapped a day as {"status", "date", "count", "data": [...]}.
    if isinstance(document, dict) and isinstance(document.get("data"), list):
        document = document["data"]
    if not isinstance(document, list):
        kind = "object" if isinstance(document, dict) else type(document).__name__
        detail = f": error {document['error']!r}" if isinstance(document, dict) and "error" in document else ""
        return None, f"JSON is an {kind}, not a list of items{detail}"
    return document, None


def _daily_papers_fields(body: bytes, position_offset: int, keep_raw: bool = False) -> tuple[list[dict], list[dict], int]:
    """(fields of loadable items, rejected items with reason and raw text, items in) of one API body.

    Unless `keep_raw`, a loadable item's raw JSON is not kept (raw_text None): only quarantined
    items carry it, and the few quarantined later, when typed, get theirs from daily_papers_raw_texts.
    """
    document, problem = _document_items(body)
    if document is None:
        return [], [{"position": None, "reason": problem, "raw_text": raw_excerpt(body)}], 1
    rows, rejected = [], []
    for index, item in enumerate(document):
        fields, reason = _item_fields(item, position_offset + index)
        if fields is None:
            rejected.append({"position": position_offset + index, "reason": reason, "raw_text": _raw_json(item)})
        else:
            if keep_raw:
                fields["raw_text"] = _raw_json(item)
            rows.append(fields)
    return rows, rejected, len(document)


def daily_papers_raw_texts(body: bytes, indexes: list[int]) -> list[str]:
    """The raw JSON of the items at `indexes` (0-based, in the body's list) of a daily-papers body."""
    document, _ = _document_items(body)
    return [_raw_json(document[index]) for index in indexes]


def daily_papers_extracted(body: bytes, *, origin: str, raw_sha256: str, position_offset: int = 0) -> Extracted:
    """Items of one daily-papers API response (a JSON list of items)."""
    rows, rejected, items_in = _daily_papers_fields(body, position_offset, keep_raw=True)
    items = pl.DataFrame(rows, schema=_EXTRACTED_SCHEMA)
    return Extracted(items, _quarantine_frame(rejected, origin, raw_sha256), items_in)


_ARROW_TYPES = {pl.Int32(): pa.int32(), pl.String(): pa.large_string(), pl.List(pl.String()): pa.large_list(pa.large_string())}


def _rows_frame(rows: list[dict]) -> pl.DataFrame:
    """Extracted rows as a frame, built column by column through Arrow: Polars' own row reader
    makes one Series per list value (authors, keywords), which cost more than the rest of a batch."""
    table = pa.table({name: pa.array([row[name] for row in rows], type=_ARROW_TYPES[dtype])
                      for name, dtype in _EXTRACTED_SCHEMA.items()})
    return pl.from_arrow(table).cast(_EXTRACTED_SCHEMA)


class ListingsBatch:
    """The items of many inputs gathered as plain rows, then typed in one pass: one frame per batch.

    Per-input Polars work (a frame, its context columns, a query) costs more than the input's
    items; here each input only adds Python rows, and `normalized` runs the expressions once.
    An item quarantined when typed (its id is no arXiv id, it has no list date) gets its raw JSON
    then, from its input's body read again: loadable items never pay for a JSON dump.
    """

    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.row_inputs: list[int] = []
        self.contexts: list[dict] = []
        self.rereads: list = []  # per input: how to read its JSON body again (None: rows carry raw_text)
        self.offsets: list[int] = []
        self.quarantine: list[pl.DataFrame] = []
        self.items_in = 0

    def _context(self, context: dict, reread, offset: int) -> int:
        self.contexts.append({f"ctx_{name}": value for name, value in context.items()})
        self.rereads.append(reread)
        self.offsets.append(offset)
        return len(self.contexts) - 1

    def add_daily_papers(self, body: bytes, *, context: dict, reread, position_offset: int = 0) -> None:
        """Add one daily-papers JSON body; `reread()` gives the same bytes again (for raw text)."""
        rows, rejected, items_in = _daily_papers_fields(body, position_offset)
        self._add(rows, rejected, items_in, context, reread, position_offset)

    def add_extracted(self, extracted: Extracted, *, context: dict) -> None:
        """Add one input already extracted as a frame (rows carry their own raw_text)."""
        rows = extracted.items.to_dicts() if extracted.items.width and extracted.items.height else []
        self.items_in += extracted.items_in
        self.quarantine.append(extracted.quarantine.select(list(QUARANTINE_SCHEMA)).cast(QUARANTINE_SCHEMA))
        if rows:
            index = self._context(context, None, 0)
            self.rows += rows
            self.row_inputs += [index] * len(rows)

    def add_quarantined(self, quarantine: pl.DataFrame, items_in: int) -> None:
        """Add an input quarantined whole (or in part) before extraction."""
        self.items_in += items_in
        self.quarantine.append(quarantine.select(list(QUARANTINE_SCHEMA)).cast(QUARANTINE_SCHEMA))

    def _add(self, rows, rejected, items_in, context, reread, offset) -> None:
        self.items_in += items_in
        if rejected:
            self.quarantine.append(_quarantine_frame(rejected, context["origin"], context["raw_sha256"]))
        if rows:
            index = self._context(context, reread, offset)
            self.rows += rows
            self.row_inputs += [index] * len(rows)

    def _raw_texts(self, rejected: pl.DataFrame) -> list[str | None]:
        texts = rejected["raw_text"].to_list()
        wanted: dict[int, list[int]] = {}
        for at, (text, input_index) in enumerate(zip(texts, rejected["ctx_input"].to_list())):
            if text is None and self.rereads[input_index] is not None:
                wanted.setdefault(input_index, []).append(at)
        for input_index, ats in wanted.items():
            positions = rejected["position"].gather(ats).to_list()
            found = daily_papers_raw_texts(self.rereads[input_index](), [p - self.offsets[input_index] for p in positions])
            for at, text in zip(ats, found):
                texts[at] = text
        return texts

    def normalized(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Typed listing rows and the whole quarantine of every input added (items in = rows + quarantined)."""
        quarantine = pl.concat(self.quarantine) if self.quarantine else pl.DataFrame(schema=QUARANTINE_SCHEMA)
        if not self.rows:
            return pl.DataFrame(schema=LISTING_SCHEMA), quarantine
        items = _rows_frame(self.rows)
        inputs = pl.Series("ctx_input", self.row_inputs, dtype=pl.Int32())
        contexts = pl.DataFrame(self.contexts, schema=CONTEXT_SCHEMA)
        items = items.with_columns(contexts.get_column(name).gather(inputs) for name in CONTEXT_SCHEMA)
        return listings_normalized_batch(items.with_columns(inputs), quarantine, raw_texts=self._raw_texts)


def papers_page_extracted(text: str, *, origin: str, raw_sha256: str) -> Extracted:
    """Papers of a Hugging Face papers page saved as plain text (title, blank, abstract, blank).

    The page has a header ending in a date line such as "May 8"; then each paper is a title line
    and an abstract line. Papers carry no ids, authors or upvotes; a GitHub link in the abstract
    becomes the paper's github_repo.
    """
    lines = [line.strip() for line in text.splitlines()]
    start = next((i for i, line in enumerate(lines) if _PAGE_DATE_LINE.match(line)), None)
    if start is None:
        raise PageFormatError("not a Hugging Face papers page: no date line such as 'May 8' ends a header")
    body = [line for line in lines[start + 1 :] if line]
    rows, rejected = [], []
    for index in range(0, len(body), 2):
        title = body[index]
        if index + 1 >= len(body):
            rejected.append({"position": index // 2, "reason": "title without an abstract at the end of the page", "raw_text": title})
            continue
        abstract = body[index + 1]
        link = _GITHUB_IN_TEXT.search(abstract)
        rows.append({
            "position": index // 2,
            "paper_id_raw": synthetic_paper_id(title),
            "title_raw": title,
            "abstract_raw": abstract,
            "authors": [],
            "github_repo_raw": link.group(0) if link else None,
            "raw_text": f"{title}\n\n{abstract}",
        })
    items = pl.DataFrame(rows, schema=_EXTRACTED_SCHEMA)
    items_in = len(rows) + len(rejected)
    return Extracted(items, _quarantine_frame(rejected, origin, raw_sha256), items_in)


def page_date_line(text: str) -> str | None:
    """The 'May 8' line of a saved papers page, if it has one."""
    return next((line.strip() for line in text.splitlines() if _PAGE_DATE_LINE.match(line.strip())), None)


def collapse_whitespace_expr(text: pl.Expr) -> pl.Expr:
    """Runs of whitespace (arXiv line wraps included) become one space; ends trimmed."""
    return text.str.replace_all(r"\s+", " ").str.strip_chars()


def clean_url_expr(url: pl.Expr) -> pl.Expr:
    """First whitespace-free token of a URL field; GitHub URLs cut to https://github.com/owner/repo."""
    token = url.str.extract(r"^\s*(\S+)", 1)
    repo = token.str.extract(r"(?i)^(?:https?://)?(?:www\.)?github\.com/([^/#?\s]+/[^/#?\s]+)", 1)
    repo = repo.str.replace(r"(?i)\.git$", "")
    cleaned = pl.when(repo.is_not_null()).then(pl.lit("https://github.com/") + repo).otherwise(token)
    return pl.when(cleaned.str.len_chars() > 0).then(cleaned)


# Per-input context carried as columns when several inputs are normalized in one pass.
CONTEXT_SCHEMA: dict[str, pl.DataType] = {
    "ctx_source": pl.String(), "ctx_list_date": pl.Date(), "ctx_fetched_at": pl.Datetime("us", "UTC"),
    "ctx_origin": pl.String(), "ctx_raw_sha256": pl.String(), "ctx_list_period": pl.String(), "ctx_ranked": pl.Boolean(),
}


def with_context(
    items: pl.DataFrame, *, source: str, list_date: dt.date | None, fetched_at: dt.datetime, origin: str,
    raw_sha256: str, list_period: str | None = None, ranked: bool = False,
) -> pl.DataFrame:
    """One input's extracted items with its context as columns, ready for listings_normalized_batch."""
    values = {"ctx_source": source, "ctx_list_date": list_date, "ctx_fetched_at": fetched_at, "ctx_origin": origin,
              "ctx_raw_sha256": raw_sha256, "ctx_list_period": list_period, "ctx_ranked": ranked}
    return items.with_columns(pl.lit(values[name], dtype).alias(name) for name, dtype in CONTEXT_SCHEMA.items())


def listings_normalized(
    extracted: Extracted,
    *,
    source: str,
    list_date: dt.date | None,
    fetched_at: dt.datetime,
    origin: str,
    raw_sha256: str,
    list_period: str | None = None,
    ranked: bool = False,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Typed listing rows and the full quarantine of one raw input.

    The list date is `list_date` when the request or file name says it, else the date part of
    paper.submittedOnDailyAt; an item with neither, or whose id is not an arXiv id, is quarantined.
    """
    items = with_context(extracted.items, source=source, list_date=list_date, fetched_at=fetched_at, origin=origin,
                         raw_sha256=raw_sha256, list_period=list_period, ranked=ranked)
    return listings_normalized_batch(items, extracted.quarantine)


def listings_normalized_batch(
    items: pl.DataFrame, quarantine: pl.DataFrame, raw_texts=None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """listings_normalized over the items of many inputs at once (context in CONTEXT_SCHEMA columns).

    One pass of Polars expressions per batch instead of one per input: the per-query start-up cost
    is paid once. `quarantine` is what extraction already quarantined (QUARANTINE_SCHEMA).
    `raw_texts(rejected)`, when given, gives the raw text of the items quarantined here (their
    raw_text column may be null: see ListingsBatch).
    """
    typed = items.with_columns(
        paper_id=pl.when(pl.col("paper_id_raw").str.starts_with("title:"))
        .then(pl.col("paper_id_raw"))
        .otherwise(paper_id_expr(pl.col("paper_id_raw"))),
        list_date=pl.coalesce(
            pl.col("ctx_list_date"),
            pl.when(pl.col("ctx_list_date").is_null())
            .then(pl.col("list_date_raw").str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)),
        ),
    )
    bad_id = pl.col("paper_id").is_null()
    no_date = pl.col("list_date").is_null()
    rejected = typed.filter(bad_id | no_date)
    if raw_texts is not None and rejected.height:
        rejected = rejected.with_columns(raw_text=pl.Series(raw_texts(rejected), dtype=pl.String()))
    rejected = rejected.select(
        origin="ctx_origin",
        raw_sha256="ctx_raw_sha256",
        position="position",
        reason=pl.when(bad_id)
        .then(pl.format("paper.id {} is not an arXiv id", pl.col("paper_id_raw")))
        .otherwise(pl.lit("no list date: name the file YYYY-MM-DD.json or pass --date")),
        raw_text="raw_text",
    )
    rows = typed.filter(~(bad_id | no_date)).select(
        source="ctx_source",
        list_date="list_date",
        paper_id="paper_id",
        position="position",
        title=collapse_whitespace_expr(pl.col("title_raw")),
        abstract=collapse_whitespace_expr(pl.col("abstract_raw")),
        authors=pl.col("authors").list.eval(collapse_whitespace_expr(pl.element())),
        published_at=pl.col("published_at_raw").str.to_datetime(_ISO_TIMESTAMP, time_zone="UTC", strict=False),
        upvotes="upvotes",
        num_comments="num_comments",
        github_repo=clean_url_expr(pl.col("github_repo_raw")),
        project_page=clean_url_expr(pl.col("project_page_raw")),
        ai_keywords="ai_keywords",
        fetched_at="ctx_fetched_at",
        origin="ctx_origin",
        raw_sha256="ctx_raw_sha256",
        list_period="ctx_list_period",
        rank=pl.when(pl.col("ctx_ranked")).then(pl.col("position") + 1).otherwise(pl.lit(None, pl.Int32())),
        github_stars="github_stars",
        organization="organization_raw",
        ai_summary=collapse_whitespace_expr(pl.col("ai_summary_raw")),
        withdrawn_at=pl.col("withdrawn_at_raw").str.to_datetime(_ISO_TIMESTAMP, time_zone="UTC", strict=False),
    ).cast(LISTING_SCHEMA)
    quarantine = pl.concat(
        [quarantine.select(list(QUARANTINE_SCHEMA)).cast(QUARANTINE_SCHEMA),
         rejected.select(list(QUARANTINE_SCHEMA)).cast(QUARANTINE_SCHEMA)]
    )
    return rows, quarantine
