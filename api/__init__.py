"""papertrends: research trends from Hugging Face Daily Papers and arXiv listings.

The repository's layer folders are installed under this one namespace (pyproject.toml maps them):
papertrends.core, .transforms, .sources, .warehouse, .pipeline, .flows, .devkit, .cli.
"""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("papertrends")
except metadata.PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0+unknown"
