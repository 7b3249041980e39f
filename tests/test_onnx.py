"""ONNX export: every kind of model runs in ONNX Runtime with nnscratch's answers.

Each kind (plain regressor, ensemble, TabM regressor, binary and multiclass
classifier, the popularity model with piecewise-linear encoding and categories,
the table classifier, the digits model) is exported, checked by
``onnx.checker`` and run by ONNX Runtime on held-out rows: the answers equal
``nnscratch``'s to 1e-5 relative (float32 networks) and the labels exactly.
Skipped where the ``onnx`` extra is not installed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from nnscratch.data.synthetic import make_tracks
from nnscratch.models.classifier import MLPClassifier
from nnscratch.models.recipes import DEFAULT_RECIPE
from nnscratch.models.regressor import MLPRegressor
from nnscratch.tasks.registry import load_model, task_for_data
from tests.test_cli import assert_clean_failure, run, run_predict

onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed")
ort = pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")

#: float32 networks: ONNX Runtime's kernels sum in another order than OpenBLAS's.
RTOL = 1e-5


def session(proto: Any) -> Any:
    onnx.checker.check_model(proto, full_check=True)
    assert proto.opset_import[0].version >= 17
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def assert_close(actual: np.ndarray, expected: np.ndarray) -> None:
    """Equal to ``RTOL`` relative, with an absolute floor of ``RTOL`` × the largest value
    (a value near 0 has no relative precision left)."""
    scale = float(np.max(np.abs(expected))) or 1.0
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=RTOL * scale)


@pytest.fixture(scope="module")
def table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 6)).astype(np.float32)
    y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2]
    return X[:300], y[:300], X[300:]


REGRESSORS = {
    "plain": {},
    "ensemble": {"n_members": 3},
    "tabm": {"k": 4, "n_members": 2},
    "tanh": {"activation": "tanh"},
    "sigmoid": {"activation": "sigmoid", "output_activation": "relu"},
    "leaky_relu": {"activation": "leaky_relu", "k": 3},
}


@pytest.mark.parametrize("kind", REGRESSORS)
def test_a_regressor_runs_in_onnx_runtime(kind: str, table: Any) -> None:
    X, y, X_test = table
    model = MLPRegressor(
        hidden_layer_sizes=(16, 8), epochs=3, random_state=0, **REGRESSORS[kind]
    ).fit(X, y)
    (predictions,) = session(model.to_onnx()).run(None, {"X": X_test})
    assert predictions.shape == (len(X_test),)
    assert_close(predictions, model.predict(X_test))


def test_a_two_output_regressor_keeps_its_columns(table: Any) -> None:
    X, y, X_test = table
    model = MLPRegressor(hidden_layer_sizes=(8,), epochs=2, random_state=0)
    model.fit(X, np.column_stack([y, -y]))
    (predictions,) = session(model.to_onnx()).run(None, {"X": X_test})
    assert predictions.shape == (len(X_test), 2)
    assert_close(predictions, model.predict(X_test))


@pytest.mark.parametrize(
    ("n_classes", "options"),
    [(2, {}), (2, {"k": 4, "n_members": 2}), (3, {"n_members": 2}), (3, {"k": 4})],
)
def test_a_classifier_gives_the_same_labels_and_probabilities(
    n_classes: int, options: dict[str, Any], table: Any
) -> None:
    X, y, X_test = table
    labels = np.asarray(["low", "mid", "high"])[np.digitize(y, np.quantile(y, [0.5, 0.8]))]
    if n_classes == 2:
        labels = np.where(labels == "low", "low", "high")
    model = MLPClassifier(hidden_layer_sizes=(16,), epochs=3, random_state=0, **options)
    model.fit(X, labels)
    label, proba = session(model.to_onnx()).run(None, {"X": X_test})
    assert proba.shape == (len(X_test), n_classes)
    assert_close(proba, model.predict_proba(X_test))
    assert label.tolist() == model.predict(X_test).tolist()


def test_integer_classes_come_back_as_integers(table: Any) -> None:
    X, y, X_test = table
    model = MLPClassifier(hidden_layer_sizes=(8,), epochs=2, random_state=0)
    model.fit(X, (y > 0).astype(int) * 7)
    label, _ = session(model.to_onnx()).run(None, {"X": X_test})
    assert label.dtype == np.int64 and set(label) <= {0, 7}
    assert (label == model.predict(X_test)).all()


# --------------------------------------------------------------------------- whole models

SMALL_DEFAULT = replace(DEFAULT_RECIPE, hidden=(16, 8), k=4, epochs=3, patience=None)


def tracks_with_genre(n: int, seed: int) -> pd.DataFrame:
    """Synthetic tracks with a genre column: common levels, a rare one, missing values."""
    frame = make_tracks(n, seed=seed)
    rng = np.random.default_rng(seed)
    levels, shares = ["pop", "Rock ", "jazz", "polka", None], [0.4, 0.3, 0.25, 0.01, 0.04]
    genre = rng.choice(levels, size=n, p=shares)
    frame["genre"] = genre
    frame["popularity"] += np.where(genre == "pop", 8, 0)
    return frame


def fit_table_model(path: Path, task: str | None, target: str | None) -> Any:
    table_task = task_for_data(str(path), task, target)
    data = table_task.load(str(path), SMALL_DEFAULT, seed=0)
    return table_task.fit(data, SMALL_DEFAULT, seed=0)


def ort_answers(model: Any, source: Path) -> tuple[list[np.ndarray], pd.DataFrame]:
    cleaned, _, _ = model.read_rows(str(source), with_target=False)
    return session(model.export.to_onnx()).run(None, model.export.onnx_feeds(cleaned)), cleaned


def test_the_popularity_model_with_encodings_and_categories(tmp_path: Path) -> None:
    train, new = tmp_path / "train.csv", tmp_path / "new.csv"
    tracks_with_genre(1500, seed=1).to_csv(train, index=False)
    unseen = tracks_with_genre(300, seed=2)
    unseen.loc[:9, "genre"] = "never seen in training"
    unseen.to_csv(new, index=False)
    model = fit_table_model(train, None, None)
    assert model.preprocessing.encoder is not None and model.preprocessing.categories
    assert model.estimator.k == 4 and model.n_members == 2
    (predictions,), cleaned = ort_answers(model, new)
    expected = model.predict_points(cleaned)
    assert_close(predictions, expected)
    assert predictions.dtype == np.float64 and predictions.min() >= 0 and predictions.max() <= 100
    proto = model.export.to_onnx()
    props = {p.key: p.value for p in proto.metadata_props}
    assert props["task"] == "regression" and props["target"] == "popularity"
    inputs = json.loads(props["inputs"])
    assert [i["name"] for i in inputs] == ["features", "genre"]
    assert inputs[0]["columns"] == model.features and "name_length" in inputs[0]["derived"]
    assert inputs[1]["levels"] == model.preprocessing.categories[0].levels_
    assert [i.name for i in proto.graph.input] == ["features", "genre"]
    # one product a layer for all k members of a network (+ the first layer's folded weights)
    products = [n for n in proto.graph.node if n.op_type in ("Gemm", "MatMul")]
    assert len(products) == model.n_members * (len(model.estimator.network_.layer_sizes) - 1)


def test_a_target_open_above_is_clipped_below_only(tmp_path: Path) -> None:
    """``tempo`` is at least 0 with no upper bound: the graph clips one side."""
    train = tmp_path / "train.csv"
    make_tracks(1200, seed=5).to_csv(train, index=False)
    model = fit_table_model(train, None, "tempo")
    assert model.preprocessing.target_bounds == (0.0, np.inf)
    (predictions,), cleaned = ort_answers(model, train)
    assert_close(predictions, model.predict_points(cleaned))
    clips = [n for n in model.export.to_onnx().graph.node if n.op_type == "Clip"]
    assert [list(n.input[1:]) for n in clips][-1] == ["y_low", ""]


def test_the_table_classifier(tmp_path: Path) -> None:
    train = tmp_path / "train.csv"
    frame = tracks_with_genre(1500, seed=1).drop(columns="genre")
    frame["mood"] = np.where(frame["valence"] > 0.6, "happy", "sad")
    frame.loc[frame["energy"] > 0.8, "mood"] = "wild"
    frame.to_csv(train, index=False)
    model = fit_table_model(train, "classification", "mood")
    (label, proba), cleaned = ort_answers(model, train)
    assert_close(proba, model.predict_proba(cleaned))
    assert label.tolist() == model.predict(cleaned).tolist()
    proto = model.export.to_onnx()
    assert json.loads({p.key: p.value for p in proto.metadata_props}["classes"]) == [
        "happy",
        "sad",
        "wild",
    ]


def test_the_digits_model(digits_model: Path) -> None:
    from sklearn.datasets import load_digits

    model = load_model(digits_model)
    pixels = (load_digits().images[-200:].reshape(200, -1) / 16).astype(np.float32)
    label, proba = session(model.export.to_onnx()).run(None, {"pixels": pixels})
    assert_close(proba, model.predict_proba(pixels))
    assert (label == model.predict(pixels)).all()


# --------------------------------------------------------------------------- the command


def test_export_writes_the_file_and_says_what_it_takes(digits_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "digits.onnx"
    result = run("export", "--model", str(digits_model), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "input pixels: float32 (rows × 64)" in result.stdout
    assert "outputs: label, probabilities" in result.stdout
    nodes = len(onnx.load(str(out)).graph.node)
    assert f"{nodes} nodes" in result.stdout
    result = run("export", "--model", str(digits_model), "--out", str(out), "--print-inputs")
    assert json.loads(result.stdout)[0]["shape"] == ["rows", 64]


def test_export_without_the_extra_says_what_to_install(digits_model: Path, tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "onnx.py").write_text("raise ImportError('onnx is not installed')\n")
    out = tmp_path / "model.onnx"
    result = run(
        "export", "--model", str(digits_model), "--out", str(out), env={"PYTHONPATH": str(blocked)}
    )
    assert_clean_failure(result, "pip install 'nnscratch[onnx]'")
    assert not out.exists()


# --------------------------------------------------------------------------- without nnscratch

#: Runs in a process where ``import nnscratch`` fails: only NumPy and ONNX Runtime.
WITHOUT_NNSCRATCH = textwrap.dedent("""
    import importlib.abc, sys

    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "nnscratch":
                raise ImportError("nnscratch is not importable here")

    sys.meta_path.insert(0, Refuse())
    try:
        import nnscratch
    except ImportError:
        pass
    else:
        raise SystemExit("nnscratch was importable")
    import json
    import numpy as np
    import onnxruntime as ort

    model, feeds, out = sys.argv[1:]
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    spec = json.loads(session.get_modelmeta().custom_metadata_map["inputs"])
    arrays = np.load(feeds)
    inputs = {item["name"]: arrays[item["name"]].astype(item["dtype"]) for item in spec}
    np.save(out, session.run(["predictions"], inputs)[0])
