"""Checking a workspace, stage by stage, as rustlings checks its exercises.

:func:`check` loads the learner's stage files afresh and checks them in the course's
order, stopping at the first stage that fails, with one hint: every exercise of a
stage is checked (so a stage whose functions are all stubs reads "not started"), but
only the first that fails is shown. Each result is recorded in the workspace's
progress file, and a stage that passes for the first time — with every stage before it
passed — is committed to the workspace's git history under its name.

A :class:`Report` renders what a learner reads, and its exit code: 0 when every stage
checked passes, 1 when one fails, 3 when a check itself failed (a bug in nnscratch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nnscratch.app.learn import history
from nnscratch.app.learn.exercise import Outcome, Stage, run
from nnscratch.app.learn.exercises import STAGES
from nnscratch.app.learn.progress import Progress
from nnscratch.app.learn.workspace import LoadError, Workspace


@dataclass
class StageResult:
    """One stage's check: its exercises' outcomes (all of them), or why it did not load."""

    stage: Stage
    outcomes: list[Outcome] = field(default_factory=list)
    load_error: str | None = None
    committed: str | None = None

    @property
    def status(self) -> str:
        """``passed``, ``failing`` or ``not_started`` (every function still a stub)."""
        if self.load_error is None and all(o.passed for o in self.outcomes):
            return "passed"
        if self.outcomes and all(o.status == "not_written" for o in self.outcomes):
            return "not_started"
        return "failing"

    @property
    def checker_failed(self) -> bool:
        return any(o.status == "checker" for o in self.outcomes)

    @property
    def first_failure(self) -> Outcome | None:
        return next((o for o in self.outcomes if not o.passed), None)

    @property
    def hint(self) -> str:
        failure = self.first_failure
        return self.load_error or (failure.render() if failure else "")

    def render(self) -> str:
        stage = self.stage
        if self.status == "passed":
            done = f" — committed {self.committed}" if self.committed else ""
            return f"✓ {stage.label}{done}"
        lines = [f"✗ {stage.label}: {stage.file}"]
        if self.load_error:
            return "\n".join(lines + [f"  {line}" for line in self.load_error.splitlines()])
        for outcome in self.outcomes:
            lines += [f"  {line}" for line in outcome.render().splitlines()]
            if not outcome.passed:
                break
        return "\n".join(lines)


@dataclass
class Report:
    """A check of a workspace: the stages checked, in order, up to the first failing."""

    folder: Path
    results: list[StageResult]
    passed_before: int
    note: str = ""

    @property
    def failed(self) -> StageResult | None:
        return next((r for r in self.results if r.status != "passed"), None)

    @property
    def exit_code(self) -> int:
        failed = self.failed
        if failed is None:
            return 0
        return 3 if failed.checker_failed else 1

    def render(self) -> str:
        lines = [r.render() for r in self.results]
        progress = Progress.read(Workspace(self.folder).state)
        passed = sum(progress.status(s) == "passed" for s in STAGES)
        lines.append("")
        lines.append(f"{bar(passed, len(STAGES))} {passed} of {len(STAGES)} stages pass")
        failed = self.failed
        if failed is not None and failed.checker_failed:
            lines.append("The checker failed, not your code: please report it.")
        elif failed is not None:
            lines.append(
                f"Next: {failed.stage.file}, then nnscratch learn check again "
                "(or nnscratch learn watch, which checks on every save)."
            )
        if self.note:
            lines.append(self.note)
        return "\n".join(lines)


def bar(done: int, total: int, width: int = 20) -> str:
    filled = round(width * done / total) if total else 0
    return "[" + "█" * filled + "·" * (width - filled) + "]"


def check_stage(workspace: Workspace, stage: Stage) -> StageResult:
    """Every exercise of ``stage`` against the learner's functions (in an importable
    ``workspace``)."""
    result = StageResult(stage)
    for exercise in stage.exercises:
        try:
            function = workspace.function(stage, exercise.name)
        except LoadError as error:
            result.load_error = str(error)
            return result
        result.outcomes.append(run(exercise, function))
    return result


def check(folder: Path, stages: Sequence[Stage] | None = None) -> Report:
    """Check ``stages`` (default: all) in order, stopping at the first that fails;
    record every result, and commit the stages passed for the first time."""
    workspace = Workspace(folder)
    progress = Progress.read(workspace.state)
    passed_before = sum(progress.status(s) == "passed" for s in STAGES)
    results: list[StageResult] = []
    with workspace.importable():
        for stage in stages if stages is not None else list(STAGES.values()):
            result = check_stage(workspace, stage)
            results.append(result)
            first_time = progress.record(stage.name, result.status, result.hint)
            if result.status != "passed":
                break
            if first_time or progress.stages[stage.name].committed is None:
                result.committed = commit_if_due(workspace, stage, progress)
    progress.write()
    note = "" if history.is_repository(workspace.folder) else no_history_note()
    return Report(workspace.folder, results, passed_before, note)


def commit_if_due(workspace: Workspace, stage: Stage, progress: Progress) -> str | None:
    """Commit ``stage`` where every stage up to it has passed and it has no commit yet
    (so the history holds one commit a stage, in the course's order)."""
    order = list(STAGES)
    earlier = order[: order.index(stage.name)]
    if any(progress.status(name) != "passed" for name in earlier):
        return None
    if any(progress.stages[name].committed is None for name in earlier):
        return None
    if history.message(stage) in history.log(workspace.folder):
        progress.stages[stage.name].committed = "earlier"
        return None
    committed = history.commit_stage(workspace.folder, stage)
    progress.stages[stage.name].committed = committed
    return committed


def no_history_note() -> str:
    if not history.available():
        return "(git is not installed: the stages are not committed as they pass)"
    return "(this workspace is not a git repository: the stages are not committed)"


def status(folder: Path) -> str:
    """Every stage ✓ / ✗ / · (not started) as the last check left it, with its hint."""
    progress = Progress.read(Workspace(folder).state)
    marks = {"passed": "✓", "failing": "✗", "not_started": "·", "unchecked": "·"}
    lines = []
    for stage in STAGES.values():
        state = progress.status(stage.name)
        said = {"not_started": "not started", "unchecked": "not started"}.get(state, state)
        lines.append(f"{marks[state]} {stage.number:>2} {stage.name:<12} {said:<12} {stage.title}")
        record = progress.stages.get(stage.name)
        if state == "failing" and record is not None and record.hint:
            lines.append(f"     {record.hint.splitlines()[0]}")
    passed = sum(progress.status(s) == "passed" for s in STAGES)
    lines += ["", f"{bar(passed, len(STAGES))} {passed} of {len(STAGES)} stages pass"]
    return "\n".join(lines)
