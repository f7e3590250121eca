"""arXiv: API Atom feeds, OAI-PMH pages and metadata-snapshot lines in, typed paper rows out.

Pure functions: bytes in, Polars frames out; nothing here touches the network, the disk or the
warehouse. Three shapes of input become one shape of extracted record (strings, before typing),
and one normalization types them all:

- API Atom feeds (``/api/query``), both the 2016 and the 2026 dialect; an "Error" entry (the
  body of an HTTP 400) is an error, never data.
- OAI-PMH ``ListRecords`` pages, metadataPrefix ``arXiv`` or ``arXivRaw``; deleted records and
  the resumption token come back separately.
- Lines of the metadata snapshot (JSON Lines), in batches, parsed by Polars.

Every item that goes in comes out as a paper row, a quarantine row with its reason, or (OAI) a
deleted record: items in = loaded + quarantined + deleted.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import polars as pl

from .hf_listings import LISTING_SCHEMA, QUARANTINE_SCHEMA, collapse_whitespace_expr, raw_excerpt
from .ids import paper_id_expr
from .json_text import json_loads
from .papers import PAPER_COLUMNS, VERSIONS_DTYPE, papers_typed
from .tables import ARXIV_ROW_LISTING_FIELDS, ARXIV_ROW_SCHEMA, LISTINGS
from .terms import search_text_expr

SOURCE_ARXIV = "arxiv"

ATOM = "{http://www.w3.org/2005/Atom}"
ATOM_ARXIV = "{http://arxiv.org/schemas/atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
OAI = "{http://www.openarchives.org/OAI/2.0/}"
OAI_ARXIV = "{http://arxiv.org/OAI/arXiv/}"
OAI_ARXIV_RAW = "{http://arxiv.org/OAI/arXivRaw/}"
METADATA_PREFIXES = ("arXiv", "arXivRaw")

_RAW_VERSIONS = pl.List(pl.Struct({"version": pl.String(), "created": pl.String()}))
# One arXiv record as pulled out of any input, strings still untyped.
RECORD_SCHEMA: dict[str, pl.DataType] = {
    "position": pl.Int64(),
    "id_raw": pl.String(),
    "title_raw": pl.String(),
    "abstract_raw": pl.String(),
    "authors": pl.List(pl.String()),
    "categories": pl.List(pl.String()),
    "versions_raw": _RAW_VERSIONS,
    "published_raw": pl.String(),
    "updated_raw": pl.String(),
    "doi": pl.String(),
    "journal_ref": pl.String(),
    "comments": pl.String(),
    "license": pl.String(),
    "raw_text": pl.String(),
}

# A normalized arXiv observation: every paper column plus where and when it was seen.
ARXIV_ROW_EXTRA: dict[str, pl.DataType] = LISTINGS.polars(ARXIV_ROW_LISTING_FIELDS)

# The fields of a snapshot line this project reads (others, e.g. submitter, report-no, are ignored).
SNAPSHOT_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String(),
    "authors": pl.String(),
    "title": pl.String(),
    "comments": pl.String(),
    "journal-ref": pl.String(),
    "doi": pl.String(),
    "categories": pl.String(),
    "license": pl.String(),
    "abstract": pl.String(),
    "versions": _RAW_VERSIONS,
    "update_date": pl.String(),
    "authors_parsed": pl.List(pl.List(pl.String())),
}
SNAPSHOT_KEYS = frozenset({"id", "title", "categories", "versions"})

_TEX_ACCENTS = {"'": "\u0301", "`": "\u0300", "^": "\u0302", '"': "\u0308", "~": "\u0303", "=": "\u0304",
                ".": "\u0307", "c": "\u0327", "v": "\u030c", "u": "\u0306", "H": "\u030b"}
_TEX_ACCENT = re.compile(r"\{?\\([`'^\"~=.]|[cvuH](?=[\s{]))\s*\{?\\?([A-Za-z])\}?\}?")
_VERSION_SUFFIX = re.compile(r"v(\d+)$")


class FeedError(ValueError):
    """An input that is an error message from arXiv, or not the document it should be."""


@dataclass
class ArxivExtracted:
    """Records pulled out of one input, with its quarantine and what the input says about paging."""

    records: pl.DataFrame
    quarantine: pl.DataFrame
    items_in: int
    deleted: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=DELETED_SCHEMA))
    total_results: int | None = None       # Atom: opensearch:totalResults
    start_index: int | None = None         # Atom: opensearch:startIndex
    resumption_token: str | None = None    # OAI: token of the next page; None when this was the last
    complete_list_size: int | None = None  # OAI: records in the whole list, when the server says
    error: str | None = None               # the input is an error answer (its message)


DELETED_SCHEMA: dict[str, pl.DataType] = {
    "position": pl.Int64(),
    "id_raw": pl.String(),
    "datestamp": pl.String(),
}


def tex_accents_decoded(text: str) -> str:
    """TeX accents in author names as Unicode: ``Bal\\'azs`` becomes ``Balázs``."""
    if "\\" not in text:
        return text
    decoded = _TEX_ACCENT.sub(lambda m: m.group(2) + _TEX_ACCENTS[m.group(1)], text)
    return unicodedata.normalize("NFC", decoded)


