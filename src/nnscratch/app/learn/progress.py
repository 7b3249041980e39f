"""Where a learner stands: each stage's last check, kept in the workspace.

``.nnscratch/progress.json`` records, per stage, the status of its last check —
``passed``, ``failing`` (with the hint it got) or ``not_started`` (every function still
a stub) — when it was checked, and when it first passed. ``nnscratch learn status``
reads it; every check writes it (atomically: a check stopped half-way loses nothing).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from nnscratch.files import atomic_write_text

FILE = "progress.json"
STATUSES = ("passed", "failing", "not_started")


@dataclass
class StageRecord:
    """One stage's last check."""

    status: str
    checked: str
    first_passed: str | None = None
    hint: str = ""
    committed: str | None = None


@dataclass
class Progress:
    """Every stage's :class:`StageRecord` by name, read from and written to ``folder``."""

    folder: Path
    stages: dict[str, StageRecord] = field(default_factory=dict)

    @classmethod
    def read(cls, state_folder: Path) -> Progress:
        path = Path(state_folder) / FILE
        progress = cls(Path(state_folder))
        try:
            raw: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError):
            return progress  # no checks yet (or a file mangled by hand: start afresh)
        for name, record in raw.get("stages", {}).items():
            if isinstance(record, dict) and record.get("status") in STATUSES:
                known = {k: record[k] for k in StageRecord.__dataclass_fields__ if k in record}
                progress.stages[name] = StageRecord(**known)
        return progress

    def write(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        payload = {"stages": {name: asdict(r) for name, r in self.stages.items()}}
        atomic_write_text(self.folder / FILE, json.dumps(payload, indent=2) + "\n")

    def record(self, stage: str, status: str, hint: str = "") -> bool:
        """Record a check of ``stage``; True when it passed for the first time."""
        now = datetime.now().isoformat(timespec="seconds")
        old = self.stages.get(stage)
        first = old.first_passed if old else None
        newly = status == "passed" and first is None
        self.stages[stage] = StageRecord(
            status,
            now,
            first_passed=now if newly else first,
            hint=hint,
            committed=old.committed if old else None,
        )
        return newly

    def status(self, stage: str) -> str:
        """``passed``, ``failing``, ``not_started``, or ``unchecked``."""
        record = self.stages.get(stage)
        return record.status if record else "unchecked"
