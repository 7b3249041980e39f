"""The course's one list of exercises, shared by the notebooks and ``nnscratch learn``.

:data:`STAGES` holds the stages in the course's order — data, initialisation,
activations, forward pass, loss, backpropagation, optimizers, training loop, softmax
(Part 2) and TabM — and :data:`EXERCISES` every exercise by number (``"4.1"``); both
are registries (:mod:`nnscratch.registry`) filled here from the stage modules of
:mod:`nnscratch.app.learn.stages`, as the lab's experiments are. A notebook's
exercise and a workspace's function are the same entry: there is no second list.

In a notebook, ``check("4.1", layer_forward)`` prints the outcome::

    ✗ Exercise 4.1 (one layer's forward pass): Z = W · A_prev + b: the bias b is missing

The reference answers are the package's tested code; no solution is written in the
package (the course's reference workspace is ``notebooks/answers/``, outside it).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from nnscratch.app.learn.exercise import Exercise, Stage, run
from nnscratch.app.learn.stages import (
    activations,
    backprop,
    data,
    forward,
    init,
    loss,
    optimizers,
    softmax,
    tabm,
    training,
)
from nnscratch.registry import Registry

#: Set (to anything) to make a wrong answer an error: how the notebooks run in CI.
STRICT = "NNSCRATCH_CHECK_STRICT"

STAGES: Registry[Stage] = Registry("stage")
EXERCISES: Registry[Exercise] = Registry("exercise")


def register(stage: Stage) -> Stage:
    """Add ``stage`` and its exercises (numbered ``<stage>.<k>``) to the registries."""
    for exercise in stage.exercises:
        if exercise.number.split(".")[0] != str(stage.number):
            raise ValueError(f"exercise {exercise.number} is not numbered for {stage.label}")
        EXERCISES.add(exercise, exercise.number)
    return STAGES.add(stage, stage.name)


for _module in (
    data,
    init,
    activations,
    forward,
    loss,
    backprop,
    optimizers,
    training,
    softmax,
    tabm,
):
    register(_module.STAGE)


def find_stage(name_or_number: str) -> Stage:
    """A stage by its name (``forward``), file (``forward.py``) or number (``4``)."""
    for stage in STAGES.values():
        if str(name_or_number) in (stage.name, str(stage.number), stage.file):
            return stage
    return STAGES.lookup(name_or_number)  # the ValueError that lists the names


def stage_of(exercise: Exercise) -> Stage:
    """The stage that holds ``exercise``."""
    return next(s for s in STAGES.values() if exercise in s.exercises)


def check(number: str, answer: Callable[..., Any]) -> bool:
    """Check the learner's ``answer`` to exercise ``number``; print ✓ or ✗ with a hint
    (with ``NNSCRATCH_CHECK_STRICT`` set, a wrong answer raises ``AssertionError``)."""
    outcome = run(EXERCISES.lookup(number), answer)
    said = outcome.render()
    print(said)
    if not outcome.passed and os.environ.get(STRICT):
        raise AssertionError(said)
    return outcome.passed
