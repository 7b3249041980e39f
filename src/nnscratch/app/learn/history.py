"""The workspace's git history: one commit a stage, the first time it passes.

Where git is installed, :func:`begin` makes a new workspace a repository and commits
the stubs; :func:`commit_stage` commits one stage's file — only that file, whatever
else is changed or staged — under the stage's name, the first time its check passes,
so the learner ends with the history the original project was built with. A failing
stage is never committed; the learner's own commits are never touched (nothing is
amended, reset or rebased). Without git, or in a folder that is no repository, the
course goes on without a history and says so once.

The learner's own name and e-mail are used where git knows them; otherwise the
commits are signed "nnscratch learner". Hooks and commit signing are skipped for
these commits (they are the course's, not the learner's release).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from nnscratch.app.learn.exercise import Stage

FALLBACK_NAME, FALLBACK_EMAIL = "nnscratch learner", "learner@nnscratch.invalid"


def available() -> bool:
    return shutil.which("git") is not None


def _git(folder: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(folder), *args], capture_output=True, text=True, check=check
    )


def is_repository(folder: Path) -> bool:
    """Whether ``folder`` is the top of a git work tree of its own."""
    return available() and (Path(folder) / ".git").exists()


def _identity(folder: Path) -> list[str]:
    """``-c user.name=… -c user.email=…`` where git has no identity for ``folder``."""
    options = ["-c", "commit.gpgsign=false"]
    for key, fallback in (("user.name", FALLBACK_NAME), ("user.email", FALLBACK_EMAIL)):
        if not _git(folder, "config", key, check=False).stdout.strip():
            options += ["-c", f"{key}={fallback}"]
    return options


def begin(folder: Path) -> str | None:
    """Make ``folder`` a repository with the stubs as its first commit; the commit's
    short hash, or None without git (or where ``folder`` is a repository already)."""
    if not available() or is_repository(folder):
        return None
    _git(folder, "init", "-q")
    _git(folder, "add", "-A")
    message = "Start the course: every stage as a stub (nnscratch learn start)"
    _git(folder, *_identity(folder), "commit", "-q", "--no-verify", "-m", message)
    return head(folder)


def head(folder: Path) -> str:
    return _git(folder, "rev-parse", "--short", "HEAD").stdout.strip()


def message(stage: Stage) -> str:
    return f"Stage {stage.number}: {stage.name} — {stage.title}"


def commit_stage(folder: Path, stage: Stage) -> str | None:
    """Commit ``stage``'s file alone under the stage's name; the short hash, or None
    where there is no repository. An unchanged file gets an empty commit, so the
    history still marks the stage."""
    if not is_repository(folder):
        return None
    _git(folder, "add", "--", stage.file)
    _git(
        folder,
        *_identity(folder),
        "commit",
        "-q",
        "--no-verify",
        "--allow-empty",
        "-m",
        message(stage),
        "--only",
        "--",
        stage.file,
    )
    return head(folder)


def log(folder: Path) -> list[str]:
    """The subjects of ``folder``'s commits, oldest first (empty without a repository)."""
    if not is_repository(folder):
        return []
    out = _git(folder, "log", "--reverse", "--format=%s", check=False).stdout
    return [line for line in out.splitlines() if line]
