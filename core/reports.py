"""The report of one run: counts stage by stage, failures and warnings; every layer above fills or reads it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class RunReport:
    """What one ingestion run did, stage by stage."""

    run_id: int
    flow: str
    inputs: int = 0
    items_in: int = 0
    items_loaded: int = 0
    items_quarantined: int = 0
    listings_new: int = 0
    listings_changed: int = 0
    papers_new: int = 0
    papers_changed: int = 0
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # information, e.g. lists served from the archive
    seconds: float = 0.0
    stages: list[dict] = field(default_factory=list)  # {stage, items, seconds, detail}, in order
    started: float = field(default_factory=time.monotonic)
    interrupted: bool = False  # stopped by Ctrl-C or SIGTERM

    def stage(self, name: str, since: float, items: int | None = None, detail: str | None = None) -> float:
        """Record a finished stage that began at monotonic time `since`; returns now."""
        now = time.monotonic()
        self.stages.append({"stage": name, "items": items, "seconds": now - since, "detail": detail})
        return now

    @property
    def status(self) -> str:
        if self.interrupted:
            return "interrupted"
        if self.items_loaded == 0 and (self.failures or self.items_quarantined):
            return "failed"
        return "partial" if self.failures else "completed"

    def counts(self) -> dict[str, int]:
        names = (
            "inputs", "items_in", "items_loaded", "items_quarantined",
            "listings_new", "listings_changed", "papers_new", "papers_changed",
        )
        return {name: getattr(self, name) for name in names}

    def summary(self) -> str:
        """A few lines for people: counts per stage, then failures and warnings."""
        lines = [
            f"run {self.run_id} ({self.flow}) {self.status} in {self.seconds:.1f}s: "
            f"{self.inputs} inputs, {self.items_in} items in = {self.items_loaded} loaded + "
            f"{self.items_quarantined} quarantined",
            f"warehouse: {self.listings_new} new listings, {self.listings_changed} changed; "
            f"{self.papers_new} new papers, {self.papers_changed} changed",
        ]
        lines += [f"failed: {f}" for f in self.failures]
        lines += [f"warning: {w}" for w in self.warnings]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


@dataclass
class ArxivRunReport(RunReport):
    """A RunReport that also counts pages and OAI deleted records."""

    pages: int = 0
    deleted_marked: int = 0
    deleted_in: int = 0

    def summary(self) -> str:
        """The RunReport summary plus the arXiv-only counts."""
        lines = super().summary().splitlines()
        extra = f"arXiv: {self.pages} page(s) or batch(es)"
        if self.deleted_in:
            extra += f"; {self.deleted_in} deleted records ({self.deleted_marked} newly marked in arxiv_deleted)"
        return "\n".join(lines[:2] + [extra] + lines[2:])
