"""Prefect flows, tasks and deployments (the top layer that runs the pipeline).

Imported before Prefect starts a temporary local server for a flow called from Python (a notebook,
a benchmark): that server's telemetry would try to reach prefect.io, and papertrends never talks
to hosts it was not asked to. The CLI and the Makefile set the same default; an explicit value wins.
"""

import os

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
