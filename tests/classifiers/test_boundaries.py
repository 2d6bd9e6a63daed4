"""`classifiers` and `policies` stand alone: neither imports the other nor `gateway` (ARCHITECTURE.md)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _imported_top_levels(package: str) -> set[str]:
    names: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize(("package", "forbidden"), [
    ("classifiers", {"policies", "gateway", "generator", "watermark"}),
    ("policies", {"classifiers", "gateway", "generator", "watermark", "torch", "transformers"}),
])
def test_package_imports_stay_inside_their_lane(package, forbidden):
    assert not _imported_top_levels(package) & forbidden
