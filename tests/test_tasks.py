"""The Task interface: the registry picks the task for data and model files, every
fitted model keeps the FittedModel protocol, and a fourth task needs no command changes."""

from __future__ import annotations

import json
import os
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from nnscratch.app.cli.main import main
from nnscratch.app.serve.server import ServedModel
from nnscratch.errors import DataError, NNScratchError
from nnscratch.models.classifier import MLPClassifier
from nnscratch.models.digit_model import DigitModel
from nnscratch.models.fitted import (
    Exportable,
    ExportableModel,
    FittedModel,
    ReadsJsonTogether,
    Servable,
    ServableModel,
)
from nnscratch.models.metrics import ACCURACY, CLASSIFICATION_METRICS, Results, scores_by_split
from nnscratch.models.persistence import read_model_file, write_model_file
from nnscratch.models.popularity_model import PopularityModel
from nnscratch.models.recipes import Recipe
from nnscratch.models.table_classifier import TabularClassifier
from nnscratch.models.values import Predictions
from nnscratch.tasks.base import Fold, NetworkSplits, Say, Task, quiet
from nnscratch.tasks.classification import TableClassification
from nnscratch.tasks.digits import Digits
from nnscratch.tasks.registry import TASKS, load_model, task_for_data
from nnscratch.tasks.regression import TableRegression

MODELS = Path(__file__).resolve().parent / "data" / "models"


def test_the_registry_picks_the_task_from_the_data() -> None:
    assert type(task_for_data(None)) is TableRegression
    assert type(task_for_data("tracks.csv", "regression", "energy")) is TableRegression
    assert type(task_for_data("tracks.csv", "classification", "mode")) is TableClassification
    assert type(task_for_data("digits")) is Digits
    assert type(task_for_data("digits", "classification")) is Digits
    with pytest.raises(DataError, match="needs --target COLUMN"):
        task_for_data("tracks.csv", "classification")
    with pytest.raises(DataError, match="images have no columns"):
        task_for_data("digits", None, "label")
    with pytest.raises(ValueError, match="unknown task 'clustering'; choose from"):
        task_for_data("tracks.csv", "clustering")


def test_the_registry_reads_model_files_from_before_the_task_entry() -> None:
    model = load_model(MODELS / "format1-popularity.npz")  # no "task" in its metadata
    assert isinstance(model, PopularityModel) and model.task == "regression"


def protocol_members(protocol: type) -> set[str]:
    """Every member a protocol declares: its methods, properties and class variables."""
    declared = {name for name in vars(protocol) if not name.startswith("_")}
    return declared | set(getattr(protocol, "__annotations__", {}))


def test_the_protocols_stay_small() -> None:
    assert protocol_members(FittedModel) == {
        "task",
        "history",
        "n_members",
        "save",
        "predict_file",
        "evaluate",
        "describe",
    }
    assert protocol_members(Servable) == {
        "page",
        "json_request",
        "body_request",
        "tensor_request",
        "network_outputs",
        "tensor_inputs",
        "tensor_outputs",
        "request_schemas",
        "answer_schema",
    }
    assert protocol_members(Exportable) == {"to_onnx", "onnx_inputs"}
    assert protocol_members(ReadsJsonTogether) == {"json_requests"}
    assert protocol_members(ServableModel) == {"serving"}  # and FittedModel's
    assert protocol_members(ExportableModel) == {"export"}


#: The part of a model that keeps each capability's protocol (the model composes it).
PARTS = {Servable: "serving", Exportable: "export"}


def part_type(model_type: type, part: str) -> type:
    """The class of a model's ``serving`` or ``export`` part, as its property states it."""
    return typing.get_type_hints(getattr(model_type, part).fget)["return"]


@pytest.mark.parametrize("model_type", [PopularityModel, TabularClassifier, DigitModel])
@pytest.mark.parametrize("protocol", [FittedModel, Servable, Exportable])
def test_every_built_in_model_keeps_every_member_of_each_protocol(
    model_type: type, protocol: type
) -> None:
    holder = part_type(model_type, PARTS[protocol]) if protocol in PARTS else model_type
    for member in protocol_members(protocol):
        value = getattr(holder, member, None)
        if member in ("task", "page"):
            assert isinstance(value, str) and value, member
        elif member in ("history", "n_members"):
            assert isinstance(value, property), member
        else:
            assert callable(value), member
    assert model_type.task in TASKS and TASKS[model_type.task].model_type is model_type
    assert part_type(model_type, "serving").page.endswith(".html")


