"""Which task handles some data, and which a model file: the registry of tasks.

Tasks are asked in the order they were added, a ``fallback`` task after all
the others; the first whose ``accepts`` says yes handles the data. Images come
first (a folder of digits is never a table); a table is classified when asked
(``--task classification``), else its number is predicted (the fallback). A new
kind of work is one module and one line here.
"""

from __future__ import annotations

import os
from typing import Any

from nnscratch.errors import DataError, ModelFileError
from nnscratch.models.ensemble import ENSEMBLES
from nnscratch.models.persistence import peek_metadata
from nnscratch.registry import Registry
from nnscratch.tasks.base import Task
from nnscratch.tasks.classification import TableClassification
from nnscratch.tasks.digits import Digits
from nnscratch.tasks.regression import TableRegression

TASKS: Registry[type[Task]] = Registry("task")
TASKS.add(Digits)
TASKS.add(TableClassification)
TASKS.add(TableRegression)


def task_for_data(
    source: str | None,
    requested: str | None = None,
    target: str | None = None,
    keep_inputs: tuple[str, ...] = (),
) -> Task:
    """The task for ``source`` (None: the built-in sample) when the user asked for
    ``requested`` (a ``--task`` name, or None), with its ``--target`` and the inputs the
    leakage guard must keep (``--keep-input``)."""
    if requested is not None:
        TASKS.lookup(requested)  # an unknown name lists the choices
    for task in sorted(TASKS.values(), key=lambda task: task.fallback):  # a stable sort
        if task.accepts(source, requested):
            return task(target, keep_inputs)
    raise DataError(f"{source}: no task handles this data as {requested!r}")


def load_model(path: str | os.PathLike[str]) -> Any:
    """The fitted model in ``path``, as the task that trained it reads it (an ensemble of
    its models where the file holds one: :mod:`nnscratch.models.ensemble`)."""
    metadata = peek_metadata(path)
    for task in TASKS.values():
        if task.owns_model(metadata):
            if "ensemble" in metadata:
                return ensemble_type(task.model_type, path).load(path)
            return task.model_type.load(path)
    raise ModelFileError(f"{path}: a {metadata.get('task')!r} model; no task reads it")


def ensemble_type(model_type: Any, path: str | os.PathLike[str]) -> Any:
    """The ensemble of ``model_type``'s models; :class:`ModelFileError` where it has none."""
    if model_type not in ENSEMBLES:
        raise ModelFileError(f"{path}: an ensemble of {model_type.__name__}s, which none reads")
    return ENSEMBLES[model_type]
