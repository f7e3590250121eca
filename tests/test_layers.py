"""The layers import one way only: each layer folder may import the layers listed for it, no other.

    core -> transforms -> sources, warehouse -> pipeline -> flows -> devkit -> cli
    api (the `papertrends` package itself) reads through core, transforms and warehouse only.
    explorer (the local web app) reads through the api; cli may start it.

Relative imports (`from ..warehouse import loads`) and absolute ones (`papertrends.warehouse`) both
count, at any depth of a module (lazy imports inside functions too).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BELOW = {
    "core": set(),
    "transforms": {"core"},
    "sources": {"core", "transforms"},
    "warehouse": {"core", "transforms"},
    "pipeline": {"core", "transforms", "sources", "warehouse"},
    "flows": {"core", "transforms", "sources", "warehouse", "pipeline"},
    "devkit": {"core", "transforms", "sources", "warehouse", "pipeline", "flows"},
    "cli": {"core", "transforms", "sources", "warehouse", "pipeline", "flows", "devkit", "api", "explorer"},
    "api": {"core", "transforms", "warehouse"},
    "explorer": {"core", "transforms", "warehouse", "api"},
}
# Packages a pure layer must never import (style.md: transforms are Polars in, Polars out).
FORBIDDEN_THIRD_PARTY = {"transforms": {"prefect", "duckdb", "httpx"}, "warehouse": {"prefect", "httpx"}, "explorer": {"prefect"}}


def imported_layers(path: Path, layer: str) -> list[tuple[int, str]]:
    """(line, layer or top-level package) for every import in one module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.ImportFrom):
            # Layer modules sit one folder below the package root: `.x` is this layer, `..x` another
            # one; the api folder is the package root itself, so there `.x` is layer x.
            if node.level == 1 and layer != "api":
                names = [f"papertrends.{layer}"]
            else:
                names = [f"papertrends.{node.module}" if node.module else "papertrends"]
                if not node.module:
                    # `from .. import PaperTrends` takes a name of the package root (api), not a layer.
                    names = [f"papertrends.{alias.name}" if alias.name in BELOW else "papertrends"
                             for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "papertrends":
                found.append((node.lineno, parts[1] if len(parts) > 1 else "api"))
            elif parts[0] in BELOW:
                found.append((node.lineno, f"top-level {parts[0]}"))  # the pre-namespace spelling
            else:
                found.append((node.lineno, f"third-party {parts[0]}"))
    return found


def modules():
    for layer in BELOW:
        folder = REPO / layer
        for path in sorted(folder.glob("*.py")):
            yield layer, path


def test_every_layer_folder_exists_and_is_a_package():
    for layer in BELOW:
        assert (REPO / layer / "__init__.py").is_file(), layer


@pytest.mark.parametrize("layer,path", list(modules()), ids=lambda v: str(v.relative_to(REPO)) if isinstance(v, Path) else v)
def test_imports_point_down(layer, path):
    allowed = BELOW[layer] | {layer}
    wrong = []
    for line, target in imported_layers(path, layer):
        if target.startswith("top-level "):
            wrong.append(f"line {line}: imports {target[10:]} outside the papertrends namespace")
        elif target.startswith("third-party "):
            if target[12:] in FORBIDDEN_THIRD_PARTY.get(layer, ()):
                wrong.append(f"line {line}: {layer} must not import {target[12:]}")
        elif target not in allowed:
            wrong.append(f"line {line}: {layer} imports {target}, a layer above it")
    assert not wrong, f"{path.relative_to(REPO)}:\n" + "\n".join(wrong)


def test_the_checker_sees_a_wrong_import(tmp_path):
    module = tmp_path / "bad.py"
    module.write_text("from ..flows.ingest import ingest_files\nimport duckdb\n\ndef f():\n    from ..cli import output\n")
    assert [t for _, t in imported_layers(module, "warehouse")] == ["flows", "third-party duckdb", "cli"]