def test_table_models_read_json_bodies_together_and_digits_one_by_one() -> None:
    assert callable(getattr(part_type(PopularityModel, "serving"), "json_requests", None))
    assert callable(getattr(part_type(TabularClassifier, "serving"), "json_requests", None))
    assert getattr(part_type(DigitModel, "serving"), "json_requests", None) is None  # one by one


# --------------------------------------------------------------------------- a fourth task

#: The toy task's data: a ``.bits`` file, one row of 0s and 1s a line; its class is the
#: parity of the row's ones.
WIDTH = 6


def bits_file(path: Path, n: int, seed: int) -> Path:
    rows = np.random.default_rng(seed).integers(0, 2, size=(n, WIDTH))
    path.write_text("".join("".join(map(str, r)) + "\n" for r in rows))
    return path


def read_bits(source: str) -> tuple[np.ndarray, np.ndarray]:
    lines = [line.strip() for line in Path(source).read_text().splitlines() if line.strip()]
    X = np.array([[int(c) for c in line] for line in lines], dtype=np.float64)
    return X, (X.sum(axis=1) % 2).astype(int)


@dataclass
class ParityModel:
    """The toy task's FittedModel: a classifier of bit rows. It is neither served nor
    exported, so it implements the seven members every model has and nothing else."""

    estimator: MLPClassifier
    task = "parity"

    @property
    def history(self) -> Any:
        return self.estimator.history_

    @property
    def n_members(self) -> int:
        return len(self.estimator.networks_)

    def save(self, path: str | os.PathLike[str]) -> Path:
        arrays, metadata = self.estimator.to_arrays()
        return write_model_file(path, arrays, metadata | {"task": self.task})

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ParityModel:
        arrays, meta = read_model_file(path, MLPClassifier.expected_arrays)
        return cls(MLPClassifier.from_arrays(arrays, meta))

    def predict_file(self, source: str) -> Predictions:
        X, _ = read_bits(source)
        frame = pd.DataFrame({"predicted_parity": self.estimator.predict(X)})
        return Predictions(frame, len(X), "rows")

    def evaluate(self, source: str, model_file: str) -> tuple[Results, list[str]]:
        X, y = read_bits(source)
        scores = scores_by_split(
            {"test": (X, y)}, {"test": self.estimator.predict_proba(X)}, self.estimator.classes_
        )
        rows = {f"model ({model_file})": scores}
        return Results(f"parity on {source}", CLASSIFICATION_METRICS, rows), []

    def describe(self) -> dict[str, Any]:
        return {"task": self.task, **self.estimator.describe()}


@dataclass
class BitsData:
    source: str
    X: np.ndarray
    y: np.ndarray
    train: np.ndarray
    test: np.ndarray

    def report(self) -> list[str]:
        return [f"data: {self.source}: {len(self.y)} rows of {WIDTH} bits"]

    def record(self) -> dict[str, Any]:
        return {"data": {"source": self.source, "rows": len(self.y)}}