def author_names(authors: str) -> list[str]:
    """Names in an arXiv authors string: commas and "and" separate, affiliations in () dropped."""
    without_affiliations = authors
    while True:  # innermost parentheses first, so nested ones go too
        stripped = re.sub(r"\([^()]*\)", " ", without_affiliations)
        if stripped == without_affiliations:
            break
        without_affiliations = stripped
    parts = re.split(r",|\band\b|;", without_affiliations.replace("\n", " "))
    names = [" ".join(tex_accents_decoded(p).split()) for p in parts]
    return [n for n in names if n]


def _quarantine(rows: list[dict], origin: str, raw_sha256: str) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema={"position": pl.Int32(), "reason": pl.String(), "raw_text": pl.String()})
    return frame.with_columns(origin=pl.lit(origin, pl.String()), raw_sha256=pl.lit(raw_sha256, pl.String())).select(
        list(QUARANTINE_SCHEMA)
    )


def whole_input_quarantined(reason: str, body: bytes, origin: str, raw_sha256: str, error: str | None = None) -> ArxivExtracted:
    """The whole input as one quarantined item (a bounded excerpt of it: raw/ has every byte)."""
    text = raw_excerpt(body)
    quarantine = _quarantine([{"position": None, "reason": reason, "raw_text": text}], origin, raw_sha256)
    return ArxivExtracted(pl.DataFrame(schema=RECORD_SCHEMA), quarantine, 1, error=error)


def _text(element: ET.Element | None, path: str) -> str | None:
    """Text of the first `path` under `element`; None when absent or blank."""
    found = element.find(path) if element is not None else None
    if found is None or found.text is None or not found.text.strip():
        return None
    return found.text


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.strip().isdigit() else None


def _primary_first(primary: str | None, categories: list[str]) -> list[str]:
    """Categories without duplicates, the primary one first."""
    ordered = ([primary] if primary else []) + categories
    return list(dict.fromkeys(c for c in ordered if c))


def _atom_entry(entry: ET.Element, position: int) -> dict:
    entry_id = _text(entry, f"{ATOM}id") or ""
    version = _VERSION_SUFFIX.search(entry_id)
    published, updated = _text(entry, f"{ATOM}published"), _text(entry, f"{ATOM}updated")
    # The feed names only the current version: v1 was published, the current one updated.
    versions = [{"version": "v1", "created": published}] if published else []
    if version and int(version.group(1)) > 1 and updated:
        versions.append({"version": f"v{version.group(1)}", "created": updated})
    primary = entry.find(f"{ATOM_ARXIV}primary_category")
    return {
        "position": position,
        "id_raw": entry_id,
        "title_raw": _text(entry, f"{ATOM}title"),
        "abstract_raw": _text(entry, f"{ATOM}summary"),
        "authors": [" ".join(n.split()) for a in entry.findall(f"{ATOM}author") if (n := _text(a, f"{ATOM}name"))],
        "categories": _primary_first(
            primary.get("term") if primary is not None else None,
            [c.get("term") for c in entry.findall(f"{ATOM}category")],
        ),
        "versions_raw": versions or None,
        "published_raw": published,
        "updated_raw": updated,
        "doi": _text(entry, f"{ATOM_ARXIV}doi"),
        "journal_ref": _text(entry, f"{ATOM_ARXIV}journal_ref"),
        "comments": _text(entry, f"{ATOM_ARXIV}comment"),
        "license": None,
        "raw_text": ET.tostring(entry, encoding="unicode"),
    }


