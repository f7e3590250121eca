"""Paper detail answers (/api/papers/{id}) from the raw archive to papers rows and upvote sightings."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ..sources.raw_archive import RawRecord
from ..transforms.hf_details import UPVOTE_HISTORY_SCHEMA, paper_detail_normalized
from ..transforms.papers import PAPER_COLUMNS


def details_normalized(landed: list[str]) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, list[str]]:
    """Papers rows, upvote sightings, the per-paper answer ledger and problems of detail landings."""
    papers, sightings, answers, problems = [], [], [], []
    for body_path in landed:
        body = Path(body_path)
        record = RawRecord.at(body)
        pid, status = record.meta["paper_id"], record.meta["status"]
        reason = None
        if status == 200:
            paper, seen, reason = paper_detail_normalized(
                record.read(), requested_id=pid, fetched_at=record.fetched_at,
                origin=record.meta["url"], raw_sha256=record.sha256,
            )
            if reason is None:
                papers.append(paper)
                sightings.append(seen)
        else:
            reason = f"HTTP {status}: " + record.read()[:200].decode("utf-8", errors="replace")
        if reason:
            problems.append(f"{pid}: {reason}")
        answers.append({"paper_id": pid, "status": status, "fetched_at": record.fetched_at,
                        "raw_sha256": record.sha256, "reason": reason})
    answer_schema = {"paper_id": pl.String(), "status": pl.Int32(), "fetched_at": pl.Datetime("us", "UTC"),
                     "raw_sha256": pl.String(), "reason": pl.String()}
    papers_frame = pl.concat(papers) if papers else pl.DataFrame()
    sightings_frame = pl.concat(sightings) if sightings else pl.DataFrame(schema=UPVOTE_HISTORY_SCHEMA)
    if papers_frame.height:
        papers_frame = papers_frame.select(PAPER_COLUMNS)
    return papers_frame, sightings_frame, pl.DataFrame(answers, schema=answer_schema), problems