""")


def test_onnx_runtime_alone_reproduces_predict_on_the_shared_sample(
    real_tracks_path: Path, tmp_path: Path
) -> None:
    model = fit_table_model(real_tracks_path, None, None)
    saved = tmp_path / "model.npz"
    model.save(saved)
    data = task_for_data(str(real_tracks_path)).load(str(real_tracks_path), SMALL_DEFAULT, 0)
    test_rows = tmp_path / "test.csv"
    pd.read_csv(real_tracks_path).iloc[data.prepared.test_index].to_csv(test_rows, index=False)
    predicted = tmp_path / "pred.csv"
    result = run_predict(saved, test_rows, predicted)
    assert result.returncode == 0, result.stderr
    exported = tmp_path / "model.onnx"
    assert run("export", "--model", str(saved), "--out", str(exported)).returncode == 0
    cleaned, _, _ = model.read_rows(str(test_rows), with_target=False)
    feeds = tmp_path / "feeds.npz"
    np.savez(feeds, **model.export.onnx_feeds(cleaned))
    script, out = tmp_path / "alone.py", tmp_path / "out.npy"
    script.write_text(WITHOUT_NNSCRATCH)
    done = subprocess.run(
        [sys.executable, str(script), str(exported), str(feeds), str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    alone = np.load(out)
    written = pd.read_csv(predicted)["predicted_popularity"].to_numpy()
    assert len(alone) == len(written) == len(data.prepared.test_index)
    assert np.abs(np.round(alone, 2) - written).max() <= 0.01 + 1e-9
    assert_close(alone, model.predict_points(cleaned))


def test_a_tuned_threshold_decides_the_label_in_the_graph_too(table: Any) -> None:
    X, y, X_test = table
    labels = np.where(y > np.quantile(y, 0.85), "rare", "common")
    model = MLPClassifier(
        hidden_layer_sizes=(16,),
        epochs=3,
        random_state=0,
        class_weight="balanced",
        threshold="tuned",
    ).fit(X, labels)
    assert model.threshold_ is not None
    label, proba = session(model.to_onnx()).run(None, {"X": X_test})
    assert_close(proba, model.predict_proba(X_test))
    assert label.tolist() == model.predict(X_test).tolist()
    assert json.loads({p.key: p.value for p in model.to_onnx().metadata_props}["threshold"]) == (
        model.threshold_
    )
