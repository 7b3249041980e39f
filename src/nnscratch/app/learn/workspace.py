"""A learner's workspace: the folder ``nnscratch learn start`` writes, one file a stage.

``mynet/`` holds ``data.py``, ``init.py``, … ``tabm.py`` (the stages of
:data:`nnscratch.app.learn.exercises.STAGES`, in order), each written from the
registry as stubs — the signature, a docstring with the math and the shapes, and
``raise NotImplementedError`` — plus a README and ``.nnscratch/`` (the marker and the
progress file, which git ignores). A stage file imports the earlier stages it builds
on by their plain names (``from activations import relu``), so the learner can run
and import them as ordinary Python.

:func:`start` never overwrites a file: on an existing workspace it adds only the stage
files that are missing, and says which. :class:`Workspace` loads the learner's
modules afresh from their source every time (a loader that never reads a cached
``.pyc``, so an edit made within the same second is seen), shadowing any module of the
same name for as long as the functions are in use.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import sys
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any

from nnscratch.app.learn.checking import LearnerRaised, describe_raised, learner_frame
from nnscratch.app.learn.exercise import Stage
from nnscratch.app.learn.exercises import STAGES
from nnscratch.errors import DataError
from nnscratch.files import atomic_write_text

#: The workspace's own folder: the marker and the progress file (git ignores it).
STATE = ".nnscratch"
MARKER = "course.json"
DEFAULT = Path("mynet")


def notebook_of(stage: Stage) -> str:
    return f"notebooks/{stage.number:02d}_{stage.name}.py"


def stub(stage: Stage) -> str:
    """The text of ``stage``'s file in a fresh workspace."""
    docstring = (
        f"{stage.intro}\n\nDocs: docs/{stage.docs} · notebook: {notebook_of(stage)}\n"
        f"Check: nnscratch learn check {stage.name} (or nnscratch learn watch)\n"
    )
    parts = [f'"""{docstring}"""\n', "\n".join(stage.imports), ""]
    for exercise in stage.exercises:
        doc = f"Exercise {exercise.number} — {exercise.title}.\n\n{exercise.doc}\n"
        parts += [
            "",
            definition(exercise.name, exercise.signature),
            textwrap.indent(f'"""{doc}"""', "    "),
            "    raise NotImplementedError  # your code here",
            "",
        ]
    return "\n".join(parts)


def definition(name: str, signature: str, width: int = 88) -> str:
    """``def name(signature):``, its parameters one a line where it is wider than ``width``
    (as ``ruff format`` lays it out)."""
    line = f"def {name}{signature}:"
    if len(line) <= width:
        return line
    inside, returns = signature[1:].rsplit(")", 1)
    parameters, depth, current = [], 0, ""
    for char in inside:
        depth += char in "([{"
        depth -= char in ")]}"
        if char == "," and depth == 0:
            parameters.append(current.strip())
            current = ""
        else:
            current += char
    parameters.append(current.strip())
    body = "".join(f"    {p},\n" for p in parameters if p)
    return f"def {name}(\n{body}){returns}:"


def readme(stages: Sequence[Stage]) -> str:
    rows = "\n".join(
        f"| {s.number} | `{s.file}` | {s.title} | "
        + ", ".join(f"{e.number} `{e.name}`" for e in s.exercises)
        + " |"
        for s in stages
    )
    return f"""# Your network, stage by stage

Fill in each file in this order; `nnscratch learn check` checks them in order and
stops at the first that fails, with one hint; `nnscratch learn watch` checks again on
every save; `nnscratch learn status` shows where you are. Each stage that passes for
the first time is committed to this folder's git history under its name.

| stage | file | what | exercises |
|---|---|---|---|
{rows}

After stage 8, `nnscratch learn train` trains *your* network on the Spotify sample
beside the package's engine; after stage 9, `nnscratch learn train --data digits` on
handwritten digits. `nnscratch playground --engine .` trains it live in a page.
"""


GITIGNORE = f"{STATE}/\n__pycache__/\n*.pyc\n.ipynb_checkpoints/\n"


@dataclass(frozen=True)
class Started:
    """What :func:`start` did: the files written, and those already there (untouched)."""

    folder: Path
    written: list[str]
    kept: list[str]


def start(folder: Path) -> Started:
    """Write a fresh workspace in ``folder``, or the stage files an existing one lacks.

    A folder that exists, is not empty and is no workspace is refused (a
    :class:`~nnscratch.errors.DataError` naming a file in it); no file is ever
    overwritten.
    """
    folder = Path(folder)
    marker = folder / STATE / MARKER
    if folder.exists() and not folder.is_dir():
        raise DataError(f"{folder} is a file, not a folder: choose another name")
    existing = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    if existing and not marker.exists():
        raise DataError(
            f"{folder} already holds files (e.g. {existing[0]}) and is not a course "
            "workspace: choose an empty or new folder; nothing was written"
        )
    files = {s.file: stub(s) for s in STAGES.values()}
    files["README.md"] = readme(list(STAGES.values()))
    files[".gitignore"] = GITIGNORE
    written, kept = [], []
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = folder / name
        if path.exists():
            kept.append(name)
            continue
        atomic_write_text(path, text)
        written.append(name)
    if not marker.exists():
        marker.parent.mkdir(exist_ok=True)
        created = {"course": 1, "created": datetime.now().isoformat(timespec="seconds")}
        atomic_write_text(marker, json.dumps(created, indent=2) + "\n")
    return Started(folder, written, kept)


