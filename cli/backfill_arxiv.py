"""`papertrends backfill --source arxiv`: an OAI-PMH harvest of a date range (kept out of main.py)."""

from __future__ import annotations

from ..core.settings import Settings


def backfill_arxiv_command(args, settings: Settings) -> int:
    """Run flows.backfill.backfill_arxiv for --since/--until; print its summary; 1 when it failed.

    Problems with the arguments raise ValueError, which the CLI prints as one line.
    """
    if args.since is None:
        raise ValueError("give --since DATE (arXiv backfills are OAI-PMH harvests of a date range)")
    if args.retry_failed:
        raise ValueError("--retry-failed is for --source hf; an arXiv backfill resumes by running it again")
    if args.until and args.until < args.since:
        raise ValueError(f"--until {args.until} is before --since {args.since}")
    from ..flows.backfill import backfill_arxiv

    report = backfill_arxiv(
        since=args.since.isoformat(), until=args.until.isoformat() if args.until else None,
        set_spec=getattr(args, "set_spec", None), home=str(settings.home), base_url=args.base_url,
        refresh=args.refresh,
    )
    print(report.summary())
    return 1 if report.failures else 0
