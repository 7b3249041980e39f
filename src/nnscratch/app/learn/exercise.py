"""One exercise and one stage of the course, and what checking an answer finds.

A :class:`Stage` is one file of a learner's workspace (``forward.py``) and one
notebook (``04_forward``); its :class:`Exercise` entries are the functions the file
holds, each with the stub the workspace starts from (signature, and a docstring with
the math and the shapes) and a check.

A check is ``check(answer) → hint or None``: it calls the learner's function through
an :class:`~nnscratch.app.learn.checking.Answer` on seeded inputs and compares what
comes back with the package's own code (or a finite difference), naming the mistake
it recognises. :func:`run` turns what happens into an :class:`Outcome` — passed, not
written yet, wrong (the hint), the learner's code raised (their file and line), or the
checker itself failed (a bug in the package, said so, never blamed on the learner).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nnscratch.app.learn.checking import (
    Answer,
    LearnerRaised,
    Mistake,
    NotWritten,
    describe_raised,
    summary,
)

#: A check: the learner's function (called through an Answer) → the hint, or None.
Check = Callable[[Answer], str | None]


@dataclass(frozen=True)
class Exercise:
    """One function to write: ``number`` (``"4.1"``), the function's ``name``, a
    ``title``, the stub's ``signature`` and ``doc``, the ``check``, the exercise's arrays
    in words (``shapes``, for the sentence a NumPy shape error gets), and whether the
    function must leave its inputs as they were (``keeps_inputs``)."""

    number: str
    name: str
    title: str
    signature: str
    doc: str
    check: Check
    shapes: str = ""
    #: False where the function may change its inputs (a loop updating its weights)
    keeps_inputs: bool = True


@dataclass(frozen=True)
class Stage:
    """One stage: the workspace file ``<name>.py`` and its notebook. ``intro`` is the
    file's docstring, ``imports`` its first lines (the earlier stages it builds on),
    ``docs`` the page that explains it."""

    number: int
    name: str
    title: str
    intro: str
    imports: tuple[str, ...]
    exercises: tuple[Exercise, ...]
    docs: str

    @property
    def file(self) -> str:
        return f"{self.name}.py"

    @property
    def label(self) -> str:
        return f"stage {self.number}, {self.name} ({self.title})"


@dataclass(frozen=True)
class Outcome:
    """What checking one exercise found. ``status``: ``passed``, ``not_written``,
    ``wrong`` (``message`` is the hint), ``raised`` (the learner's code raised: where,
    and why) or ``checker`` (the check itself failed: a bug in nnscratch)."""

    exercise: Exercise
    status: str
    message: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def render(self) -> str:
        """``✓ Exercise 4.1 (title)``, or ``✗ …: the hint`` (continued lines indented)."""
        mark = {"passed": "✓", "checker": "!"}.get(self.status, "✗")
        head = f"{mark} Exercise {self.exercise.number} ({self.exercise.title})"
        if self.passed:
            return head
        first, *rest = self.message.splitlines() or [""]
        return "\n".join([f"{head}: {first}", *(f"  {line}" for line in rest)])


def run(exercise: Exercise, function: Callable[..., Any]) -> Outcome:
    """Check ``function`` as the answer to ``exercise``."""
    answer = Answer(function, exercise.name, keeps_inputs=exercise.keeps_inputs)
    try:
        problem = exercise.check(answer)
    except NotWritten as unwritten:
        return Outcome(exercise, "not_written", f"not written yet: {unwritten.where}")
    except Mistake as mistake:
        return Outcome(exercise, "wrong", str(mistake))
    except LearnerRaised as raised:
        return Outcome(exercise, "raised", describe_raised(raised, exercise.shapes))
    except Exception as exc:  # the check's own failure: not the learner's
        return Outcome(exercise, "checker", checker_failed(exc))
    if problem is None:
        return Outcome(exercise, "passed")
    return Outcome(exercise, "wrong", problem)


def checker_failed(exc: BaseException) -> str:
    """What a learner is told when a check raised on its own."""
    return (
        "the checker itself failed — a bug in nnscratch, not in your code "
        f"({summary(exc)}); please report it"
    )
