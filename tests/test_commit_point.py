"""One commit point: nothing in the product commits a transaction but item_bank.tx.

Views, the CLI, the server's helpers and the item bank's own modules change the database
through functions that run inside :func:`item_bank.tx.transaction`; a ``.commit()`` anywhere
else would be a second commit point, with its own idea of what a change is.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("cat_engine", "calibration", "item_bank", "server", "smartcat")
THE_COMMIT_POINT = ROOT / "item_bank" / "tx.py"


def _commits(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "commit"]


def test_only_item_bank_tx_commits():
    found = {str(path.relative_to(ROOT)): lines
             for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
             if path != THE_COMMIT_POINT and (lines := _commits(path))}
    assert found == {}
    assert _commits(THE_COMMIT_POINT)  # the check finds commits where there are some
