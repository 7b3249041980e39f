"""Part 2 end to end: IDX files, the digits command line, predictions, bad input.

IDX fixtures are written here from scikit-learn's bundled 8×8 digits (real
data that ships inside scikit-learn), never from MNIST.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.datasets import load_digits
from test_cli import assert_clean_failure, check_png, run

from nnscratch.data.images import MNIST_FILES, load_images, load_mnist, read_png_folder
from nnscratch.errors import DataError, ModelFileError, NNScratchError
from nnscratch.models.classifier import MLPClassifier
from nnscratch.models.digit_model import TTA_SHIFTS, DigitModel
from nnscratch.models.persistence import read_model_file, write_model_file
from nnscratch.tasks.digits import choose_tta

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file's bytes for uint8 labels ``(n,)`` or images ``(n, rows, cols)``."""
    magic = 2049 if array.ndim == 1 else 2051
    header = np.array([magic, *array.shape], dtype=">u4").tobytes()
    return header + array.astype(np.uint8).tobytes()


def write_idx_folder(folder: Path, *, gz: bool = True, n_train: int = 1400) -> Path:
    """The four MNIST files, made of the bundled digits (pixels 0–16 stretched to 0–255)."""
    digits = load_digits()
    images = (digits.images * 255 / 16).round().astype(np.uint8)
    parts = {
        "train_images": images[:n_train],
        "train_labels": digits.target[:n_train],
        "test_images": images[n_train:],
        "test_labels": digits.target[n_train:],
    }
    folder.mkdir(parents=True, exist_ok=True)
    for key, array in parts.items():
        data = idx_bytes(array)
        name = MNIST_FILES[key] + (".gz" if gz else "")
        (folder / name).write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return folder


@pytest.fixture(scope="module")
def idx_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_idx_folder(tmp_path_factory.mktemp("idx") / "mnist")


@pytest.mark.parametrize("gz", [True, False], ids=["gzipped", "plain"])
def test_idx_round_trip(tmp_path: Path, gz: bool) -> None:
    folder = write_idx_folder(tmp_path / "mnist", gz=gz)
    data = load_mnist(folder)
    digits = load_digits()
    assert data.X_train.shape == (1400, 64) and data.X_test.shape == (397, 64)
    assert data.image_shape == (8, 8) and data.X_train.dtype == np.float32
    assert data.X_train.min() == 0 and data.X_train.max() == 1
    np.testing.assert_array_equal(data.y_test, digits.target[1400:])
    np.testing.assert_allclose(
        data.X_train[0], (digits.images[0].ravel() * 255 / 16).round() / 255, atol=1e-7
    )


def test_real_mnist_when_present() -> None:
    if not SHARED_MNIST.is_dir():
        pytest.skip(f"shared MNIST not found at {SHARED_MNIST}: skipped")
    data = load_mnist(SHARED_MNIST)
    assert data.X_train.shape == (60000, 784) and data.X_test.shape == (10000, 784)
    assert data.y_train[0] == 5
    np.testing.assert_array_equal(
        np.bincount(data.y_train), [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    )
    assert abs(data.X_train.mean() * 255 - 33.32) < 0.01


# --------------------------------------------------------------------------- bad input


def broken_folder(tmp_path: Path, idx_folder: Path, how: str) -> tuple[Path, str]:
    """A copy of the IDX folder with one file broken ``how``; returns it and the file's name."""
    folder = tmp_path / how
    folder.mkdir()
    for item in idx_folder.iterdir():
        (folder / item.name).write_bytes(item.read_bytes())
    name = MNIST_FILES["test_images"] + ".gz"
    data = gzip.decompress((folder / name).read_bytes())
    if how == "truncated":
        data = data[: len(data) - 100]
    elif how == "magic":
        data = np.array([2052], dtype=">u4").tobytes() + data[4:]
    elif how == "count":
        name = MNIST_FILES["test_labels"] + ".gz"
        labels = gzip.decompress((folder / name).read_bytes())
        data = np.array([2049, 390], dtype=">u4").tobytes() + labels[8:398]
    (folder / name).write_bytes(gzip.compress(data, mtime=0))
    return folder, name


FRAGMENTS = {
    "truncated": ["t10k-images-idx3-ubyte.gz", "truncated", "declares 397 item(s)"],
    "magic": ["t10k-images-idx3-ubyte.gz", "magic number 2052"],
    "count": ["t10k-images-idx3-ubyte.gz", "397 images but", "390 labels"],
}


@pytest.mark.parametrize("how", sorted(FRAGMENTS))
def test_broken_idx_refused_by_api_and_cli(how: str, idx_folder: Path, tmp_path: Path) -> None:
    folder, _ = broken_folder(tmp_path, idx_folder, how)
    with pytest.raises(DataError) as caught:
        load_mnist(folder)
    assert "\n" not in str(caught.value)
    for fragment in FRAGMENTS[how]:
        assert fragment in str(caught.value)
    out = tmp_path / "runs" / "out"
    result = run("train", "--data", str(folder), "--epochs", "1", "--out", str(out), "--quiet")
    assert_clean_failure(result, *FRAGMENTS[how])
    assert not (tmp_path / "runs").exists()


def test_a_png_that_is_not_an_image_is_refused(tmp_path: Path, digit_run: Path) -> None:
    folder = tmp_path / "pngs"
    folder.mkdir()
    (folder / "fake.png").write_text("not an image at all")
    with pytest.raises(DataError, match=r"fake\.png: not a readable PNG image"):
        read_png_folder(folder, (8, 8))
    out = tmp_path / "pred.csv"
    result = run(
        "predict", "--model", str(digit_run / "model.npz"), "--data", str(folder), "--out", str(out)
    )
    assert_clean_failure(result, "fake.png", "not a readable PNG image")
    assert not out.exists()


def test_a_folder_without_mnist_files_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="is a directory, not a CSV file, and has none of MNIST"):
        load_images(str(tmp_path))


