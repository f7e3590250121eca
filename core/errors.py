"""Errors every layer may raise or catch, stated in one line for the user."""

from __future__ import annotations


class WarehouseError(RuntimeError):
    """A warehouse problem stated in one line for the user."""