def _is_error_entry(entry: ET.Element) -> bool:
    """arXiv answers a bad query with a feed holding one entry titled "Error" (HTTP 400)."""
    entry_id = _text(entry, f"{ATOM}id") or ""
    return "/api/errors" in entry_id or (_text(entry, f"{ATOM}title") or "").strip() == "Error"


def atom_feed_extracted(body: bytes, *, origin: str, raw_sha256: str, position_offset: int = 0) -> ArxivExtracted:
    """Entries of one arXiv API response (Atom, either dialect), or the error it reports."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as error:
        return whole_input_quarantined(f"not well-formed XML: {error}", body, origin, raw_sha256)
    if root.tag != f"{ATOM}feed":
        return whole_input_quarantined(f"not an Atom feed: root element is {root.tag}", body, origin, raw_sha256)
    entries = root.findall(f"{ATOM}entry")
    errors = [e for e in entries if _is_error_entry(e)]
    if errors:
        message = "; ".join(" ".join((_text(e, f"{ATOM}summary") or "error without a message").split()) for e in errors)
        return whole_input_quarantined(f"arXiv API error: {message}", body, origin, raw_sha256, error=message)
    records = [_atom_entry(entry, position_offset + index) for index, entry in enumerate(entries)]
    return ArxivExtracted(
        pl.DataFrame(records, schema=RECORD_SCHEMA),
        _quarantine([], origin, raw_sha256),
        len(entries),
        total_results=_int(_text(root, f"{OPENSEARCH}totalResults")),
        start_index=_int(_text(root, f"{OPENSEARCH}startIndex")),
    )


def _oai_arxiv_record(metadata: ET.Element, position: int) -> dict:
    """Fields of a metadataPrefix=arXiv record: structured authors, created/updated dates only."""
    ns = OAI_ARXIV
    authors = []
    for author in metadata.findall(f"{ns}authors/{ns}author"):
        parts = [_text(author, f"{ns}forenames"), _text(author, f"{ns}keyname"), _text(author, f"{ns}suffix")]
        name = " ".join(" ".join(p for p in parts if p).split())
        if name:
            authors.append(tex_accents_decoded(name))
    return {
        "position": position,
        "id_raw": _text(metadata, f"{ns}id"),
        "title_raw": _text(metadata, f"{ns}title"),
        "abstract_raw": _text(metadata, f"{ns}abstract"),
        "authors": authors,
        "categories": (_text(metadata, f"{ns}categories") or "").split(),
        "versions_raw": None,  # this format gives v1's date without its time: published_raw
        "published_raw": _text(metadata, f"{ns}created"),
        "updated_raw": _text(metadata, f"{ns}updated"),
        "doi": _text(metadata, f"{ns}doi"),
        "journal_ref": _text(metadata, f"{ns}journal-ref"),
        "comments": _text(metadata, f"{ns}comments"),
        "license": _text(metadata, f"{ns}license"),
        "raw_text": ET.tostring(metadata, encoding="unicode"),
    }


def _oai_arxiv_raw_record(metadata: ET.Element, position: int) -> dict:
    """Fields of a metadataPrefix=arXivRaw record: every version with its date, authors as a string."""
    ns = OAI_ARXIV_RAW
    versions = [
        {"version": v.get("version"), "created": _text(v, f"{ns}date")} for v in metadata.findall(f"{ns}version")
    ]
    return {
        "position": position,
        "id_raw": _text(metadata, f"{ns}id"),
        "title_raw": _text(metadata, f"{ns}title"),
        "abstract_raw": _text(metadata, f"{ns}abstract"),
        "authors": author_names(_text(metadata, f"{ns}authors") or ""),
        "categories": (_text(metadata, f"{ns}categories") or "").split(),
        "versions_raw": versions or None,
        "published_raw": None,
        "updated_raw": None,
        "doi": _text(metadata, f"{ns}doi"),
        "journal_ref": _text(metadata, f"{ns}journal-ref"),
        "comments": _text(metadata, f"{ns}comments"),
        "license": _text(metadata, f"{ns}license"),
        "raw_text": ET.tostring(metadata, encoding="unicode"),
    }


def oai_page_extracted(body: bytes, *, origin: str, raw_sha256: str, position_offset: int = 0) -> ArxivExtracted:
    """Records of one OAI-PMH ListRecords page, its deleted records and its resumption token.

    An OAI error other than noRecordsMatch (an empty result) is reported as `error`.
    """
    try:
        root = ET.fromstring(body)
    except ET.ParseError as error:
        return whole_input_quarantined(f"not well-formed XML: {error}", body, origin, raw_sha256)
    if root.tag != f"{OAI}OAI-PMH":
        return whole_input_quarantined(f"not an OAI-PMH response: root element is {root.tag}", body, origin, raw_sha256)
    error = root.find(f"{OAI}error")
    if error is not None:
        code = error.get("code", "unknown")
        if code == "noRecordsMatch":
            return ArxivExtracted(pl.DataFrame(schema=RECORD_SCHEMA), _quarantine([], origin, raw_sha256), 0)
        message = f"OAI-PMH error {code}: {' '.join((error.text or '').split())}"
        return whole_input_quarantined(message, body, origin, raw_sha256, error=message)
    listing = root.find(f"{OAI}ListRecords")
    if listing is None:
        return whole_input_quarantined("OAI-PMH response without ListRecords", body, origin, raw_sha256)
    records, deleted, rejected = [], [], []
    for index, record in enumerate(listing.findall(f"{OAI}record")):
        position = position_offset + index
        header = record.find(f"{OAI}header")
        identifier = _text(header, f"{OAI}identifier") or ""
        if header is not None and header.get("status") == "deleted":
            deleted.append({"position": position, "id_raw": identifier.removeprefix("oai:arXiv.org:"),
                            "datestamp": _text(header, f"{OAI}datestamp")})
            continue
        arxiv = record.find(f"{OAI}metadata/{OAI_ARXIV}arXiv")
        arxiv_raw = record.find(f"{OAI}metadata/{OAI_ARXIV_RAW}arXivRaw")
        if arxiv is not None:
            records.append(_oai_arxiv_record(arxiv, position))
        elif arxiv_raw is not None:
            records.append(_oai_arxiv_raw_record(arxiv_raw, position))
        else:
            rejected.append({"position": position, "reason": "record has no arXiv or arXivRaw metadata",
                             "raw_text": ET.tostring(record, encoding="unicode")})
    token = listing.find(f"{OAI}resumptionToken")
    size = token.get("completeListSize") if token is not None else None
    return ArxivExtracted(
        pl.DataFrame(records, schema=RECORD_SCHEMA),
        _quarantine(rejected, origin, raw_sha256),
        len(records) + len(deleted) + len(rejected),
        deleted=pl.DataFrame(deleted, schema=DELETED_SCHEMA),
        resumption_token=(token.text or "").strip() or None if token is not None else None,
        complete_list_size=_int(size),
    )


def looks_like_snapshot_line(line: bytes | str) -> bool:
    """True when a line is a JSON object with the keys of an arXiv metadata-snapshot record."""
    try:
        document = json_loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(document, dict) and SNAPSHOT_KEYS <= document.keys()


def _snapshot_line_problem(document) -> str | None:
    """Why one decoded snapshot line cannot be read by the typed reader, or None."""
    if not isinstance(document, dict):
        return f"line is a JSON {type(document).__name__}, not an object"
    if not isinstance(document.get("id"), str) or not document["id"].strip():
        return "line has no id"
    for name in ("authors", "title", "comments", "journal-ref", "doi", "categories", "license", "abstract", "update_date"):
        if document.get(name) is not None and not isinstance(document[name], str):
            return f"{name} is a {type(document[name]).__name__}, not a string"
    versions = document.get("versions")
    if versions is not None and not (
        isinstance(versions, list)
        and all(isinstance(v, dict) and all(isinstance(v.get(k), (str, type(None))) for k in ("version", "created")) for v in versions)
    ):
        return "versions is not a list of {version, created}"
    parsed = document.get("authors_parsed")
    if parsed is not None and not (
        isinstance(parsed, list) and all(isinstance(p, list) and all(isinstance(x, str) for x in p) for p in parsed)
    ):
        return "authors_parsed is not a list of name parts"
    return None


def _snapshot_frame(lines: list[bytes]) -> pl.DataFrame:
    frame = pl.read_ndjson(io.BytesIO(b"\n".join(lines)), schema=SNAPSHOT_SCHEMA)
    return frame


def snapshot_lines_extracted(
    lines: list[bytes], *, first_position: int, origin: str, raw_sha256: str
) -> ArxivExtracted:
    """Records of a batch of snapshot lines (line i has position first_position + i; blank lines skipped).

    Polars reads the whole batch at once; only when that fails is each line checked in Python,
    so one bad line is quarantined with its reason and the rest of the batch still loads.
    """
    kept = [(first_position + i, line) for i, line in enumerate(lines) if line.strip()]
    positions = [p for p, _ in kept]
    try:
        frame = _snapshot_frame([line for _, line in kept]).with_columns(position=pl.Series(positions, dtype=pl.Int64))
        rejected: list[dict] = []
    except Exception:  # polars raises several error types for bad JSON; the slow path names the line
        good, good_positions, rejected = [], [], []
        for position, line in kept:
            text = line.decode("utf-8", errors="replace")
            try:
                problem = _snapshot_line_problem(json_loads(line))
            except (UnicodeDecodeError, json.JSONDecodeError) as error:
                problem = f"not valid JSON: {error}"
            if problem is None:
                try:
                    _snapshot_frame([line])
                except Exception as error:
                    problem = f"unreadable record: {str(error).splitlines()[0]}"
            if problem is None:
                good.append(line)
                good_positions.append(position)
            else:
                rejected.append({"position": position, "reason": f"line {position + 1}: {problem}", "raw_text": text})
        frame = _snapshot_frame(good).with_columns(position=pl.Series(good_positions, dtype=pl.Int64))
    raw_text = pl.Series("raw_text", [None] * frame.height, dtype=pl.String)  # the raw file keeps every byte
    name = pl.element()
    parsed_names = pl.col("authors_parsed").list.eval(
        pl.concat_str([name.list.get(1, null_on_oob=True), name.list.get(0, null_on_oob=True),
                       name.list.get(2, null_on_oob=True)], separator=" ", ignore_nulls=True)
        .str.replace_all(r"\s+", " ").str.strip_chars()
    ).list.eval(pl.element().filter(pl.element().str.len_chars() > 0))
    records = frame.with_columns(raw_text).select(
        position="position",
        id_raw="id",
        title_raw="title",
        abstract_raw="abstract",
        authors=pl.when(pl.col("authors_parsed").is_not_null()).then(parsed_names).otherwise(
            pl.col("authors").map_elements(author_names, return_dtype=pl.List(pl.String()))
        ),
        categories=pl.col("categories").str.split(" ").list.eval(pl.element().filter(pl.element() != "")),
        versions_raw="versions",
        published_raw=pl.lit(None, pl.String()),
        updated_raw="update_date",
        doi="doi",
        journal_ref="journal-ref",
        comments="comments",
        license="license",
        raw_text="raw_text",
    ).cast(RECORD_SCHEMA)
    return ArxivExtracted(records, _quarantine(rejected, origin, raw_sha256), len(kept))


def timestamp_expr(text: pl.Expr) -> pl.Expr:
    """A UTC timestamp from any date arXiv writes: ISO 8601, RFC 2822 ("Mon, 2 Apr 2007 ... GMT") or a bare date."""
    utc = pl.Datetime("us", "UTC")
    return pl.coalesce(
        text.str.to_datetime("%Y-%m-%dT%H:%M:%S%#z", strict=False).dt.convert_time_zone("UTC").cast(utc),
        text.str.to_datetime("%a, %d %b %Y %H:%M:%S GMT", time_zone="UTC", strict=False).cast(utc),
        text.str.strip_chars().str.to_date("%Y-%m-%d", strict=False).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
    )


def arxiv_rows_normalized(
    extracted: ArxivExtracted, *, fetched_at: dt.datetime, origin: str, raw_sha256: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Typed arXiv observations (paper columns + list_date, position, fetched_at, origin, raw_sha256)
    and the full quarantine of one input.

    published_at is the v1 date, list_date its UTC day; a record without an arXiv id, a title or
    a v1 date is quarantined with its reason.
    """
    records = extracted.records
    element = pl.element()
    versions = pl.col("versions_raw").list.eval(
        pl.struct(
            version=element.struct.field("version"),
            created=timestamp_expr(element.struct.field("created")),
        )
    )
    typed = records.with_columns(
        paper_id=paper_id_expr(pl.col("id_raw")),
        versions=versions.cast(VERSIONS_DTYPE),
    ).with_columns(
        published_at=pl.coalesce(
            pl.col("versions").list.first().struct.field("created"), timestamp_expr(pl.col("published_raw"))
        ),
        updated_at=pl.coalesce(timestamp_expr(pl.col("updated_raw")), pl.col("versions").list.last().struct.field("created")),
        title=collapse_whitespace_expr(pl.col("title_raw")),
    )
    bad_id, no_title, no_date = (
        pl.col("paper_id").is_null(),
        pl.col("title").is_null() | (pl.col("title") == ""),
        pl.col("published_at").is_null(),
    )
    problem = bad_id | no_title | no_date
    rejected = typed.filter(problem).select(
        position=pl.col("position").cast(pl.Int32),
        reason=pl.when(bad_id).then(pl.format("id {} is not an arXiv id", pl.col("id_raw").fill_null("(none)")))
        .when(no_title).then(pl.format("{}: no title", pl.col("paper_id")))
        .otherwise(pl.format("{}: no v1 date", pl.col("paper_id"))),
        raw_text="raw_text",
    ).with_columns(origin=pl.lit(origin, pl.String()), raw_sha256=pl.lit(raw_sha256, pl.String()))
    fetched = pl.lit(fetched_at, pl.Datetime("us", "UTC"))
    good = typed.filter(~problem).with_columns(
        abstract=collapse_whitespace_expr(pl.col("abstract_raw")),
        authors=pl.col("authors").list.eval(collapse_whitespace_expr(pl.element())),
        doi=collapse_whitespace_expr(pl.col("doi")),
        journal_ref=collapse_whitespace_expr(pl.col("journal_ref")),
        comments=collapse_whitespace_expr(pl.col("comments")),
        license=collapse_whitespace_expr(pl.col("license")),
        observed_at=fetched,
        arxiv_observed_at=fetched,
        list_date=pl.col("published_at").dt.date(),
        fetched_at=fetched,
        origin=pl.lit(origin, pl.String()),
        raw_sha256=pl.lit(raw_sha256, pl.String()),
        position=pl.col("position").cast(pl.Int32),
    ).with_columns(
        search_text=search_text_expr(pl.col("title"), pl.col("abstract")),
        github_repo=pl.lit(None, pl.String()),
        project_page=pl.lit(None, pl.String()),
        ai_keywords=pl.lit(None, pl.List(pl.String())),
    )
    rows = pl.concat([papers_typed(good), good.select(list(ARXIV_ROW_EXTRA)).cast(ARXIV_ROW_EXTRA)], how="horizontal")
    quarantine = pl.concat([extracted.quarantine, rejected.select(list(QUARANTINE_SCHEMA))]).cast(QUARANTINE_SCHEMA)
    return rows, quarantine


