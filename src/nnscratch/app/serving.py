"""Serving a trained model (``nnscratch serve``): a JSON API and a page for people.

::

    GET  /          the page for the model's task (plain HTML + JS from the package;
                    no build step, no CDN, works offline)
    GET  /health    {"status": "ok"}
    GET  /model     task, inputs (with ranges), classes, training metrics, version
    POST /predict   tables: {"rows": [{column: value, ...}, ...]} or a CSV body
                    digits: {"pixels": [...]} or {"images": [[...], ...]}, or a PNG body

The model file is read and validated once, at start. Every request is
checked before anything is computed; a malformed one gets a 4xx answer
``{"detail": "..."}`` that names what is wrong (the row, the column, the
value), and the server goes on serving. JSON rows are checked strictly: one
bad row refuses the request, naming it. A CSV body is a file, read as
``nnscratch predict`` reads one: rows that cannot be scored are skipped and
listed with the reason. Predictions are the numbers ``nnscratch predict``
writes (:func:`nnscratch.app.runs.table_predictions`), so the two agree to the
bit. Prediction is thread-safe (:mod:`nnscratch.core.network`) and runs in the
server's worker threads, so requests are served concurrently.

FastAPI and uvicorn are an optional extra: ``pip install 'nnscratch[serve]'``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nnscratch import __version__
from nnscratch.app.runs import model_kind, say, table_predictions
from nnscratch.app.webapp import build_app
from nnscratch.data.cleaning import VALUE_RANGES, clean, to_number
from nnscratch.data.features import DERIVED_FEATURES
from nnscratch.data.images import png_pixels
from nnscratch.data.reading import read_csv
from nnscratch.data.tracks import input_columns, tracks_from_frame
from nnscratch.errors import DataError, ModelFileError, NNScratchError, RequestError
from nnscratch.models.digit_model import DigitModel
from nnscratch.models.popularity_model import PopularityModel
from nnscratch.models.table_model import TabularClassifier

#: Default limits: request body size, and rows (or images) per request.
MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_ROWS = 10_000

#: Columns whose values are whole numbers (a slider steps by 1).
_WHOLE = {"key", "mode", "explicit", "time_signature", "year", "duration_ms"}
#: What a text input starts with on the page.
_TEXT_DEFAULTS = {"release_date": "2015-06-01", "name": "Untitled", "artists": "['Unknown']"}


@dataclass
class ServedModel:
    """A model loaded for serving, and what the page and ``/model`` say about it."""

    path: Path
    kind: str  # "regression" (popularity), "classification" (table) or "digits"
    model: PopularityModel | TabularClassifier | DigitModel
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ServedModel:
        """Read and validate ``path`` (a file written by ``nnscratch train``)."""
        path = Path(path)
        kind = model_kind(path)
        model: PopularityModel | TabularClassifier | DigitModel
        if kind == "digits":
            model = DigitModel.load(path)
        elif kind == "classification":
            model = TabularClassifier.load(path)
        else:
            model = PopularityModel.load(path)
        metrics_file = path.with_name("metrics.json")
        metadata: dict[str, Any] = {}
        if metrics_file.is_file():  # written beside model.npz by `nnscratch train`
            try:
                metadata = json.loads(metrics_file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                metadata = {}
        return cls(path, kind, model, metadata)

    # ------------------------------------------------------------------ description

    def inputs(self) -> list[dict[str, Any]]:
        """What a table row needs: one entry per raw column; for a number its training
        range and a typical value (about the training median where the model has the
        piecewise-linear encoding's quantile edges, else the middle of the range)."""
        if isinstance(self.model, DigitModel):
            return []
        pre = self.model.preprocessing
        scaler = pre.x_scaler
        out: list[dict[str, Any]] = []
        for column in input_columns(pre.features):
            if column in pre.features and column not in DERIVED_FEATURES:
                i = pre.features.index(column)
                low, high = float(scaler.data_min_[i]), float(scaler.data_max_[i])
                whole = column in _WHOLE
                middle = (low + high) / 2
                if pre.encoder is not None:  # the middle quantile edge: about the median
                    edges = pre.encoder.edges_[i]
                    middle = low + float(edges[(len(edges) - 1) // 2]) * (high - low)
                out.append(
                    {
                        "name": column,
                        "kind": "number",
                        "min": low,
                        "max": high,
                        "step": 1 if whole else (high - low) / 100 or 1,
                        "default": round(middle) if whole else middle,
                    }
                )
            else:
                out.append(
                    {"name": column, "kind": "text", "default": _TEXT_DEFAULTS.get(column, "")}
                )
        for category in pre.categories:
            out.append(
                {
                    "name": category.column,
                    "kind": "category",
                    "levels": [str(level) for level in category.levels_],
                    "default": str(category.levels_[0]) if len(category.levels_) else "",
                }
            )
        return out

    def describe(self, limits: dict[str, int]) -> dict[str, Any]:
        """The answer to ``GET /model``."""
        estimator = self.model.estimator
        history = estimator.history_
        info: dict[str, Any] = {
            "task": "regression" if self.kind == "regression" else "classification",
            "kind": {"regression": "popularity", "classification": "table classifier"}.get(
                self.kind, "digits"
            ),
            "model_file": self.path.name,
            "nnscratch_version": __version__,
            "layer_sizes": list(estimator.network_.layer_sizes),
            "k": estimator.k,  # TabM members per network (1: a plain network)
            "n_members": len(estimator.networks_),
            "training": {
                "epochs": history.n_epochs,
                "best_epoch": history.best_epoch,
                "best_validation_loss": min(history.val_loss) if history.val_loss else None,
            },
            "metrics": self.metadata.get("results"),
            "test_scores": next(
                (
                    scores.get("test")
                    for name, scores in (self.metadata.get("results") or {}).items()
                    if name.startswith("nnscratch")
                ),
                None,
            ),
            "limits": limits,
        }
        if isinstance(self.model, DigitModel):
            info["image_shape"] = list(self.model.image_shape)
            info["classes"] = _json_values(self.model.estimator.classes_)
        else:
            info["target"] = self.model.target
            info["features"] = list(self.model.features)
            info["inputs"] = self.inputs()
            if isinstance(self.model, TabularClassifier):
                info["classes"] = _json_values(self.model.classes_)
        return info

    # ------------------------------------------------------------------ prediction

    def predict_json(self, payload: Any, max_rows: int) -> dict[str, Any]:
        """Predictions for a parsed JSON body (rows, or pixels)."""
        if not isinstance(payload, dict):
            raise RequestError(422, f"the body must be a JSON object, got {type(payload).__name__}")
        if isinstance(self.model, DigitModel):
            return self._predict_pixels(payload, max_rows)
        rows = payload.get("rows")
        if rows is None:
            raise RequestError(422, 'missing field "rows": send {"rows": [{column: value, …}]}')
        if not isinstance(rows, list) or not rows:
            raise RequestError(422, '"rows" must be a non-empty list of objects')
        if len(rows) > max_rows:
            raise RequestError(413, f"{len(rows):,} rows; the limit is {max_rows:,} per request")
        required = input_columns(self.model.preprocessing.features)
        for r, row in enumerate(rows):
            if not isinstance(row, dict):
                raise RequestError(422, f"row {r} must be an object of column: value")
            missing = [c for c in required if c not in row]
            if missing:
                raise RequestError(422, f"row {r}: missing {', '.join(map(repr, missing))}")
        cleaned = self._checked_rows(pd.DataFrame(rows))
        return self._table_answer(cleaned, skipped=[])

    def predict_csv(self, body: bytes, max_rows: int) -> dict[str, Any]:
        """Predictions for a CSV body, read as ``nnscratch predict`` reads a file: rows
        that cannot be scored are skipped and listed with the reason."""
        if isinstance(self.model, DigitModel):
            raise RequestError(415, "a digits model takes JSON pixels or a PNG image, not CSV")
        with tempfile.TemporaryDirectory(prefix="nnscratch-serve-") as folder:
            path = Path(folder) / "body.csv"
            path.write_bytes(body)
            try:
                frame = read_csv(path)
            except DataError as exc:
                raise RequestError(422, str(exc).replace(str(path), "the CSV body")) from None
        if len(frame) > max_rows:
            raise RequestError(413, f"{len(frame):,} rows; the limit is {max_rows:,} per request")
        tracks = self._tracks(frame)
        try:
            cleaned, _ = clean(tracks, self.model.preprocessing.features, None)
        except DataError:  # no usable row at all
            cleaned = tracks.iloc[:0]
        kept = set(cleaned["__row__"].tolist())
        given = set(frame.columns)
        skipped = [
            {"row": r, "reason": self._row_problem(tracks, r, given)}
            for r in range(len(tracks))
            if r not in kept
        ]
        if cleaned.empty:
            first = skipped[0]
            raise RequestError(
                422, f"no row of the CSV can be scored (row {first['row']}: {first['reason']})"
            )
        return self._table_answer(cleaned, skipped)

    def predict_png(self, body: bytes) -> dict[str, Any]:
        if not isinstance(self.model, DigitModel):
            raise RequestError(415, "a table model takes JSON rows or a CSV body, not an image")
        try:
            pixels, inverted = png_pixels(body, self.model.image_shape, name="the request body")
        except DataError as exc:
            raise RequestError(422, str(exc)) from None
        answer = self._digits_answer(pixels.reshape(1, -1))
        answer["inverted"] = inverted
        return answer

    # ------------------------------------------------------------------ tables

    def _tracks(self, frame: pd.DataFrame) -> pd.DataFrame:
        assert not isinstance(self.model, DigitModel)
        pre = self.model.preprocessing
        frame = frame.copy()
        frame["__row__"] = np.arange(len(frame))
        try:
            return tracks_from_frame(
                frame,
                source="request",
                features=pre.features,
                target=None,
                categoricals=pre.categorical_columns,
            )
        except DataError as exc:
            raise RequestError(422, str(exc).removeprefix("request: ")) from None

    def _checked_rows(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows, completed and cleaned; the first unusable one is named."""
        tracks = self._tracks(frame)
        try:
            cleaned, _ = clean(tracks, self.model.preprocessing.features, None)
        except DataError:  # no usable row at all
            cleaned = tracks.iloc[:0]
        if len(cleaned) < len(tracks):
            kept = set(cleaned["__row__"].tolist())
            r = next(r for r in range(len(tracks)) if r not in kept)
            problem = self._row_problem(tracks, r, set(frame.columns))
            raise RequestError(422, f"row {r}: {problem or 'cannot be scored'}")
        return cleaned

    def _row_problem(self, tracks: pd.DataFrame, r: int, given: set[str]) -> str:
        """What makes row ``r`` unusable ("" if nothing): the column, its value and why.
        ``given`` are the request's own columns (a derived feature names its source)."""
        assert not isinstance(self.model, DigitModel)
        for column in self.model.preprocessing.features:
            value = _plain(tracks[column].iloc[r])
            number = to_number(pd.Series([value])).iloc[0]
            origin = _origin(column) if column not in given else None
            if origin is not None and origin in tracks:
                source = _plain(tracks[origin].iloc[r])
                if pd.isna(number):
                    return f"{origin!r} = {source!r} gives no {column!r}"
                shown = f"{origin!r} = {source!r} gives {column!r} = {number:g}, which"
            else:
                shown = f"{column!r} = {value!r}"
                if isinstance(value, float) and math.isinf(value):
                    return f"{shown} is not finite"
                if pd.isna(number):
                    blank = _is_blank(value) and not isinstance(value, float)
                    return f"{shown} {'is empty' if blank else 'is not a number'}"
            low, high = VALUE_RANGES.get(column, (None, None))
            if (low is not None and number < low) or (high is not None and number > high):
                lo = "-∞" if low is None else f"{low:g}"
                hi = "∞" if high is None else f"{high:g}"
                return f"{shown} is outside the valid range ({lo} to {hi})"
        return ""

    def _table_answer(self, cleaned: pd.DataFrame, skipped: list[dict[str, Any]]) -> dict:
        assert not isinstance(self.model, DigitModel)
        table = table_predictions(self.model, cleaned)
        answer: dict[str, Any] = {"rows": cleaned["__row__"].tolist()}
        label = f"predicted_{self.model.target}"
        answer["predictions"] = _json_values(table[label].to_numpy())
        if isinstance(self.model, TabularClassifier):
            columns = [f"p_{c}" for c in self.model.classes_]
            answer["classes"] = _json_values(self.model.classes_)
            answer["probabilities"] = table[columns].to_numpy().tolist()
        if "id" in table:
            answer["ids"] = table["id"].astype(str).tolist()
        if skipped:
            answer["skipped"] = skipped
        return answer

    # ------------------------------------------------------------------ digits

    def _predict_pixels(self, payload: dict[str, Any], max_rows: int) -> dict[str, Any]:
        assert isinstance(self.model, DigitModel)
        rows, cols = self.model.image_shape
        if "pixels" in payload:
            images, single = [payload["pixels"]], True
        elif "images" in payload:
            images, single = payload["images"], False
            if not isinstance(images, list) or not images:
                raise RequestError(422, '"images" must be a non-empty list of pixel lists')
        else:
            raise RequestError(
                422,
                f'missing field "pixels": send {{"pixels": [{rows * cols} values in 0..1]}} '
                '(or "images": a list of them), or a PNG body',
            )
        if len(images) > max_rows:
            raise RequestError(413, f"{len(images):,} images; the limit is {max_rows:,}")
        X = np.empty((len(images), rows * cols), dtype=np.float64)
        for k, image in enumerate(images):
            where = "pixels" if single else f"images[{k}]"
            X[k] = _pixel_values(image, rows, cols, where)
        return self._digits_answer(X)

    def _digits_answer(self, X: np.ndarray) -> dict[str, Any]:
        assert isinstance(self.model, DigitModel)
        proba = np.round(self.model.predict_proba(X), 6)
        classes = self.model.estimator.classes_
        return {
            "predictions": _json_values(classes[np.argmax(proba, axis=1)]),
            "classes": _json_values(classes),
            "probabilities": proba.tolist(),
        }


def _pixel_values(image: Any, rows: int, cols: int, where: str) -> np.ndarray:
    if not isinstance(image, list):
        raise RequestError(422, f"{where} must be a list of {rows * cols} numbers")
    if len(image) != rows * cols:
        raise RequestError(
            422,
            f"{where} has {len(image)} values; the model reads {rows}×{cols} = {rows * cols}",
        )
    for i, v in enumerate(image):
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise RequestError(422, f"{where}[{i}] is {v!r}, not a number")
        if not math.isfinite(v):
            raise RequestError(422, f"{where}[{i}] is {v}, not a finite number")
        if not 0 <= v <= 1:
            raise RequestError(422, f"{where}[{i}] is {v}, outside [0, 1]")
    return np.asarray(image, dtype=np.float64)


def _plain(value: Any) -> Any:
    """A cell as a message shows it: a NumPy scalar as the Python value it holds."""
    return value.item() if isinstance(value, np.generic) else value


def _origin(column: str) -> str | None:
    """The raw column a derived feature comes from, for messages (None for raw ones)."""
    if column in DERIVED_FEATURES:
        return DERIVED_FEATURES[column].sources[0]
    return "release_date" if column == "year" else None


def _is_blank(value: object) -> bool:
    return (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or (isinstance(value, str) and not value.strip())
    )


def _json_values(values: np.ndarray) -> list[Any]:
    """NumPy values as JSON's (a numpy int64 or bool becomes a Python one)."""
    return [v.item() if isinstance(v, np.generic) else v for v in np.asarray(values).tolist()]


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]


# --------------------------------------------------------------------------- the app


def page_html(kind: str) -> str:
    """The page for a model's task, from the package's ``web`` folder."""
    name = "digits.html" if kind == "digits" else "table.html"
    return resources.files("nnscratch.app.web").joinpath(name).read_text(encoding="utf-8")


def create_app(
    model_path: str | os.PathLike[str],
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_rows: int = MAX_ROWS,
) -> Any:
    """The FastAPI application serving ``model_path`` (loaded and validated here, once);
    its routes are in :mod:`nnscratch.app.webapp`."""
    _require_serve_extra()
    served = ServedModel.load(model_path)
    return build_app(
        served, page_html(served.kind), max_body_bytes=max_body_bytes, max_rows=max_rows
    )


def _require_serve_extra() -> Any:
    try:
        import fastapi
        import uvicorn  # noqa: F401
    except ImportError:
        raise NNScratchError(
            "serve needs FastAPI and uvicorn: pip install 'nnscratch[serve]'"
        ) from None
    return fastapi


# --------------------------------------------------------------------------- nnscratch serve


def add_parser(sub: Any, formatter: Any, examples: Callable[[str], str]) -> None:
    """Add ``nnscratch serve`` to the command line's subcommands."""
    parser = sub.add_parser(
        "serve",
        help="serve a trained model: a JSON API and a web page",
        description="Load a model written by `nnscratch train` and serve it over HTTP: a page "
        "for people at / (sliders and a CSV upload for a table model, a drawing canvas for "
        "a digits model), POST /predict, GET /model and GET /health. Needs pip install "
        "'nnscratch[serve]'.",
        formatter_class=formatter,
        epilog=examples("""
            nnscratch serve --model runs/first/model.npz          # then open http://127.0.0.1:8000
            nnscratch serve --model runs/mnist/model.npz --port 8080
            curl -X POST localhost:8000/predict -H 'content-type: text/csv' --data-binary @new.csv
        """),
    )
    parser.add_argument("--model", required=True, help="model.npz written by `nnscratch train`")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    parser.add_argument(
        "--max-body", type=int, default=MAX_BODY_BYTES, help="largest request body, in bytes"
    )
    parser.add_argument(
        "--max-rows", type=int, default=MAX_ROWS, help="most rows (or images) per request"
    )
    parser.set_defaults(func=_command)


def _command(args: argparse.Namespace) -> int:
    _require_serve_extra()
    import uvicorn

    try:
        app = create_app(args.model, max_body_bytes=args.max_body, max_rows=args.max_rows)
    except FileNotFoundError:
        raise ModelFileError(f"{args.model}: no such model file") from None
    say(f"serving {args.model} on http://{args.host}:{args.port}/ (Ctrl-C to stop)")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
