"""The sandbox is a fake cloud, not part of Slipway: neither side imports the other."""

import ast
from pathlib import Path

from tests.conftest import ROOT

SLIPWAY = ("portal", "bundles", "deployments", "audit")
SANDBOX = ROOT / "portal" / "sandbox"


def imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def test_the_sandbox_imports_nothing_from_slipway():
    offending = {
        f"{path.relative_to(ROOT)}: {module}"
        for path in SANDBOX.rglob("*.py")
        for module in imported_modules(path)
        if module.split(".")[0] in SLIPWAY and not module.startswith("portal.sandbox")
    }
    assert not offending, sorted(offending)


def test_slipway_imports_nothing_from_the_sandbox():
    offending = {
        f"{path.relative_to(ROOT)}: {module}"
        for package in SLIPWAY
        for path in (ROOT / package).rglob("*.py")
        if SANDBOX not in path.parents
        for module in imported_modules(path)
        if module.startswith(("portal.sandbox", "sandbox"))
    }
    assert not offending, sorted(offending)
