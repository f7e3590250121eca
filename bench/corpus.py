"""Benchmark corpora of any size, in the real input formats, with planted trends of known answers.

`generate(folder, size, seed)` writes, deterministically from the seed:

    folder/hf/YYYY-MM-DD.json        Hugging Face daily-papers API responses, one list per date
    folder/arxiv/snapshot.jsonl      the same papers as arXiv's metadata snapshot (Kaggle JSON Lines)
    folder/truth.json                per year and month: papers first listed, and papers matching each query
    folder/manifest.json             size, seed, counts, bytes, generation seconds

flows/sample_listings.py builds one item at a time in Python (right for demos, ~10 ms a paper);
this module draws every random decision as numpy arrays and assembles JSON text with Polars string
expressions, so 1M papers take about a minute. Text comes from pools of sentences filled from
sample_listings' vocabularies (which never contain the planted words), so field lengths and
vocabulary match the demo data; each paper picks sentences from the pools.

Planted trends (shares of papers first listed at range position t in [0, 1]):
"scaling" 5% -> 45% rising; "tractable" steady 10%; "inference-time scaling" 0 until t = 0.5,
then rising to 60% of the scaling papers; near misses ("scalable", "intractable",
"tractability", "upscaling", ...) in papers without the planted word, so a LIKE scan is wrong.
The truth is counted from each paper's chosen pool entries with a word matcher written here,
independent of transforms/terms.py, so a benchmark can check the pipeline's answers.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import random
import re
import time
from pathlib import Path

import numpy as np
import polars as pl
from papertrends.devkit import sample_listings as vocab

START = dt.date(2018, 1, 1)
END = dt.date(2025, 12, 31)
POOL_VARIANTS = 800           # filled variants per sentence category (titles: 3x)
RELIST_SHARE = 0.02
MAX_AUTHORS = 16
MAX_KEYWORDS = 6
CHUNK_PAPERS = 100_000        # listing rows assembled per batch (bounds the generator's memory)
# Queries whose answers truth.json carries: a word, a prefix, a phrase, and near-miss bait.
QUERIES = ("scaling", "tractable", "tractab*", "inference-time scaling", "scalable")

_WORD = re.compile(r"[^\W_]+")


def _words(text: str) -> list[str]:
    """Case-folded words (runs of letters and digits), written independently of transforms/terms.py."""
    return [w.casefold() for w in _WORD.findall(text)]


def _matches(query: str, have: list[str]) -> bool:
    """Whether the words `have` contain the query as whole consecutive words (trailing * = prefix)."""
    prefix = query.endswith("*")
    wanted = _words(query.rstrip("*"))
    n = len(wanted)
    for i in range(len(have) - n + 1):
        window = have[i : i + n]
        if window[:-1] == wanted[:-1] and (window[-1].startswith(wanted[-1]) if prefix else window[-1] == wanted[-1]):
            return True
    return False


def _json_inner(text: str) -> str:
    """A string as JSON string content (escaped, without the quotes)."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


def _fmt(template: str, *values) -> pl.Expr:
    """Fill each "{}" of a template with an expression (a column name or expr); braces elsewhere are literal."""
    parts = template.split("{}")
    if len(parts) != len(values) + 1:
        raise ValueError(f"{len(parts) - 1} placeholders but {len(values)} values")
    pieces = [pl.lit(parts[0])]
    for value, part in zip(values, parts[1:]):
        expr = pl.col(value) if isinstance(value, str) else value
        pieces += [expr.cast(pl.String).fill_null(""), pl.lit(part)]
    return pl.concat_str(pieces)


# --- pools -------------------------------------------------------------------------------------