# --------------------------------------------------------------------------- command line


@pytest.fixture(scope="module")
def digit_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("digits") / "run"
    result = run("train", "--data", "digits", "--epochs", "15", "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    (out / "stdout.txt").write_text(result.stdout)
    return out


def test_train_on_the_bundled_digits(digit_run: Path) -> None:
    stdout = (digit_run / "stdout.txt").read_text()
    assert "scikit-learn's bundled 8×8 digits" in stdout and "majority class" in stdout
    for name in ("curves.png", "confusion_matrix.png", "misclassified.png"):
        check_png(digit_run / name)
    metrics = json.loads((digit_run / "metrics.json").read_text())
    results = metrics["results"]
    ours = next(v for k, v in results.items() if k.startswith("nnscratch MLP"))
    assert ours["test"]["accuracy"] > 0.93
    assert ours["test"]["accuracy"] > results["majority class (1)"]["test"]["accuracy"] + 0.5
    assert set(ours["test"]) == {"accuracy", "macro_f1", "log_loss", "n"}
    model = DigitModel.load(digit_run / "model.npz")
    assert model.image_shape == (8, 8) and list(model.estimator.classes_) == list(range(10))


def test_predict_on_an_idx_folder_writes_one_row_per_test_image(
    digit_run: Path, idx_folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "pred.csv"
    result = run(
        "predict",
        "--model",
        str(digit_run / "model.npz"),
        "--data",
        str(idx_folder),
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out)
    assert list(table.columns) == ["index", "label", *(f"p{k}" for k in range(10))]
    assert list(table["index"]) == list(range(397))
    np.testing.assert_allclose(table[[f"p{k}" for k in range(10)]].sum(axis=1), 1, atol=1e-4)
    truth = load_digits().target[1400:]
    assert (table["label"].to_numpy() == truth).mean() > 0.9
    result = run("evaluate", "--model", str(digit_run / "model.npz"), "--data", str(idx_folder))
    assert result.returncode == 0, result.stderr
    assert "accuracy" in result.stdout


def test_predict_on_a_folder_of_pngs(digit_run: Path, tmp_path: Path) -> None:
    """White-on-black at the model's size, a 4× larger one, and a black-on-white one."""
    digits = load_digits()
    folder = tmp_path / "pngs"
    folder.mkdir()
    seven = (digits.images[digits.target == 7][0] * 255 / 16).astype(np.uint8)
    Image.fromarray(seven).save(folder / "a_seven.png")
    Image.fromarray(np.kron(seven, np.ones((4, 4), dtype=np.uint8))).save(folder / "b_big.png")
    Image.fromarray(255 - seven).save(folder / "c_inverted.png")
    out = tmp_path / "pred.csv"
    result = run(
        "predict", "--model", str(digit_run / "model.npz"), "--data", str(folder), "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    assert "c_inverted.png: inverted" in result.stdout
    table = pd.read_csv(out)
    assert list(table["file"]) == ["a_seven.png", "b_big.png", "c_inverted.png"]
    assert list(table["label"]) == [7, 7, 7]


def test_seed_preset_is_the_original_classifier(tmp_path: Path) -> None:
    from nnscratch.models.recipes import DIGITS_SEED_RECIPE as seed

    assert (seed.hidden, seed.activation, seed.init, seed.optimizer) == (
        (64, 32, 16),
        "relu",
        "he",
        "gd",
    )
    assert (seed.learning_rate, seed.batch_size, seed.epochs, seed.l2) == (0.5, None, 1500, 0.0)
    assert seed.first_rows == 5000 and seed.patience is None
    out = tmp_path / "seed"
    result = run(
        "train",
        "--data",
        "digits",
        "--preset",
        "seed",
        "--epochs",
        "30",
        "--out",
        str(out),
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    assert "64 → 64 → 32 → 16 → 10" in result.stdout and "the original project" in result.stdout
    model = DigitModel.load(out / "model.npz")
    assert model.estimator.batch_size is None and model.estimator.optimizer == "gd"


def test_max_rows_trains_on_a_seeded_sample_of_the_training_images(tmp_path: Path) -> None:
    """``--max-rows`` on images as on tables: a seeded sample of the training images is
    split into training and validation (the test images stay whole), and the run says so;
    without it, the split is the one of all the images."""
    from nnscratch.models.recipes import DIGITS_PRESETS
    from nnscratch.tasks.digits import Digits, holdout_split

    out = tmp_path / "sample"
    args = ("--data", "digits", "--preset", "seed", "--epochs", "1", "--max-rows", "500")
    result = run("train", *args, "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    assert "a seeded sample of 500 training images (--max-rows)" in result.stdout
    data = json.loads((out / "metrics.json").read_text())["data"]
    assert data["training_sample"] == 500
    assert data["splits"] == {"train": 450, "validation": 50, "test": 360}

    recipe = DIGITS_PRESETS["default"]
    drawn = {seed: Digits().load("digits", replace(recipe, max_rows=500), seed) for seed in (3, 4)}
    again = Digits().load("digits", replace(recipe, max_rows=500), 3)
    for part in ("train", "val"):
        assert np.array_equal(getattr(drawn[3], part), getattr(again, part))
    assert not np.array_equal(drawn[3].train, drawn[4].train)
    assert len(drawn[3].train) + len(drawn[3].val) == 500
    assert not set(drawn[3].train) & set(drawn[3].val)
    whole = Digits().load("digits", recipe, 3)
    train, val = holdout_split(len(whole.images.y_train), 3)
    assert np.array_equal(whole.train, train) and np.array_equal(whole.val, val)
    assert whole.sample is None and "training_sample" not in whole.record()["data"]


def test_augment_and_tta_flags_train_digits_and_are_refused_for_tables(
    tmp_path: Path,
) -> None:
    out = tmp_path / "shifted"
    result = run(
        "train",
        "--data",
        "digits",
        "--preset",
        "fast",
        "--augment",
        "shift",
        "--tta",
        "on",
        "--epochs",
        "3",
        "--out",
        str(out),
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    recipe = json.loads((out / "metrics.json").read_text())["recipe"]
    assert (recipe["augment"], recipe["tta"]) == ("shift", "on")
    model = DigitModel.load(out / "model.npz")
    assert model.estimator.augment == "shift" and tuple(model.estimator.image_shape) == (8, 8)
    assert model.tta is True
    result = run("train", "--augment", "shift", "--epochs", "1", "--out", str(tmp_path / "t"))
    assert result.returncode != 0
    assert "--augment shift needs image inputs (digits)" in result.stderr
    assert not (tmp_path / "t").exists()
    result = run("train", "--tta", "on", "--epochs", "1", "--out", str(tmp_path / "t"))
    assert result.returncode != 0 and "--tta on needs image inputs (digits)" in result.stderr


def moved(images: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """An independent shift: pad with zeros, then cut the window back out."""
    H, W = images.shape[1:]
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    return padded[:, 1 - dy : 1 - dy + H, 1 - dx : 1 - dx + W]


def test_test_time_augmentation_averages_the_shifted_copies(
    digit_run: Path, tmp_path: Path
) -> None:
    model = replace(DigitModel.load(digit_run / "model.npz"), tta=False)
    images = load_digits().images[:40] / 16.0
    plain = model.predict_proba(images)
    expected = np.mean(
        [model.predict_proba(moved(images, dx, dy)) for dx, dy in TTA_SHIFTS], axis=0
    )
    averaged = replace(model, tta=True)
    np.testing.assert_allclose(averaged.predict_proba(images), expected, atol=1e-6)
    assert not np.allclose(averaged.predict_proba(images), plain)
    again = DigitModel.load(averaged.save(tmp_path / "tta.npz"))
    assert again.tta is True and again.describe()["test_time_augmentation"] is True
    np.testing.assert_allclose(again.predict_proba(images), expected, atol=1e-6)
    with pytest.raises(NNScratchError, match="train it with --tta off to export it"):
        again.export.to_onnx()


def test_tta_auto_turns_on_only_where_validation_gains(digit_run: Path) -> None:
    model = replace(DigitModel.load(digit_run / "model.npz"), tta=False)
    X, y = load_digits(return_X_y=True)
    X, y = X[:300] / 16.0, y[:300]
    right = [(replace(model, tta=t).predict(X) == y).sum() for t in (False, True)]
    said: list[str] = []
    assert choose_tta(model, "auto", X, y, said.append) == (right[1] > right[0])
    assert f"{right[0]:,} → {right[1]:,} of 300 validation images right" in said[0]
    assert choose_tta(model, "on", X, y) is True and choose_tta(model, "off", X, y) is False


def test_a_model_file_with_a_bad_tta_flag_is_refused(digit_run: Path, tmp_path: Path) -> None:
    arrays, meta = read_model_file(digit_run / "model.npz", MLPClassifier.expected_arrays)
    meta["images"]["tta"] = "yes"
    write_model_file(tmp_path / "bad.npz", arrays, meta)
    with pytest.raises(ModelFileError, match=r"images\.tta must be true or false, got 'yes'"):
        DigitModel.load(tmp_path / "bad.npz")
    del meta["images"]["tta"]  # a file written before test-time augmentation
    write_model_file(tmp_path / "old.npz", arrays, meta)
    assert DigitModel.load(tmp_path / "old.npz").tta is False