class Parity(Task):
    """The parity of a row of bits: a fourth kind of work, in one class."""

    name = "parity"
    summary = "the parity of rows of bits (a .bits file)"
    presets: ClassVar[dict[str, Recipe]] = {
        "default": Recipe(hidden=(32,), epochs=60, learning_rate=1e-2, patience=None)
    }
    metric = ACCURACY
    model_type = ParityModel

    @classmethod
    def accepts(cls, source: str | None, requested: str | None) -> bool:
        return requested == cls.name or str(source).endswith(".bits")

    def load(self, source: str | None, recipe: Recipe, seed: int) -> BitsData:
        X, y = read_bits(str(source))
        order = np.random.default_rng(seed).permutation(len(y))
        return BitsData(str(source), X, y, np.sort(order[16:]), np.sort(order[:16]))

    def fit(
        self, data: BitsData, recipe: Recipe, seed: int, *, say: Say = quiet, **fit_kwargs: Any
    ) -> ParityModel:
        say(f"network: {WIDTH} → 32 → 1, sigmoid output")
        estimator = recipe.build_classifier(seed, verbose=bool(fit_kwargs.pop("verbose", 0)))
        fit_kwargs.pop("handle_interrupts", None)
        return ParityModel(estimator.fit(data.X[data.train], data.y[data.train]))

    def results(self, model: ParityModel, data: BitsData, seed: int) -> Results:
        splits = {"test": (data.X[data.test], data.y[data.test])}
        proba = {"test": model.estimator.predict_proba(splits["test"][0])}
        rows = {"MLP": scores_by_split(splits, proba, model.estimator.classes_)}
        return Results("parity", CLASSIFICATION_METRICS, rows)

    def figures(self, model: ParityModel, data: BitsData, results: Results) -> dict[str, Figure]:
        return {}

    def search_rows(self, data: BitsData) -> tuple[int, np.ndarray | None]:
        return len(data.train), None

    def suggest(self, trial: Any) -> dict[str, Any]:
        return {"learning_rate": trial.suggest_float("learning_rate", 3e-3, 1e-2, log=True)}

    def fold_outputs(
        self, data: BitsData, recipe: Recipe, fold: Fold, seed: int, callbacks: Any = ()
    ) -> np.ndarray:
        raise NotImplementedError

    def outputs_score(self, data: BitsData, outputs: np.ndarray, rows: np.ndarray) -> float:
        raise NotImplementedError

    def test_score(self, model: ParityModel, data: BitsData) -> float:
        return float(model.estimator.score(data.X[data.test], data.y[data.test]))

    def lab_splits(self, source: str | None, seed: int, max_rows: int | None) -> NetworkSplits:
        raise NotImplementedError


@pytest.fixture
def parity_registered() -> Iterator[None]:
    TASKS.add(Parity)
    try:
        yield
    finally:
        TASKS.remove("parity")