# Abstract slots in reading order: (category, templates, probability the slot is filled).
_SLOTS = (
    ("context", vocab.CONTEXT_SENTENCES, 1.0),
    ("problem", vocab.PROBLEM_SENTENCES, 0.6),
    ("method", vocab.METHOD_INTRO_SENTENCES, 1.0),
    ("detail", vocab.METHOD_DETAIL_SENTENCES, 0.7),
    ("detail2", vocab.METHOD_DETAIL_SENTENCES, 0.4),
    ("scaling", vocab.PLANTED_SCALING_SENTENCES, None),        # planted, decided per paper
    ("its", vocab.PLANTED_INFERENCE_TIME_SENTENCES, None),
    ("tractable", vocab.PLANTED_TRACTABLE_SENTENCES, None),
    ("near_scaling", vocab.NEAR_MISS_SCALING_SENTENCES, None),
    ("near_tractable", vocab.NEAR_MISS_TRACTABLE_SENTENCES, None),
    ("result", vocab.RESULT_SENTENCES, 1.0),
    ("result2", vocab.RESULT_SENTENCES, 0.6),
    ("release", vocab.RELEASE_SENTENCES, 0.7),
)
_TITLE_KINDS = (
    ("base", vocab.TITLE_TEMPLATES + vocab.TITLE_SPECIAL_TEMPLATES[:1]),
    ("scaling", vocab.PLANTED_SCALING_TITLES),
    ("its", vocab.PLANTED_INFERENCE_TIME_TITLES),
    ("tractable", vocab.PLANTED_TRACTABLE_TITLES),
)


class _Pool:
    """Filled strings of one category: plain text, JSON-escaped text, and per-query match flags."""

    def __init__(self, texts: list[str]):
        self.texts = texts
        self.escaped = pl.Series([_json_inner(t) for t in texts], dtype=pl.String)
        words = [_words(t) for t in texts]
        self.flags = {q: np.array([_matches(q, w) for w in words], dtype=bool) for q in QUERIES}


def _filled(rng: random.Random, templates, count: int, title: bool) -> list[str]:
    out = []
    for _ in range(count):
        slots = vocab._slots(rng)
        text = rng.choice(templates).format_map(slots)
        if title and rng.random() < vocab.LINE_WRAP_SHARE:
            text = vocab._wrap_like_arxiv(text)
        out.append(text if title else text[:1].upper() + text[1:])
    return out


@functools.lru_cache(maxsize=1)
def _pools(seed: int = 0) -> tuple[dict[str, _Pool], dict[str, _Pool]]:
    rng = random.Random(f"papertrends-bench-pools-{seed}")
    sentences = {name: _Pool(_filled(rng, templates, POOL_VARIANTS, False)) for name, templates, _ in _SLOTS}
    titles = {name: _Pool(_filled(rng, templates, POOL_VARIANTS * 3, True)) for name, templates in _TITLE_KINDS}
    return sentences, titles


@functools.lru_cache(maxsize=1)
def _people(seed: int = 0, count: int = 5000) -> pl.DataFrame:
    """Author pool: HF author JSON objects, arXiv display names and authors_parsed entries."""
    rng = random.Random(f"papertrends-bench-people-{seed}")
    rows = []
    for _ in range(count):
        first, last = rng.choice(vocab.FIRST_NAMES), rng.choice(vocab.LAST_NAMES)
        name = f"{first} {last}"
        rows.append({
            "hf": f'{{"_id": "{rng.getrandbits(96):024x}", "name": "{_json_inner(name)}", "hidden": false}}',
            "name": _json_inner(name),
            "parsed": f'["{_json_inner(last)}", "{_json_inner(first)}", ""]',
        })
    return pl.DataFrame(rows)


# --- per-paper decisions -------------------------------------------------------------------------