def arxiv_row_schema() -> dict[str, pl.DataType]:
    """Column types of arxiv_rows_normalized's rows (declared in transforms/tables.py)."""
    return dict(ARXIV_ROW_SCHEMA)


def arxiv_listings(rows: pl.DataFrame) -> pl.DataFrame:
    """Listing rows of arXiv observations: source 'arxiv', listed on the v1 date ("first listed" = v1)."""
    listed = rows.with_columns(
        source=pl.lit(SOURCE_ARXIV, pl.String()),
        upvotes=pl.lit(None, pl.Int32()),
        num_comments=pl.lit(None, pl.Int32()),
    )
    # Listing columns only Hugging Face lists carry (list_period, rank, github_stars, ...) are null here.
    absent = [pl.lit(None, dtype).alias(name) for name, dtype in LISTING_SCHEMA.items() if name not in listed.columns]
    return listed.with_columns(absent).select(list(LISTING_SCHEMA)).cast(LISTING_SCHEMA)


def arxiv_papers(rows: pl.DataFrame) -> pl.DataFrame:
    """Paper observations of arXiv rows (PAPER_COLUMNS), the newest observation per paper."""
    latest = rows.sort(["fetched_at", "position"], descending=[True, False]).unique("paper_id", keep="first", maintain_order=True)
    return latest.select(PAPER_COLUMNS)


def deleted_normalized(deleted: pl.DataFrame, *, fetched_at: dt.datetime, origin: str, raw_sha256: str) -> pl.DataFrame:
    """OAI deleted records as (paper_id, datestamp, first_seen_at, origin, raw_sha256)."""
    return deleted.select(
        paper_id=pl.coalesce(paper_id_expr(pl.col("id_raw")), pl.col("id_raw")),
        datestamp=pl.col("datestamp").str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False),
        first_seen_at=pl.lit(fetched_at, pl.Datetime("us", "UTC")),
        origin=pl.lit(origin, pl.String()),
        raw_sha256=pl.lit(raw_sha256, pl.String()),
    )