def test_a_fourth_task_trains_evaluates_and_predicts_through_the_command_line(
    parity_registered: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Registered in one line; ``train``, ``evaluate`` and ``predict`` run it unchanged."""
    data = bits_file(tmp_path / "train.bits", 200, seed=1)
    new = bits_file(tmp_path / "new.bits", 30, seed=2)
    out = tmp_path / "run"
    assert main(["train", "--data", str(data), "--out", str(out), "--quiet"]) == 0
    said = capsys.readouterr().out
    assert "data: " in said and "rows of 6 bits" in said and "network: 6 → 32 → 1" in said
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["task"] == "parity" and metrics["data"]["rows"] == 200
    assert metrics["results"]["MLP"]["test"]["accuracy"] >= 0.5
    assert sorted(p.name for p in out.iterdir()) == ["history.csv", "metrics.json", "model.npz"]

    assert main(["evaluate", "--model", str(out / "model.npz"), "--data", str(new)]) == 0
    assert "model (model.npz)" in capsys.readouterr().out
    predictions = tmp_path / "pred.csv"
    args = ["predict", "--model", str(out / "model.npz"), "--data", str(new)]
    assert main([*args, "--out", str(predictions)]) == 0
    assert "predicted 30 of 30 rows" in capsys.readouterr().out
    frame = pd.read_csv(predictions)
    assert len(frame) == 30 and set(frame["predicted_parity"]) <= {0, 1}
    model = load_model(out / "model.npz")
    assert isinstance(model, FittedModel)
    assert not isinstance(model, ServableModel) and not isinstance(model, ExportableModel)
    # what it does not implement, the commands refuse in one line, writing nothing
    onnx = tmp_path / "parity.onnx"
    assert main(["export", "--model", str(out / "model.npz"), "--out", str(onnx)]) == 2
    assert "a parity model has no ONNX export" in capsys.readouterr().err
    assert not onnx.exists()
    with pytest.raises(NNScratchError, match="a parity model cannot be served"):
        ServedModel.load(out / "model.npz")
    # and --task names it, like the built-in tasks
    out2 = tmp_path / "run2"
    copy = tmp_path / "rows.txt"
    copy.write_text(data.read_text())
    assert (
        main(["train", "--data", str(copy), "--task", "parity", "--out", str(out2), "--quiet"]) == 0
    )


def test_scatter_plots_draw_a_seeded_sample_of_a_large_test_split(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Above ``SCATTER_POINTS`` tracks the scatter plots draw a sorted seeded sample of that
    many (the figure's memory does not grow with the split); the histogram has them all."""
    from nnscratch.tasks import plots

    assert plots.scatter_sample(plots.SCATTER_POINTS) == slice(None)
    monkeypatch.setattr(plots, "SCATTER_POINTS", 100)
    shown = plots.scatter_sample(1_000)
    assert len(np.unique(shown)) == 100 and np.all(np.diff(shown) > 0)
    np.testing.assert_array_equal(shown, plots.scatter_sample(1_000))
    y_true = np.linspace(0, 100, 1_000)
    figure = plots.pred_vs_actual_figure(y_true, y_true + 1, "t")
    points = figure.axes[0].collections[0].get_offsets()
    np.testing.assert_array_equal(points[:, 0], y_true[shown])
    assert figure.axes[0].get_legend().get_texts()[0].get_text() == "test tracks (100 of 1,000)"
    residuals = plots.residuals_figure(y_true, y_true + 1, "t")
    assert len(residuals.axes[0].collections[0].get_offsets()) == 100
    assert sum(patch.get_height() for patch in residuals.axes[1].patches) == 1_000


def test_the_gradient_boosting_baselines_run_on_one_openmp_thread() -> None:
    """Both gradient-boosting baselines fit and predict with OpenMP held to one thread, and
    the process's setting is back afterwards."""
    import threadpoolctl

    from nnscratch.tasks.baselines import on_one_openmp_thread, regression_baselines
    from nnscratch.tasks.classification import gradient_boosting_classifier

    def openmp_threads() -> list[int]:
        info = threadpoolctl.threadpool_info()
        return [i["num_threads"] for i in info if i["user_api"] == "openmp"]

    before = openmp_threads()
    assert before, "scikit-learn's gradient boosting loaded no OpenMP library"
    with threadpoolctl.threadpool_limits(limits=2, user_api="openmp"):
        inside = on_one_openmp_thread(openmp_threads)()
        after = openmp_threads()
    assert set(inside) == {1} and set(after) == {2}
    wrapper = on_one_openmp_thread(openmp_threads).__code__
    for baseline in (regression_baselines, gradient_boosting_classifier):
        assert baseline.__code__ is wrapper  # each is run by the wrapper


@pytest.mark.parametrize("n_rows", [3_000, 12_000])
def test_gradient_boosting_on_its_split_laid_out_in_place_fits_as_sklearn_splits_it(
    n_rows: int,
) -> None:
    """The baselines give gradient boosting its own early-stopping split as two views of
    rows laid out once (no copy): the same trees as ``fit(X, y)``, prediction for
    prediction, bit for bit, with and without a categorical column."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    from nnscratch.tasks.baselines import early_stopping_split, fit_on_split

    rng = np.random.default_rng(3)
    X = rng.normal(size=(n_rows, 6))
    X[:, 5] = rng.integers(0, 4, size=n_rows)  # level codes
    y = X[:, 0] * 3 + np.sin(X[:, 1]) + X[:, 5] + rng.normal(scale=0.5, size=n_rows)
    categorical = [False] * 5 + [True]

    def model() -> HistGradientBoostingRegressor:
        return HistGradientBoostingRegressor(random_state=7, categorical_features=categorical)

    expected = model().fit(X, y)
    order, n_fit = early_stopping_split(model(), n_rows)
    assert sorted(order) == list(range(n_rows))
    assert n_fit == (n_rows if n_rows <= 10_000 else n_rows - round(0.1 * n_rows))
    X_laid_out = np.ascontiguousarray(X[order])
    fitted = fit_on_split(model(), X_laid_out, y[order], n_fit)
    assert fitted.n_iter_ == expected.n_iter_
    np.testing.assert_array_equal(fitted.predict(X), expected.predict(X))
