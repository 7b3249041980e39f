"""Writing a benchmark's results: ``OUT.json`` (everything) and ``OUT.md`` (the table).

Both files are written atomically, so an interrupted run never leaves half a
result behind, and the table is printed as well.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nnscratch.files import atomic_write_text


def write_results(out: str | Path, report: dict[str, Any], table: str) -> None:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out.with_suffix(".json"), json.dumps(report, indent=2) + "\n")
    atomic_write_text(out.with_suffix(".md"), table)
    print()
    print(table)
