"""The notebooks' link to the course: reference answers on request, and your workspace.

* ``fill(function)`` returns your ``function`` unchanged — or, with
  ``NNSCRATCH_SOLUTIONS=1`` (how CI runs every notebook), the reference answer of the
  same name from ``answers/``, the course's filled-in workspace. Read those after trying.
* ``yours("forward", "backward")`` returns the functions of those names from your course
  workspace — ``../mynet/`` (what ``make lab`` and ``nnscratch learn start`` write), or the
  folder ``NNSCRATCH_WORKSPACE`` names — for the notebooks that build on earlier ones
  (with ``NNSCRATCH_SOLUTIONS=1``, from ``answers/``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nnscratch.app.learn.workspace import functions

HERE = Path(__file__).resolve().parent
ANSWERS = HERE / "answers"
WORKSPACE = Path(os.environ.get("NNSCRATCH_WORKSPACE", HERE.parent / "mynet"))


def fill(function: Callable[..., Any]) -> Callable[..., Any]:
    """Your ``function``, or the reference answer of its name with ``NNSCRATCH_SOLUTIONS``."""
    if os.environ.get("NNSCRATCH_SOLUTIONS"):
        return functions(ANSWERS, [function.__name__])[function.__name__]
    return function


def yours(*names: str) -> Any:
    """Your functions ``names`` from your workspace (one function, or a tuple in order)."""
    folder = ANSWERS if os.environ.get("NNSCRATCH_SOLUTIONS") else WORKSPACE
    if not folder.is_dir():
        raise FileNotFoundError(
            f"no course workspace at {folder}: this notebook trains the functions you wrote in "
            "the notebooks before it. Run `nnscratch learn start mynet` in the repository "
            "(make lab does), put your functions in its files (`nnscratch learn check` "
            "checks them there), and run this cell again"
        )
    found = functions(folder, list(names))
    return found[names[0]] if len(names) == 1 else tuple(found[name] for name in names)
