"""Run directories: where a command's outputs go, and how they get there whole.

Shared by the command line (:mod:`nnscratch.app.cli`) and the analysis lab
(:mod:`nnscratch.app.lab`):

* :func:`resolve_data` and :func:`load_frame`: ``--data``, else
  ``$NNSCRATCH_DATA``, else the built-in synthetic sample (said out loud);
* :func:`staged_directory`: outputs are written to a hidden staging folder
  and moved into the run directory only when all of them succeeded;
* :func:`default_run_dir`, :func:`write_json`, :func:`write_history_csv`;
* :func:`model_kind`, :func:`table_predictions`, :func:`digit_predictions`:
  which model a file holds, and the predictions ``nnscratch predict`` writes
  (the web API answers with the same numbers).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nnscratch.core.training import History
from nnscratch.data.features import DEFAULT_FEATURES
from nnscratch.data.synthetic import SYNTHETIC_LABEL, make_tracks
from nnscratch.data.tracks import load_tracks, tracks_from_frame
from nnscratch.errors import OutputError
from nnscratch.files import atomic_write_text
from nnscratch.models.digit_model import DigitModel
from nnscratch.models.persistence import peek_metadata
from nnscratch.models.popularity_model import PopularityModel
from nnscratch.models.table_model import TabularClassifier

#: Rows of the built-in synthetic sample used when no data is given.
SYNTHETIC_ROWS = 5000


def say(message: str = "") -> None:
    print(message, flush=True)


def resolve_data(arg: str | None) -> str | None:
    """``--data``, else ``$NNSCRATCH_DATA``, else ``None`` (the synthetic sample)."""
    return arg or os.environ.get("NNSCRATCH_DATA") or None


def load_frame(
    path: str | None,
    features: Sequence[str] = DEFAULT_FEATURES,
    seed: int = 0,
    **options: Any,
) -> pd.DataFrame:
    """The tracks frame for a run: the file at ``path``, or the synthetic sample.

    ``options`` go to :func:`nnscratch.data.tracks.tracks_from_frame` (``target``,
    ``optional``, ``categoricals``).
    """
    if path is None:
        say(
            f"note: no --data given and NNSCRATCH_DATA is not set: using the {SYNTHETIC_LABEL}, "
            f"{SYNTHETIC_ROWS:,} generated tracks"
        )
        frame = make_tracks(SYNTHETIC_ROWS, seed=seed)
        return tracks_from_frame(frame, source=SYNTHETIC_LABEL, features=features, **options)
    return load_tracks(path, features=features, **options)


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


def model_kind(path: str | os.PathLike[str]) -> str:
    """``"digits"``, ``"classification"`` (a table classifier) or ``"regression"`` (a
    popularity model), from the model file's metadata (read without its arrays)."""
    meta = peek_metadata(path)
    if "images" in meta:
        return "digits"
    return "classification" if meta.get("estimator") == "MLPClassifier" else "regression"


def table_predictions(
    model: PopularityModel | TabularClassifier,
    cleaned: pd.DataFrame,
    points: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per row of ``cleaned``: ``id`` (when present), then the prediction —
    ``predicted_<target>`` in points (2 decimals) for a popularity model; the label and
    ``p_<class>`` probabilities (6 decimals) for a classifier. ``points`` reuses
    predictions already made."""
    if isinstance(model, TabularClassifier):
        proba = model.predict_proba(cleaned)
        out = pd.DataFrame({f"predicted_{model.target}": model.classes_[np.argmax(proba, axis=1)]})
        for k, c in enumerate(model.classes_):
            out[f"p_{c}"] = np.round(proba[:, k], 6)
    else:
        points = model.predict_points(cleaned) if points is None else points
        out = pd.DataFrame({f"predicted_{model.target}": np.round(points, 2)})
    if "id" in cleaned.columns:
        out.insert(0, "id", cleaned["id"].astype("string").to_numpy())
    return out


def digit_predictions(model: DigitModel, X: np.ndarray, first: pd.DataFrame) -> pd.DataFrame:
    """``first``'s columns (an index or file names), the label, ``p<class>`` (6 decimals)."""
    proba = model.predict_proba(X)
    classes = model.estimator.classes_
    out = first.assign(label=classes[np.argmax(proba, axis=1)])
    for k, c in enumerate(classes):
        out[f"p{c}"] = np.round(proba[:, k], 6)
    return out