def find(folder: str | Path | None) -> Path:
    """The workspace ``folder`` names; without one, the current folder if it is a
    workspace, else ``mynet/``. A :class:`DataError` where there is none."""
    if folder is None:
        here = Path.cwd()
        folder = here if (here / STATE / MARKER).exists() else DEFAULT
    path = Path(folder)
    if not (path / STATE / MARKER).exists():
        raise DataError(
            f"{path} is not a course workspace: start one with nnscratch learn start {path}"
        )
    return path


class LoadError(Exception):
    """A stage file that does not load: ``message`` says where and why."""


class _FreshLoader(importlib.machinery.SourceFileLoader):
    """Compiles the source every time: a cached ``.pyc`` is never read."""

    def get_code(self, fullname: str) -> CodeType:
        return compile(self.get_data(self.path), self.path, "exec", dont_inherit=True)


class _StageFinder(importlib.abc.MetaPathFinder):
    """Finds the workspace's stage modules (and only those) by their plain names."""

    def __init__(self, folder: Path, names: set[str]) -> None:
        self.folder, self.names = folder, names

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        file = self.folder / f"{fullname}.py"
        if fullname not in self.names or not file.is_file():
            return None
        loader = _FreshLoader(fullname, str(file))
        return importlib.util.spec_from_file_location(fullname, file, loader=loader)


class Workspace:
    """A learner's workspace folder and its stage modules (see the module docs)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder).resolve()
        self.state = self.folder / STATE

    @contextlib.contextmanager
    def importable(self) -> Iterator[Workspace]:
        """Within it, :meth:`module` loads the learner's stage modules (and they import
        each other) from source; afterwards ``sys.modules`` and ``sys.path`` are as they
        were."""
        names = {s.name for s in STAGES.values()}
        saved = {name: sys.modules.pop(name) for name in list(sys.modules) if name in names}
        finder = _StageFinder(self.folder, names)
        sys.meta_path.insert(0, finder)
        sys.path.insert(0, str(self.folder))
        try:
            yield self
        finally:
            sys.meta_path.remove(finder)
            with contextlib.suppress(ValueError):
                sys.path.remove(str(self.folder))
            for name in names:
                sys.modules.pop(name, None)
            sys.modules.update(saved)

    def module(self, stage: Stage) -> ModuleType:
        """``stage``'s module, loaded (once per :meth:`importable`); a :class:`LoadError`
        that names the file and line where it does not load."""
        if not (self.folder / stage.file).is_file():
            raise LoadError(f"{stage.file} is missing: nnscratch learn start writes it again")
        try:
            return importlib.import_module(stage.name)
        except SyntaxError as error:
            raise LoadError(syntax_message(error)) from None
        except NotImplementedError as error:  # a stub's function called at import time
            raise LoadError(f"{stage.file} calls an unwritten function as it loads") from error
        except Exception as error:
            raised = LearnerRaised(error, learner_frame(error.__traceback__))
            raise LoadError(f"{stage.file} does not load: {describe_raised(raised)}") from None

    def function(self, stage: Stage, name: str) -> Any:
        """The learner's function ``name`` from ``stage``'s file."""
        module = self.module(stage)
        function = getattr(module, name, None)
        if not callable(function):
            raise LoadError(
                f"{stage.file} has no function {name}: keep the stub's names (the course "
                f"calls {name})"
            )
        return function


def syntax_message(error: SyntaxError) -> str:
    """A syntax error as its file, line, the line itself and a caret."""
    where = f"{Path(error.filename or '?').name}:{error.lineno}"
    lines = [f"{where} is not valid Python: {error.msg}"]
    if error.text:
        lines.append(f"    {error.text.rstrip()}")
        if error.offset:
            lines.append("    " + " " * (error.offset - 1) + "^")
    return "\n".join(lines)


def functions(folder: str | Path, names: Sequence[str]) -> dict[str, Any]:
    """The learner's functions by name from ``folder`` (each found in its stage's file),
    loaded as :class:`Workspace` loads them, for notebooks that build on earlier ones.
    The modules stay out of ``sys.modules``; the functions keep their own imports."""
    where = {e.name: s for s in STAGES.values() for e in s.exercises}
    workspace = Workspace(folder)
    with workspace.importable():
        return {name: workspace.function(where[name], name) for name in names}
