"""Run directories: where a command's outputs go, and how they get there whole.

* :func:`resolve_data`: ``--data``, else ``$NNSCRATCH_DATA``, else ``None`` (the
  task's built-in sample);
* :func:`staged_directory`: outputs are written to a hidden staging folder
  and moved into the run directory only when all of them succeeded;
* :func:`run_record`: what ``metrics.json`` says about a training run, made here
  and nowhere else; :func:`write_run`: a trained model's whole run directory;
* :func:`default_run_dir`, :func:`write_json`, :func:`write_history_csv`.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nnscratch import __version__
from nnscratch.core.training import History
from nnscratch.errors import OutputError
from nnscratch.files import atomic_write_text
from nnscratch.models.fitted import FittedModel
from nnscratch.models.metrics import Results
from nnscratch.tasks.base import Task, TaskData
from nnscratch.tasks.plots import save_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def resolve_data(arg: str | None) -> str | None:
    """``--data``, else ``$NNSCRATCH_DATA``, else ``None`` (the synthetic sample)."""
    return arg or os.environ.get("NNSCRATCH_DATA") or None


@contextlib.contextmanager
def staged_directory(out: Path) -> Iterator[Path]:
    """A hidden staging directory beside ``out``; its files move into ``out`` on success.

    On failure the staging directory is removed and ``out`` is untouched. A
    folder that cannot be created (a read-only or full disk) is an
    :class:`~nnscratch.errors.OutputError` naming it.
    """
    created_parent = not out.parent.exists()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    except OSError as exc:
        raise OutputError(
            f"{out}: cannot create the output folder ({exc.strerror or exc}); nothing was written"
        ) from exc
    try:
        try:
            yield staging
        except OutputError as exc:  # name the file the user asked for, not the staging copy
            raise OutputError(str(exc).replace(str(staging), str(out))) from exc
        try:
            out.mkdir(exist_ok=True)
            for item in sorted(staging.iterdir()):
                os.replace(item, out / item.name)
        except OSError as exc:
            raise OutputError(
                f"{out}: cannot move the outputs into place ({exc.strerror or exc})"
            ) from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created_parent:
            with contextlib.suppress(OSError):
                out.parent.rmdir()
        raise
    shutil.rmtree(staging, ignore_errors=True)


def default_run_dir(prefix: str = "") -> Path:
    """``runs/<prefix><timestamp>``, with ``-2``, ``-3``… if that exists already."""
    base = Path("runs") / f"{prefix}{datetime.now():%Y%m%d-%H%M%S}"
    out, n = base, 1
    while out.exists():
        n += 1
        out = base.with_name(f"{base.name}-{n}")
    return out


def write_json(path: Path, payload: dict[str, Any]) -> None:
    atomic_write_text(
        path, json.dumps(payload, indent=2, sort_keys=True, allow_nan=True, default=str) + "\n"
    )


def write_history_csv(path: Path, history: History) -> None:
    """One row per epoch: ``epoch, train_loss, val_loss, val_rmse, learning_rate``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["epoch", "train_loss", "val_loss", "val_rmse", "learning_rate"])
    for i, loss in enumerate(history.train_loss):
        val = repr(history.val_loss[i]) if i < len(history.val_loss) else ""
        rmse = repr(history.val_rmse[i]) if i < len(history.val_rmse) else ""
        writer.writerow([i + 1, repr(loss), val, rmse, repr(history.learning_rate[i])])
    atomic_write_text(path, buffer.getvalue())


def run_record(
    task: Task,
    data: TaskData,
    recipe: dict[str, Any],
    results: Results,
    history: History,
    timing: dict[str, float],
) -> dict[str, Any]:
    """``metrics.json`` of a training run: version, task, data, recipe, results, how
    training ended and how long it took (``timing``: ``fit_seconds``, ``started``)."""
    return {
        "nnscratch_version": __version__,
        "task": task.name,
        **data.record(),
        "recipe": recipe,
        "results": results.rows,
        **results.extra,
        "training": {
            "epochs_run": history.n_epochs,
            "best_epoch": history.best_epoch,
            "stopped_early": history.stopped_early,
            "interrupted": history.interrupted,
        },
        "timing": {
            "fit_seconds": timing["fit_seconds"],
            "total_seconds": time.perf_counter() - timing["started"],
            "finished": datetime.now().isoformat(timespec="seconds"),
        },
    }


def write_run(
    out: Path,
    model: FittedModel,
    record: dict[str, Any],
    figures: dict[str, Figure],
    model_name: str = "model.npz",
    texts: dict[str, str] | None = None,
) -> list[str]:
    """The run directory: the model, ``metrics.json``, ``history.csv``, any other
    ``texts`` by file name, and the figures, staged and moved into ``out`` together; the
    names written, in order."""
    texts = texts or {}
    with staged_directory(out) as stage:
        model.save(stage / model_name)
        write_json(stage / "metrics.json", record)
        write_history_csv(stage / "history.csv", model.history)
        for name, text in texts.items():
            atomic_write_text(stage / name, text)
        for name, figure in figures.items():
            save_figure(figure, stage / name)
    return [model_name, "metrics.json", "history.csv", *texts, *figures]