def _papers(size: int, seed: int, sentences: dict[str, _Pool], titles: dict[str, _Pool],
            first: dt.date = START, last: dt.date = END) -> dict[str, np.ndarray]:
    """Every random decision for `size` papers, as arrays (papers ordered by first list date).

    Days are counted from START whatever the range, so every later step dates them the same way.
    """
    rng = np.random.default_rng(seed)
    days = (last - first).days + 1
    weekday = (np.arange(days) + first.weekday()) % 7
    weights = np.where(weekday >= 5, 1 / 3, 1.0)
    offset = (first - START).days
    drawn = np.sort(rng.choice(days, size=size, p=weights / weights.sum())).astype(np.int32)
    t = drawn / max(1, days - 1)
    day = drawn + offset
    r = rng.random((size, 8))
    scaling = r[:, 0] < vocab.SCALING_SHARE_START + (vocab.SCALING_SHARE_END - vocab.SCALING_SHARE_START) * t
    its = scaling & (r[:, 1] < np.clip((t - 0.5) / 0.5, 0, None) * vocab.INFERENCE_TIME_SHARE_END)
    tractable = r[:, 2] < vocab.TRACTABLE_SHARE
    near_scaling = ~scaling & (r[:, 3] < vocab.SCALING_NEAR_MISS_SHARE)
    near_tractable = ~tractable & (r[:, 4] < vocab.TRACTABLE_NEAR_MISS_SHARE)

    # Title kind, as in sample_listings._title.
    roll = r[:, 5]
    kind = np.select([its & (roll < 0.4), scaling & (roll < 0.35), tractable & (roll < 0.2)], [2, 1, 3], 0)
    n_titles = len(titles["base"].texts)
    title_idx = rng.integers(0, n_titles, size).astype(np.int32)
    title_has_scaling = (kind == 1) | (kind == 2)
    title_has_tractable = kind == 3

    present = {}
    for name, _, share in _SLOTS:
        if share is not None:
            present[name] = rng.random(size) < share
    half = rng.random(size) < 0.5
    present["its"] = its & (~(kind == 2) | half)
    present["scaling"] = scaling & ~its & (~title_has_scaling | half)
    present["tractable"] = tractable & (~title_has_tractable | half)
    present["near_scaling"] = near_scaling
    present["near_tractable"] = near_tractable
    sentence_idx = {
        name: np.where(present[name], rng.integers(0, len(sentences[name].texts), size), -1).astype(np.int32)
        for name, _, _ in _SLOTS
    }

    lag = rng.integers(0, 4, size)
    submitted_ms = rng.integers(0, 86_400_000, size)
    published_s = np.minimum(rng.integers(0, 86_400, size), np.where(lag == 0, submitted_ms // 1000, 86_400))
    author_count = np.minimum(1 + rng.poisson(4.5, size), MAX_AUTHORS)
    authors = rng.integers(0, 5000, (size, MAX_AUTHORS)).astype(np.int32)
    authors[np.arange(MAX_AUTHORS)[None, :] >= author_count[:, None]] = -1
    keyword_count = rng.integers(3, MAX_KEYWORDS + 1, size)
    keywords = rng.integers(0, len(_KEYWORDS), (size, MAX_KEYWORDS)).astype(np.int32)
    keywords[np.arange(MAX_KEYWORDS)[None, :] >= keyword_count[:, None]] = -1
    return {
        "day": day, "kind": kind.astype(np.int8), "title_idx": title_idx, **{f"s_{k}": v for k, v in sentence_idx.items()},
        "lag": lag, "submitted_ms": submitted_ms, "published_s": published_s, "authors": authors,
        "keywords": keywords, "upvotes": np.minimum(900, rng.lognormal(2.0, 1.1, size).astype(np.int32)),
        "comments": rng.poisson(0.6, size).astype(np.int32), "github": rng.random(size) < vocab.GITHUB_SHARE,
        "org": rng.integers(0, len(vocab.GITHUB_ORGS), size), "repo_name": rng.integers(0, len(_NAMES), size),
        "project_page": rng.random(size) < vocab.PROJECT_PAGE_SHARE, "submitter": rng.integers(0, 5000, size),
        "hex": rng.integers(0, 2**62, size), "relist_after": np.where(
            rng.random(size) < RELIST_SHARE, rng.integers(1, 8, size), 0).astype(np.int32),
        "categories": rng.integers(0, len(_CATEGORIES), size),
    }


_NAMES = [h + t + v.replace("+", "") for h in vocab.NAME_HEADS for t in vocab.NAME_TAILS for v in vocab.NAME_VERSIONS[3:]]
_KEYWORDS = sorted({vocab._lower_phrase(x) for x in vocab.METHODS + vocab.TASKS + vocab.MODELS})
_CATEGORIES = ("cs.CL", "cs.CV", "cs.LG", "cs.CL cs.AI", "cs.CV cs.LG", "cs.LG stat.ML", "cs.AI", "cs.RO",
               "cs.LG cs.AI cs.CL", "cs.SD eess.AS", "q-bio.BM cs.LG", "cs.IR")


def _arxiv_ids(papers: dict[str, np.ndarray]) -> pl.Series:
    """YYMM.NNNNN ids numbered within the month of publication, in order of publication."""
    published = _published(papers)
    frame = pl.DataFrame({"published": published}).with_row_index("i")
    frame = frame.with_columns(month=pl.col("published").dt.strftime("%y%m")).sort("published", "i")
    busiest = frame.group_by("month").len()["len"].max() or 1
    if busiest > 99_999:
        raise ValueError(f"{busiest} papers in one month do not fit arXiv's 5-digit numbers; widen the date range")
    stride = max(1, min(3, 99_999 // busiest))  # gaps in the numbering, like real arXiv ids
    frame = frame.with_columns(seq=(pl.col("i").cum_count().over("month") * stride + 1)).sort("i")
    return frame.select(_fmt("{}.{}", "month", pl.col("seq").cast(pl.String).str.pad_start(5, "0"))).to_series()


def _published(papers) -> pl.Series:
    start_s = int(dt.datetime(START.year, START.month, START.day, tzinfo=dt.timezone.utc).timestamp())
    seconds = start_s + (papers["day"] - papers["lag"]).astype(np.int64) * 86_400 + papers["published_s"]
    return pl.from_epoch(pl.Series(seconds), time_unit="s").dt.replace_time_zone("UTC")


# --- truth ------------------------------------------------------------------------------------


def _truth(papers, sentences, titles) -> dict:
    """Per year and per month of first listing: papers, and papers matching each query (title or abstract)."""
    title_kinds = [name for name, _ in _TITLE_KINDS]
    calendar = [START + dt.timedelta(days=d) for d in range(int(papers["day"].max()) + 1)]
    periods = {
        "year": np.array([f"{d:%Y}" for d in calendar])[papers["day"]],
        "month": np.array([f"{d:%Y-%m}" for d in calendar])[papers["day"]],
    }
    hits = {}
    for q in QUERIES:
        hit = np.zeros(len(papers["day"]), dtype=bool)
        for k, name in enumerate(title_kinds):
            sel = papers["kind"] == k
            hit[sel] |= titles[name].flags[q][papers["title_idx"][sel]]
        for name, _, _ in _SLOTS:
            idx = papers[f"s_{name}"]
            has = idx >= 0
            hit[has] |= sentences[name].flags[q][idx[has]]
        hits[q] = hit
    result = {}
    for by, period in periods.items():
        keys, inverse = np.unique(period, return_inverse=True)
        result[by] = {
            "papers": dict(zip(keys.tolist(), np.bincount(inverse).tolist())),
            "matches": {q: dict(zip(keys.tolist(), np.bincount(inverse, weights=hits[q]).astype(int).tolist())) for q in QUERIES},
        }
    return result


# --- text assembly ----------------------------------------------------------------------------


def _gather(pool: pl.Series, idx: np.ndarray) -> pl.Series:
    """pool[idx] with null where idx < 0."""
    safe = pl.Series(np.where(idx < 0, 0, idx))
    return pl.select(pl.when(pl.Series(idx >= 0)).then(pool.gather(safe))).to_series()


def _chunk_frame(papers, rows: np.ndarray, list_day: np.ndarray, upvote_bump: np.ndarray, ids: pl.Series,
                 sentences, titles, people: pl.DataFrame) -> pl.DataFrame:
    """JSON-ready (escaped) text columns for the listing rows `rows` (paper indices)."""
    take = {k: v[rows] for k, v in papers.items()}
    title_pools = [titles[name].escaped for name, _ in _TITLE_KINDS]
    title = pl.select(
        pl.coalesce([pl.when(pl.Series(take["kind"] == k)).then(p.gather(pl.Series(take["title_idx"])))
                     for k, p in enumerate(title_pools)])
    ).to_series()
    abstract_parts = [_gather(sentences[name].escaped, take[f"s_{name}"]).alias(name) for name, _, _ in _SLOTS]
    author_hf = [_gather(people["hf"], take["authors"][:, j]) for j in range(MAX_AUTHORS)]
    author_name = [_gather(people["name"], take["authors"][:, j]) for j in range(MAX_AUTHORS)]
    author_parsed = [_gather(people["parsed"], take["authors"][:, j]) for j in range(MAX_AUTHORS)]
    keyword_pool = pl.Series([f'"{_json_inner(k)}"' for k in _KEYWORDS])
    keywords = [_gather(keyword_pool, take["keywords"][:, j]) for j in range(MAX_KEYWORDS)]
    start_ms = int(dt.datetime(START.year, START.month, START.day, tzinfo=dt.timezone.utc).timestamp() * 1000)
    submitted = pl.from_epoch(pl.Series(start_ms + list_day.astype(np.int64) * 86_400_000 + take["submitted_ms"]), "ms")
    published = _published(take)
    frame = pl.DataFrame({
        "id": ids.gather(pl.Series(rows)),
        "title": title,
        "abstract": pl.select(pl.concat_str(abstract_parts, separator=" ", ignore_nulls=True)).to_series(),
        "authors_hf": pl.select(pl.concat_str(author_hf, separator=", ", ignore_nulls=True)).to_series(),
        "authors_arxiv": pl.select(pl.concat_str(author_name, separator=", ", ignore_nulls=True)).to_series(),
        "authors_parsed": pl.select(pl.concat_str(author_parsed, separator=", ", ignore_nulls=True)).to_series(),
        "first_author": author_name[0],
        "keywords": pl.select(pl.concat_str(keywords, separator=", ", ignore_nulls=True)).to_series(),
        "submitted": submitted,
        "published": published,
        "list_day": list_day,
        "upvotes": take["upvotes"] + upvote_bump,
        "comments": take["comments"],
        "github": pl.Series(take["github"]),
        "repo": pl.Series([f"https://github.com/{o}/{n}" for o, n in zip(
            np.array(vocab.GITHUB_ORGS)[take["org"]], np.array(_NAMES)[take["repo_name"]])]),
        "project_page": pl.Series(take["project_page"]),
        "submitter": _gather(people["name"], take["submitter"]),
        "hex": pl.Series(take["hex"]).cast(pl.UInt64),
        "object_id": pl.Series([f"{x:024x}" for x in take["hex"].tolist()]),
        "categories": pl.Series(np.array(_CATEGORIES)[take["categories"]]),
    })
    return frame


def _hf_items(frame: pl.DataFrame) -> pl.DataFrame:
    """One HF daily-papers API item (JSON text) per row, with its list date."""
    list_date = pl.lit(START) + pl.duration(days=pl.col("list_day"))
    sub = pl.col("submitted").dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
    pub = pl.col("published").dt.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    eastern = (pl.col("published") - pl.duration(hours=pl.when(pl.col("published").dt.month().is_between(4, 10)).then(4).otherwise(5)))
    item_pub = pl.when(list_date >= vocab.EASTERN_PUBLISHED_AT_SINCE).then(
        eastern.dt.strftime("%Y-%m-%dT%H:%M:%S.000Z")).otherwise(sub)
    hexid = pl.col("object_id")
    optional = pl.concat_str([
        pl.when(pl.col("github")).then(_fmt(', "githubRepo": "{}"', "repo")),
        pl.when(pl.col("project_page")).then(_fmt(', "projectPage": "https://{}.github.io/"', pl.col("id").str.replace(".", "-", literal=True))),
        pl.when(list_date >= vocab.AI_KEYWORDS_SINCE).then(_fmt(', "ai_keywords": [{}]', "keywords")),
    ], ignore_nulls=True)
    item = _fmt(
        '{"paper": {"id": "{}", "authors": [{}], "publishedAt": "{}", "submittedOnDailyAt": "{}", '
        '"title": "{}", "summary": "{}", "upvotes": {}, "discussionId": "{}"{}}, '
        '"publishedAt": "{}", "title": "{}", "summary": "{}", '
        '"thumbnail": "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{}.png", '
        '"numComments": {}, "submittedBy": {"_id": "{}", "fullname": "{}", "user": "user{}", "type": "user"}, '
        '"isAuthorParticipating": {}}',
        "id", "authors_hf", pub, sub, "title", "abstract", "upvotes", hexid, optional,
        item_pub, "title", "abstract", "id", "comments", hexid, "submitter", pl.col("hex") % 100_000,
        pl.when(pl.col("hex") % 4 == 0).then(pl.lit("true")).otherwise(pl.lit("false")),
    )
    return frame.select(list_date=list_date.dt.strftime("%Y-%m-%d"), item=item)


def _arxiv_lines(frame: pl.DataFrame) -> pl.Series:
    """arXiv metadata snapshot lines (Kaggle JSON Lines) for first listings."""
    created = pl.col("published").dt.strftime("%a, %-d %b %Y %H:%M:%S GMT")
    # arXiv wraps abstracts near 80 columns and indents them by two spaces.
    wrapped = pl.concat_str([pl.lit("  "), pl.col("abstract").str.replace_all(r"(.{60,78}?) ", "${1}\\n"), pl.lit("\\n")])
    return frame.select(_fmt(
        '{"id":"{}","submitter":"{}","authors":"{}","title":"{}","comments":"{} pages, {} figures",'
        '"journal-ref":null,"doi":null,"report-no":null,"categories":"{}",'
        '"license":"http://arxiv.org/licenses/nonexclusive-distrib/1.0/","abstract":"{}",'
        '"versions":[{"version":"v1","created":"{}"}],"update_date":"{}","authors_parsed":[{}]}',
        "id", pl.col("first_author").fill_null("Anonymous"), "authors_arxiv", "title",
        8 + pl.col("hex") % 30, pl.col("hex") % 12, "categories", wrapped, created,
        pl.col("published").dt.strftime("%Y-%m-%d"), "authors_parsed",
    )).to_series()


def generate(folder: Path, size: int, seed: int = 7, arxiv: bool = True, first: dt.date = START, last: dt.date = END) -> dict:
    """Write a corpus of `size` papers under `folder` (hf/, arxiv/, truth.json); returns the manifest.

    Papers are first listed between `first` and `last` (default 2018 to 2025, about 34 papers a
    day at 100k, 920 at 2.7M). Reuses an existing corpus made with the same arguments.
    """
    folder = Path(folder)
    manifest_path = folder / "manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        same = (manifest.get("size"), manifest.get("seed"), manifest.get("range")) == (size, seed, [first.isoformat(), last.isoformat()])
        if same and (manifest.get("arxiv") or not arxiv):
            return manifest
    started = time.monotonic()
    sentences, titles = _pools()
    people = _people()
    papers = _papers(size, seed, sentences, titles, first, last)
    ids = _arxiv_ids(papers)
    truth = _truth(papers, sentences, titles)
    # Listing rows: every first listing, plus re-listings a few days later (same paper, new upvotes).
    relisted = np.flatnonzero(papers["relist_after"] > 0)
    rows = np.concatenate([np.arange(size), relisted])
    list_day = np.concatenate([papers["day"], papers["day"][relisted] + papers["relist_after"][relisted]])
    bump = np.concatenate([np.zeros(size, np.int32), np.full(len(relisted), 3, np.int32)])
    order = np.argsort(list_day, kind="stable")
    rows, list_day, bump = rows[order], list_day[order], bump[order]

    hf_dir, arxiv_dir = folder / "hf", folder / "arxiv"
    hf_dir.mkdir(parents=True, exist_ok=True)
    arxiv_dir.mkdir(parents=True, exist_ok=True)
    hf_bytes = arxiv_bytes = files = 0
    carry = None  # the last (possibly incomplete) day of a batch moves to the next batch
    with (arxiv_dir / "snapshot.jsonl").open("w", encoding="utf-8") as snapshot:
        for begin in range(0, len(rows), CHUNK_PAPERS):
            end = min(begin + CHUNK_PAPERS, len(rows))
            frame = _chunk_frame(papers, rows[begin:end], list_day[begin:end], bump[begin:end], ids, sentences, titles, people)
            if arxiv:
                lines = _arxiv_lines(frame.filter(pl.Series(bump[begin:end] == 0)))
                text = "\n".join(lines.to_list()) + "\n"
                snapshot.write(text)
                arxiv_bytes += len(text.encode("utf-8"))
            items = _hf_items(frame)
            if carry is not None:
                items = pl.concat([carry, items])
            open_date = items["list_date"][-1]
            carry = items.filter(pl.col("list_date") == open_date) if end < len(rows) else None
            complete = items.filter(pl.col("list_date") != open_date) if end < len(rows) else items
            for (date,), day_items in complete.group_by("list_date", maintain_order=True):
                body = "[\n" + ",\n".join(day_items["item"].to_list()) + "\n]\n"
                data = body.encode("utf-8")
                (hf_dir / f"{date}.json").write_bytes(data)
                hf_bytes += len(data)
                files += 1
    manifest = {
        "size": size, "seed": seed, "arxiv": arxiv, "range": [first.isoformat(), last.isoformat()], "papers": size, "listing_rows": int(len(rows)),
        "relisted": int(len(relisted)), "hf_files": files, "hf_bytes": hf_bytes, "arxiv_bytes": arxiv_bytes,
        "first_date": first.isoformat(), "last_date": (START + dt.timedelta(days=int(list_day.max()))).isoformat(),
        "seconds": round(time.monotonic() - started, 2),
    }
    (folder / "truth.json").write_text(json.dumps(truth, indent=1))
    manifest_path.write_text(json.dumps(manifest, indent=1))
    return manifest


def new_day(folder: Path, list_date: dt.date, count: int = 50, seed: int = 7) -> Path:
    """One more daily-papers file of `count` new papers on `list_date` (ids in a month no corpus uses)."""
    sentences, titles = _pools()
    people = _people()
    papers = _papers(count, seed + list_date.toordinal(), sentences, titles)
    papers["day"] = np.full(count, (list_date - START).days, np.int32)
    papers["lag"] = np.zeros(count, np.int64)
    ids = pl.Series([f"99{list_date.month:02d}.{list_date.day:02d}{i:03d}" for i in range(count)])
    frame = _chunk_frame(papers, np.arange(count), papers["day"], np.zeros(count, np.int32), ids, sentences, titles, people)
    items = _hf_items(frame)
    path = Path(folder) / f"{list_date.isoformat()}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[\n" + ",\n".join(items["item"].to_list()) + "\n]\n", encoding="utf-8")
    return path


if __name__ == "__main__":
    import sys

    print(json.dumps(generate(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 7), indent=1))
