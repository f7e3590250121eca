"""Placeholder; replaced below."""


def use_shared_server() -> None:
    return None
