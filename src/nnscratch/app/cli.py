"""The ``nnscratch`` command line: train, evaluate, predict, download, experiment.

Exit codes: 0 success; 2 bad input (a one-line message on stderr, no
traceback); 1 an unexpected failure (a bug: set ``NNSCRATCH_DEBUG=1`` to see
the traceback); 130 interrupted. A failed command leaves no output behind:
files are staged and moved into place only when everything succeeded.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix

from nnscratch import __version__
from nnscratch.app.lab import add_parser as add_experiment_parser
from nnscratch.app.runs import (
    default_run_dir,
    digit_predictions,
    load_frame,
    model_kind,
    resolve_data,
    say,
    staged_directory,
    table_predictions,
    write_history_csv,
    write_json,
)
from nnscratch.app.search import add_parser as add_tune_parser
from nnscratch.app.serving import add_parser as add_serve_parser
from nnscratch.core.training import History
from nnscratch.data.cleaning import clean, to_number
from nnscratch.data.features import DEFAULT_FEATURES
from nnscratch.data.images import (
    DigitImages,
    is_image_source,
    is_mnist_folder,
    load_images,
    read_png_folder,
)
from nnscratch.data.preprocessing import PreparedData, Preprocessing, prepare
from nnscratch.data.schemas import SCHEMAS, TARGET
from nnscratch.data.synthetic import SYNTHETIC_LABEL
from nnscratch.data.tracks import describe_left_out, load_tracks
from nnscratch.errors import DataError, NNScratchError
from nnscratch.files import atomic_write_bytes, atomic_write_text
from nnscratch.models.classifier import MLPClassifier
from nnscratch.models.digit_model import DigitModel
from nnscratch.models.metrics import (
    baseline_metrics,
    classification_metrics,
    classification_results,
    format_classification_table,
    format_table,
    regression_metrics,
    split_metrics,
)
from nnscratch.models.popularity_model import PopularityModel
from nnscratch.models.recipes import DIGITS_PRESETS, PRESETS, Recipe
from nnscratch.models.table_model import TabularClassifier
from nnscratch.tasks.plots import (
    accuracy_curve_figure,
    confusion_matrix_figure,
    loss_curve_figure,
    misclassified_figure,
    pred_vs_actual_figure,
    residuals_figure,
    save_figure,
)

KAGGLE_DATASET = "yamaerenay/spotify-dataset-19212020-600k-tracks"


# --------------------------------------------------------------------------- data


def note_format(frame: pd.DataFrame) -> None:
    """Say so when a file was not plain comma-separated."""
    delimiter = frame.attrs.get("delimiter", ",")
    if delimiter != ",":
        name = {";": "semicolon", "\t": "tab"}.get(delimiter, repr(delimiter))
        comma = " with decimal commas" if frame.attrs.get("decimal") == "," else ""
        say(f"note: {frame.attrs.get('source')} read as {name}-separated{comma}")


def describe_network(
    recipe: Recipe, n_features: int, n_train: int, n_outputs: int = 1, output: str | None = None
) -> str:
    """The layer sizes and every array's shape, in the network's layout."""
    sizes = [n_features, *recipe.hidden, n_outputs]
    output = output or recipe.output_activation
    k = recipe.k
    if k == 1:
        shapes = "  ".join(
            f"W{l} ({sizes[l]}, {sizes[l - 1]}) b{l} ({sizes[l]}, 1)" for l in range(1, len(sizes))
        )
    else:
        shapes = "  ".join(
            f"W{l} ({sizes[l]}, {sizes[l - 1]}) R{l} ({sizes[l - 1]}, {k}) "
            f"S{l} ({sizes[l]}, {k}) B{l} ({sizes[l]}, {k})"
            for l in range(1, len(sizes))
        )
    lines = [
        "network: " + " → ".join(map(str, sizes)) + f", hidden {recipe.activation}, output "
        f"{output}, {recipe.init} init, {recipe.dtype}",
        f"  X_train ({n_features}, {n_train})  Y_train ({n_outputs}, {n_train})"
        "   (network layout: features × samples)",
        f"  {shapes}",
    ]
    if k > 1:
        lines.insert(
            1,
            f"  TabM: {k} members share each W and own scalings R, S and biases B; "
            f"a layer's activations are one (features, {k}, batch) block",
        )
    return "\n".join(lines)


def results_name(estimator: Any) -> str:
    """The results table's name for a fitted estimator: shape, TabM's k, ensemble size."""
    name = "nnscratch MLP " + "-".join(map(str, estimator.network_.layer_sizes))
    if estimator.k > 1:
        name += f" k={estimator.k}"
    n_members = len(estimator.networks_)
    return name + (f" ×{n_members}" if n_members > 1 else "")


# --------------------------------------------------------------------------- train


def parse_int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def parse_name_list(text: str) -> tuple[str, ...]:
    values = tuple(v.strip() for v in text.split(",") if v.strip())
    if not values:
        raise argparse.ArgumentTypeError("expected at least one column name")
    return values


def parse_batch_size(text: str) -> int:
    """An integer ≥ 1, or ``full`` for full-batch gradient descent (0 internally)."""
    if text.lower() in ("full", "none", "all"):
        return 0
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("batch size must be >= 1 or 'full'")
    return value


def recipe_from_args(args: argparse.Namespace, presets: dict[str, Recipe] = PRESETS) -> Recipe:
    base = Recipe.from_json(args.recipe) if args.recipe else presets[args.preset]
    recipe = base.with_overrides(
        features=args.features,
        hidden=args.hidden,
        optimizer=args.optimizer,
        learning_rate=args.lr,
        epochs=args.epochs,
        max_steps=args.max_steps,
        l2=args.l2,
        max_rows=args.max_rows,
        output_activation=args.output_activation,
        activation=args.activation,
        lr_schedule=args.schedule,
        dtype=args.dtype,
        dropout=args.dropout,
        scoring=args.scoring,
    )
    if args.batch_size is not None:  # 0 means full batch
        recipe = dataclasses.replace(recipe, batch_size=args.batch_size or None)
    if args.patience is not None:  # 0 means no early stopping
        recipe = dataclasses.replace(recipe, patience=args.patience or None)
    if args.k is not None:
        if args.k < 1:
            raise DataError(f"--k must be a positive integer, got {args.k}")
        recipe = dataclasses.replace(recipe, k=args.k)
    if recipe.k > 1 and recipe.dropout:
        raise DataError(
            f"--dropout {recipe.dropout} needs plain networks, and this recipe's are TabM "
            f"networks of k={recipe.k} members (which take no dropout): add --k 1, or "
            "--preset fast"
        )
    return recipe


def load_prepared(
    args: argparse.Namespace, recipe: Recipe, target: str, task: str
) -> tuple[pd.DataFrame, PreparedData]:
    """Read ``--data`` (or the synthetic sample), clean, split and scale it; report each step."""
    frame = load_frame(
        resolve_data(args.data),
        recipe.features,
        args.seed,
        target=target,
        optional=recipe.optional,
        categoricals=recipe.categoricals,
    )
    note_format(frame)
    features, categoricals = frame.attrs["features"], frame.attrs["categoricals"]
    if not features:
        raise DataError(f"{frame.attrs['source']}: none of the recipe's features is in this file")
    data = prepare(
        frame,
        features,
        target,
        seed=args.seed,
        max_rows=recipe.max_rows,
        dtype=np.dtype(recipe.dtype),
        categoricals=categoricals,
        task=task,
    )
    say(str(data.report))
    schema = frame.attrs.get("schema", "custom")
    if schema != "custom":
        say(f"  schema: {next(s.title for s in SCHEMAS if s.name == schema)}")
    for line in describe_left_out(frame.attrs["left_out"]):
        say(f"  {line}")
    for category in data.categories:
        say(
            f"  {category.column}: {len(category.levels_)} level(s) one-hot encoded, "
            "rarer or unseen ones as 'other'"
        )
    sizes = data.split_sizes()
    say(
        f"  split (seed {args.seed}): train {sizes['train']:,}, validation "
        f"{sizes['validation']:,}, test {sizes['test']:,}; Min-Max scaling fit on train only"
    )
    if sizes["train"] < 2:
        raise DataError(
            f"{data.report.source}: only {sizes['train']} training row(s); need at least 2"
        )
    return frame, data


def describe_inputs(recipe: Recipe, data: PreparedData, pre: Preprocessing) -> None:
    """Say how the features become the network's inputs, and the network."""
    if pre.encoder is not None:
        one_hot = len(data.column_names) - len(data.feature_names)
        say(
            f"inputs: {len(data.feature_names)} features, each piecewise-linear encoded in up "
            f"to {recipe.n_bins} {'target-aware ' if recipe.bins == 'tree' else ''}bins "
            "plus its scaled value"
            + (f", and {one_hot} one-hot columns" if one_hot else "")
            + f" → {pre.n_inputs} network inputs"
        )
    n_outputs, output = 1, None
    if data.task == "classification":
        n_classes = len(pd.unique(data.y_train))
        n_outputs, output = (n_classes, "softmax") if n_classes > 2 else (1, "sigmoid")
    say(describe_network(recipe, pre.n_inputs, len(data.y_train), n_outputs, output))
    if recipe.n_members > 1:
        say(f"  an ensemble of {recipe.n_members} such networks, predictions averaged")


def describe_recipe(args: argparse.Namespace, recipe: Recipe) -> str:
    origin = f"recipe: {args.recipe}" if args.recipe else f"preset: {args.preset}"
    return f"{origin} ({recipe.notes})" if recipe.notes else origin


def fit_reporting(
    args: argparse.Namespace, recipe: Recipe, data: PreparedData
) -> tuple[Any, float]:
    """Fit ``recipe`` on ``data`` (Ctrl-C stops after the batch), saying what and how long."""
    estimator = recipe.build_for(data, args.seed, verbose=not args.quiet)
    say(describe_recipe(args, recipe))
    pre = recipe.preprocessing(data)
    describe_inputs(recipe, data, pre)
    fit_started = time.perf_counter()
    model = recipe.fit(data, estimator=estimator, preprocessing=pre, handle_interrupts=True)
    fit_seconds = time.perf_counter() - fit_started
    history = model.history
    stop_note = (
        "interrupted"
        if history.interrupted
        else "stopped early"
        if history.stopped_early
        else "ran all epochs"
    )
    best = f", best epoch {history.best_epoch + 1}" if history.best_epoch is not None else ""
    members = f" per member, {model.n_members} members" if model.n_members > 1 else ""
    say(f"trained {history.n_epochs} epoch(s){members} in {fit_seconds:.1f} s ({stop_note}{best})")
    return model, fit_seconds


def cmd_train(args: argparse.Namespace) -> int:
    source = resolve_data(args.data)
    if is_image_source(source):
        if args.task == "classification" and args.target:
            raise DataError(f"{source}: images have no columns; drop --target")
        return cmd_train_digits(args, source)
    recipe = recipe_from_args(args)
    if args.task == "classification":
        return cmd_train_classification(args, recipe)
    if recipe.scoring != "loss":
        raise DataError("--scoring accuracy needs a classification task (--task classification)")
    started = time.perf_counter()
    frame, data = load_prepared(args, recipe, args.target or TARGET, "regression")
    features = frame.attrs["features"]
    out = Path(args.out) if args.out else default_run_dir()

    model, fit_seconds = fit_reporting(args, recipe, data)
    history = model.history

    name = results_name(model.estimator)
    results = {name: split_metrics(data, model.predict_scaled)}
    seed_cols = None
    if list(features) != list(DEFAULT_FEATURES) and set(DEFAULT_FEATURES) <= set(features):
        seed_cols = [list(features).index(f) for f in DEFAULT_FEATURES]
    baselines = baseline_metrics(data, seed=args.seed, seed_feature_columns=seed_cols)
    results.update(baselines)
    table = format_table(results, f"results in {data.target} points ({data.report.source})")
    say()
    say(table)

    model_name = "checkpoint.npz" if history.interrupted else "model.npz"
    with staged_directory(out) as stage:
        model.save(stage / model_name)
        write_json(
            stage / "metrics.json",
            table_run_record(args, recipe, frame, data, results)
            | run_summary(history, fit_seconds, started),
        )
        write_history_csv(stage / "history.csv", history)
        _write_training_plots(stage, model, data)
    say()
    if history.interrupted:
        say(f"interrupted: the best weights so far are saved as {out / model_name}")
    say(
        f"outputs in {out}/: {model_name}, metrics.json, history.csv, loss_curve.png, "
        "pred_vs_actual.png, residuals.png"
    )
    return 130 if history.interrupted else 0


def cmd_train_classification(args: argparse.Namespace, recipe: Recipe) -> int:
    """``nnscratch train --task classification --target COLUMN``: classify a table's rows."""
    if not args.target:
        raise DataError("--task classification needs --target COLUMN (the column of labels)")
    started = time.perf_counter()
    frame, data = load_prepared(args, recipe, args.target, "classification")
    classes = np.unique(data.y_train)
    counts = pd.Series(data.y_train).value_counts()
    say(
        f"  target {data.target!r}: {len(classes)} classes in the training split ("
        + ", ".join(f"{c}: {n:,}" for c, n in list(counts.items())[:10])
        + (", …" if len(counts) > 10 else "")
        + ")"
    )
    out = Path(args.out) if args.out else default_run_dir()
    model, fit_seconds = fit_reporting(args, recipe, data)
    history = model.history

    splits = {"validation": (data.X_val, data.y_val), "test": (data.X_test, data.y_test)}
    splits = {s: (X, y) for s, (X, y) in splits.items() if len(y)}
    probabilities = {s: model.predict_proba_scaled(X) for s, (X, _) in splits.items()}
    name = results_name(model.estimator)
    results = classification_results(
        name, probabilities, splits, classes, (data.X_train, data.y_train), args.seed
    )
    say()
    say(format_classification_table(results, f"{data.target} on {data.report.source}"))

    model_name = "checkpoint.npz" if history.interrupted else "model.npz"
    with staged_directory(out) as stage:
        model.save(stage / model_name)
        write_json(
            stage / "metrics.json",
            {"task": "classification"}
            | table_run_record(args, recipe, frame, data, results)
            | run_summary(history, fit_seconds, started),
        )
        write_history_csv(stage / "history.csv", history)
        _write_classification_plots(stage, history, data.y_test, probabilities.get("test"), classes)
    say()
    if history.interrupted:
        say(f"interrupted: the best weights so far are saved as {out / model_name}")
    say(
        f"outputs in {out}/: {model_name}, metrics.json, history.csv, curves.png, "
        "confusion_matrix.png"
    )
    return 130 if history.interrupted else 0


def table_run_record(
    args: argparse.Namespace,
    recipe: Recipe,
    frame: pd.DataFrame,
    data: PreparedData,
    results: dict[str, Any],
) -> dict[str, Any]:
    """What ``metrics.json`` says about a run on a table: data, recipe, features, results."""
    return {
        "nnscratch_version": __version__,
        "data": {
            **data.report.to_dict(),
            "splits": data.split_sizes(),
            "seed": args.seed,
            "synthetic": data.report.source == SYNTHETIC_LABEL,
        },
        "recipe": {"preset": args.preset, "file": args.recipe, **recipe.to_dict()},
        "features": {
            "used": list(frame.attrs["features"]),
            "categorical": list(frame.attrs["categoricals"]),
            "left_out": frame.attrs["left_out"],
            "schema": frame.attrs.get("schema", "custom"),
        },
        "results": results,
    }


def run_summary(history: History, fit_seconds: float, started: float) -> dict[str, Any]:
    """How training ended and how long it took, for ``metrics.json``."""
    return {
        "training": {
            "epochs_run": history.n_epochs,
            "best_epoch": history.best_epoch,
            "stopped_early": history.stopped_early,
            "interrupted": history.interrupted,
        },
        "timing": {
            "fit_seconds": fit_seconds,
            "total_seconds": time.perf_counter() - started,
            "finished": datetime.now().isoformat(timespec="seconds"),
        },
    }


def _write_training_plots(stage: Path, model: PopularityModel, data: PreparedData) -> None:
    h = model.history
    save_figure(loss_curve_figure(h.train_loss, h.val_loss, h.best_epoch), stage / "loss_curve.png")
    pre = model.preprocessing
    y_true = pre.inverse_transform_y(data.y_test)
    y_pred = pre.to_points(model.predict_scaled(data.X_test))
    source = data.report.source
    save_figure(
        pred_vs_actual_figure(y_true, y_pred, f"Test split: predicted vs actual\n{source}"),
        stage / "pred_vs_actual.png",
    )
    save_figure(
        residuals_figure(y_true, y_pred, f"Test split residuals — {source}"),
        stage / "residuals.png",
    )


# --------------------------------------------------------------------------- digits

#: Training images held out for validation (early stopping, curves): MNIST's usual 5,000.
DIGITS_VALIDATION = 5000


def cmd_train_digits(args: argparse.Namespace, source: str) -> int:
    """``nnscratch train --data MNIST_DIR`` (or ``digits``, or an ``.npz``): a digit classifier."""
    recipe = recipe_from_args(args, DIGITS_PRESETS)
    started = time.perf_counter()
    images = load_images(source, args.seed)
    rows, cols = images.image_shape
    n = len(images.y_train)
    n_val = min(DIGITS_VALIDATION, max(1, n // 10))
    rng = np.random.default_rng(args.seed)
    if recipe.first_rows is not None and recipe.first_rows + n_val <= n:
        # the seed's classifier: the first N training images; validation from the rest
        train = np.arange(recipe.first_rows)
        val = np.sort(recipe.first_rows + rng.permutation(n - recipe.first_rows)[:n_val])
    else:
        order = rng.permutation(n)
        val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
        if recipe.first_rows is not None:
            train = train[: recipe.first_rows]
    X_train, y_train = images.X_train[train], images.y_train[train]
    X_val, y_val = images.X_train[val], images.y_train[val]
    say(f"data: {images.source}")
    say(
        f"  {n:,} training and {len(images.y_test):,} test images of {rows}×{cols} pixels, "
        f"scaled to [0, 1]; classes {', '.join(map(str, np.unique(images.y_train)))}"
    )
    say(
        f"  split (seed {args.seed}): train {len(train):,}, validation {len(val):,} (from the "
        f"training images), test {len(images.y_test):,} (the official test images)"
        if images.source != "scikit-learn's bundled 8×8 digits"
        else f"  split (seed {args.seed}): train {len(train):,}, validation {len(val):,}, "
        f"test {len(images.y_test):,}"
    )
    out = Path(args.out) if args.out else default_run_dir()
    say(describe_recipe(args, recipe))
    estimator = recipe.build_classifier(args.seed, verbose=not args.quiet)
    classes = np.unique(images.y_train)
    sizes = [rows * cols, *recipe.hidden, len(classes) if len(classes) > 2 else 1]
    say(
        "network: " + " → ".join(map(str, sizes)) + f", hidden {recipe.activation}, output "
        f"{'softmax' if len(classes) > 2 else 'sigmoid'}, {recipe.init} init, {recipe.dtype}"
        + (f", dropout {recipe.dropout:g}" if recipe.dropout else "")
    )
    if recipe.n_members > 1:
        say(f"  an ensemble of {recipe.n_members} such networks, probabilities averaged")
    fit_started = time.perf_counter()
    estimator.fit(X_train, y_train, eval_set=(X_val, y_val), handle_interrupts=True)
    fit_seconds = time.perf_counter() - fit_started
    history = estimator.history_
    members = f" per member, {len(estimator.networks_)} members" if recipe.n_members > 1 else ""
    say(f"trained {history.n_epochs} epoch(s){members} in {fit_seconds:.1f} s")

    model = DigitModel(estimator, images.image_shape)
    splits = {"validation": (X_val, y_val), "test": (images.X_test, images.y_test)}
    probabilities = {s: estimator.predict_proba(X) for s, (X, _) in splits.items()}
    name = results_name(estimator)
    results = classification_results(
        name, probabilities, splits, classes, (X_train, y_train), args.seed
    )
    say()
    say(format_classification_table(results, f"results on {images.source}"))

    model_name = "checkpoint.npz" if history.interrupted else "model.npz"
    with staged_directory(out) as stage:
        model.save(stage / model_name)
        write_json(
            stage / "metrics.json",
            {
                "nnscratch_version": __version__,
                "task": "digits",
                "data": {
                    "source": images.source,
                    "image_shape": [rows, cols],
                    "splits": {
                        "train": len(train),
                        "validation": len(val),
                        "test": len(images.y_test),
                    },
                    "seed": args.seed,
                },
                "recipe": {"preset": args.preset, "file": args.recipe, **recipe.to_dict()},
                "results": results,
                **run_summary(history, fit_seconds, started),
            },
        )
        write_history_csv(stage / "history.csv", history)
        _write_digit_plots(stage, estimator, images, probabilities["test"], classes)
    say()
    say(
        f"outputs in {out}/: {model_name}, metrics.json, history.csv, curves.png, "
        "confusion_matrix.png, misclassified.png"
    )
    return 130 if history.interrupted else 0


def _write_classification_plots(
    stage: Path,
    history: History,
    y_test: np.ndarray,
    test_proba: np.ndarray | None,
    classes: np.ndarray,
) -> None:
    """``curves.png`` (loss and accuracy per epoch) and the test split's confusion matrix."""
    h = history
    save_figure(
        accuracy_curve_figure(h.train_loss, h.val_loss, h.val_accuracy, h.best_epoch),
        stage / "curves.png",
    )
    if test_proba is None:
        return
    predicted = classes[np.argmax(test_proba, axis=1)]
    matrix = confusion_matrix(y_test, predicted, labels=classes)
    accuracy = float(np.mean(predicted == y_test)) * 100
    save_figure(
        confusion_matrix_figure(
            matrix, [str(c) for c in classes], f"test split, accuracy {accuracy:.2f}%"
        ),
        stage / "confusion_matrix.png",
    )


def _write_digit_plots(
    stage: Path,
    estimator: MLPClassifier,
    images: DigitImages,
    test_proba: np.ndarray,
    classes: np.ndarray,
) -> None:
    _write_classification_plots(stage, estimator.history_, images.y_test, test_proba, classes)
    predicted = classes[np.argmax(test_proba, axis=1)]
    wrong = np.flatnonzero(predicted != images.y_test)[:36]
    shaped = images.X_test[wrong].reshape(len(wrong), *images.image_shape)
    save_figure(
        misclassified_figure(
            shaped,
            images.y_test[wrong],
            predicted[wrong],
            f"misclassified test images (true → predicted), first {len(wrong)} of "
            f"{int((predicted != images.y_test).sum())}",
        ),
        stage / "misclassified.png",
    )


# --------------------------------------------------------------------------- evaluate / predict


def cmd_evaluate(args: argparse.Namespace) -> int:
    kind = model_kind(args.model)
    if kind == "digits":
        return cmd_evaluate_digits(args)
    if kind == "classification":
        return cmd_evaluate_classification(args)
    model = PopularityModel.load(args.model)
    pre = model.preprocessing
    frame = load_tracks(
        args.data,
        features=pre.features + pre.categorical_columns,
        target=pre.target,
    )
    note_format(frame)
    cleaned, report = clean(frame, pre.features, pre.target)
    say(str(report))
    y_true = cleaned[pre.target].to_numpy(dtype=np.float64)
    y_pred = model.predict_points(cleaned)
    mean = pre.target_mean if pre.target_mean is not None else 0.0
    rows = {
        f"model ({Path(args.model).name})": {"test": regression_metrics(y_true, y_pred)},
        "training mean": {"test": regression_metrics(y_true, np.full(len(y_true), mean))},
    }
    say()
    say(
        format_table(
            rows,
            f"{pre.target} points on {args.data} ({len(y_true):,} rows; "
            "'test' = every usable row of this file)",
        )
    )
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    kind = model_kind(args.model)
    if kind == "digits":
        return cmd_predict_digits(args)
    if kind == "classification":
        return cmd_predict_classification(args)
    model = PopularityModel.load(args.model)
    pre = model.preprocessing
    frame = load_tracks(args.data, features=pre.features + pre.categorical_columns, target=None)
    note_format(frame)
    cleaned, report = clean(frame, pre.features, target=None)
    y_pred = model.predict_points(cleaned)
    out = table_predictions(model, cleaned, y_pred)
    atomic_write_text(args.out, out.to_csv(index=False))
    say(f"predicted {len(out):,} of {report.rows_read:,} rows → {args.out}")
    if report.rows_dropped:
        say(f"skipped {report.rows_dropped:,} row(s) that cannot be scored: {report.reasons()}")
    if pre.target in cleaned.columns:
        actual = to_number(cleaned[pre.target])
        known = actual.between(*pre.target_bounds).to_numpy()
        if known.any():
            scores = regression_metrics(actual.to_numpy()[known], y_pred[known])
            say(
                f"{pre.target} present for {known.sum():,} scored rows: RMSE {scores['rmse']:.2f}, "
                f"MAE {scores['mae']:.2f}, R² {scores['r2']:.3f}"
            )
    return 0


def _read_for(model: TabularClassifier, path: str, *, with_target: bool) -> pd.DataFrame:
    """The usable rows of ``path`` for a table classifier (its features; labels if asked)."""
    pre = model.preprocessing
    target = pre.target if with_target else None
    frame = load_tracks(path, features=pre.features + pre.categorical_columns, target=target)
    note_format(frame)
    cleaned, report = clean(frame, pre.features, target, labels=True)
    say(str(report))
    return cleaned


def cmd_evaluate_classification(args: argparse.Namespace) -> int:
    model = TabularClassifier.load(args.model)
    cleaned = _read_for(model, args.data, with_target=True)
    y = cleaned[model.target].to_numpy()
    known = np.isin(y, model.classes_)
    if not known.all():
        unknown = sorted(map(str, pd.unique(y[~known])))[:5]
        say(
            f"skipped {int((~known).sum()):,} row(s) whose label is not a class of the model: "
            + ", ".join(unknown)
        )
    proba = model.predict_proba(cleaned[known])
    rows = {
        f"model ({Path(args.model).name})": {
            "test": classification_metrics(y[known], proba, model.classes_)
        }
    }
    say()
    say(
        format_classification_table(
            rows,
            f"{model.target} on {args.data} ({int(known.sum()):,} rows; 'test' = every "
            "usable row of this file)",
        )
    )
    return 0


def cmd_predict_classification(args: argparse.Namespace) -> int:
    """One row per usable input row: id (when present), the label, one probability per class."""
    model = TabularClassifier.load(args.model)
    cleaned = _read_for(model, args.data, with_target=False)
    out = table_predictions(model, cleaned)
    atomic_write_text(args.out, out.to_csv(index=False))
    say(f"predicted {len(out):,} row(s) → {args.out}")
    return 0


def cmd_evaluate_digits(args: argparse.Namespace) -> int:
    model = DigitModel.load(args.model)
    images = load_images(args.data)
    proba = model.predict_proba(images.X_test)
    classes = model.estimator.classes_
    scores = classification_metrics(images.y_test, proba, classes)
    rows = {f"model ({Path(args.model).name})": {"test": scores}}
    say(format_classification_table(rows, f"the test images of {images.source}"))
    return 0


def cmd_predict_digits(args: argparse.Namespace) -> int:
    """One row per image: MNIST's test images in file order, or a folder's PNGs by name."""
    model = DigitModel.load(args.model)
    source = Path(args.data)
    if source.is_dir() and not is_mnist_folder(source):
        names, X, notes = read_png_folder(source, model.image_shape)
        first = pd.DataFrame({"file": names})
        for note in notes:
            say(f"note: {note}")
    else:
        images = load_images(args.data)
        X = images.X_test
        first = pd.DataFrame({"index": np.arange(len(X))})
    out = digit_predictions(model, X, first)
    atomic_write_text(args.out, out.to_csv(index=False))
    say(f"predicted {len(out):,} image(s) → {args.out}")
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    hint = (
        f"download tracks.csv of the Kaggle dataset {KAGGLE_DATASET} on a machine with "
        "network access and pass it with --data PATH (or set NNSCRATCH_DATA)"
    )
    try:
        import kagglehub  # type: ignore[import-not-found]
    except ImportError:
        raise DataError(
            "downloading needs the optional kagglehub package "
            f"(pip install 'nnscratch[download]'); or {hint}"
        ) from None
    try:
        folder = Path(kagglehub.dataset_download(KAGGLE_DATASET))
    except Exception as exc:  # network, authentication, quota: all end the same way
        raise DataError(
            f"could not download the dataset ({type(exc).__name__}: {exc}); {hint}"
        ) from exc
    source = folder / "tracks.csv"
    if not source.is_file():
        raise DataError(f"{folder}: the download has no tracks.csv; {hint}")
    dest = Path(args.dest)
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / "tracks.csv"
    atomic_write_bytes(target, source.read_bytes())
    say(f"saved {target}; train on it with: nnscratch train --data {target}")
    return 0


# --------------------------------------------------------------------------- parser


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps descriptions as written; adds ``(default: X)`` only where there is one."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help_text = action.help or ""
        default = action.default
        if (
            "%(default)" in help_text
            or default is None
            or default is False
            or default is argparse.SUPPRESS
            or not action.option_strings
        ):
            return help_text
        return f"{help_text} (default: %(default)s)"


def _examples(text: str) -> str:
    return "examples:\n" + textwrap.indent(textwrap.dedent(text).strip(), "  ")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnscratch",
        description="A from-scratch NumPy MLP that predicts Spotify track popularity (0–100).",
        formatter_class=_Formatter,
        epilog=_examples("""
            nnscratch train                                  # built-in synthetic sample
            nnscratch train --data tracks.csv --out runs/first
            nnscratch evaluate --model runs/first/model.npz --data tracks.csv
            nnscratch predict --model runs/first/model.npz --data new.csv --out pred.csv
        """),
    )
    parser.add_argument("--version", action="version", version=f"nnscratch {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = sub.add_parser(
        "train",
        help="train a model and report it beside baselines",
        description="Train on a Spotify CSV (any recognised schema) or the built-in synthetic "
        "sample; print the data report, a progress bar and a results table in popularity "
        "points; write model.npz, metrics.json, history.csv and plots.",
        formatter_class=_Formatter,
        epilog=_examples("""
            nnscratch train
            nnscratch train --data ../shared/data/spotify/tracks.csv
            nnscratch train --data tracks.csv --preset seed      # the seed's full-batch GD
            nnscratch train --data tracks.csv --hidden 128,64 --lr 3e-3 --epochs 50
            nnscratch train --data ../shared/data/mnist       # a digit classifier on MNIST
            nnscratch train --data digits --preset seed        # the original digit classifier
            nnscratch train --data tracks.csv --task classification --target explicit
        """),
    )
    train.add_argument(
        "--data",
        help="a tracks CSV or CSV.gz; or images: an MNIST folder (its four IDX files), "
        "'digits' (scikit-learn's bundled 8×8 digits) or an .npz of X and y; default: "
        "$NNSCRATCH_DATA, else the built-in synthetic tracks",
    )
    train.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="default",
        help="starting configuration; flags below override it",
    )
    train.add_argument(
        "--recipe",
        help="a JSON recipe (e.g. best.json from `nnscratch tune`) instead of --preset; "
        "flags below override it",
    )
    train.add_argument(
        "--target",
        help="the column to predict (default: popularity, or its alias in a known schema)",
    )
    train.add_argument(
        "--task",
        choices=["regression", "classification"],
        default="regression",
        help="regression (a number) or classification (the --target column holds class "
        "labels, e.g. explicit); images are always classified",
    )
    train.add_argument("--features", type=parse_name_list, help="comma-separated feature columns")
    train.add_argument("--hidden", type=parse_int_list, help="hidden layer widths, e.g. 64,32,16")
    train.add_argument("--activation", help="hidden activation (relu, tanh, sigmoid, leaky_relu)")
    train.add_argument("--output-activation", help="output activation (identity, relu)")
    train.add_argument("--optimizer", help="adam, adamw, momentum, nesterov or gd")
    train.add_argument("--lr", type=float, help="learning rate")
    train.add_argument("--schedule", help="constant, step, cosine or plateau")
    train.add_argument("--batch-size", type=parse_batch_size, help="samples per step, or 'full'")
    train.add_argument("--epochs", type=int, help="passes over the training split")
    train.add_argument(
        "--k",
        type=int,
        help="TabM members sharing each network's weights (1: plain networks; default recipe: 16)",
    )
    train.add_argument(
        "--max-steps",
        type=int,
        help="at most this many optimizer steps, in whole epochs (the default recipe: 8000; "
        "large files then get fewer epochs)",
    )
    train.add_argument("--l2", type=float, help="L2 strength λ in λ/(2m) Σ‖W‖²")
    train.add_argument("--dropout", type=float, help="dropout rate of every hidden layer")
    train.add_argument(
        "--patience", type=int, help="early-stopping patience in epochs (0: no early stopping)"
    )
    train.add_argument(
        "--scoring",
        choices=["loss", "accuracy"],
        help="what early stopping watches on the validation split (accuracy: classifiers only)",
    )
    train.add_argument("--max-rows", type=int, help="use a seeded random subset of this many rows")
    train.add_argument("--dtype", choices=["float32", "float64"], help="training precision")
    train.add_argument("--seed", type=int, default=0, help="seed for split, init and shuffling")
    train.add_argument("--out", help="output directory (default: runs/<timestamp>)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=cmd_train)

    evaluate = sub.add_parser(
        "evaluate",
        help="score a saved model on a CSV",
        description="Print RMSE, MAE and R² in popularity points of a saved model on every "
        "usable row of a CSV (any recognised schema).",
        formatter_class=_Formatter,
        epilog=_examples("nnscratch evaluate --model runs/first/model.npz --data tracks.csv"),
    )
    evaluate.add_argument("--model", required=True, help="model.npz written by `nnscratch train`")
    evaluate.add_argument(
        "--data",
        required=True,
        help="CSV with a popularity column; for a digits model, an MNIST folder or 'digits'",
    )
    evaluate.set_defaults(func=cmd_evaluate)

    predict = sub.add_parser(
        "predict",
        help="write predicted popularity for a CSV",
        description="Write id (when present) and predicted_popularity (0–100) for every row "
        "that can be scored; report skipped rows. The CSV may lack popularity; where it has "
        "it, the RMSE is printed too.",
        formatter_class=_Formatter,
        epilog=_examples(
            "nnscratch predict --model runs/first/model.npz --data new.csv --out pred.csv"
        ),
    )
    predict.add_argument("--model", required=True, help="model.npz written by `nnscratch train`")
    predict.add_argument(
        "--data",
        required=True,
        help="CSV of tracks to score; for a digits model, an MNIST folder (its test images, "
        "one row each: index,label,p0..p9) or a folder of PNG digits (white on black; other "
        "sizes are resized, dark-on-light ones inverted)",
    )
    predict.add_argument("--out", required=True, help="where to write the predictions CSV")
    predict.set_defaults(func=cmd_predict)

    download = sub.add_parser(
        "download",
        help="fetch the real Kaggle dataset (needs network and kagglehub)",
        description=f"Download tracks.csv of the Kaggle dataset {KAGGLE_DATASET} with "
        "kagglehub (pip install 'nnscratch[download]').",
        formatter_class=_Formatter,
        epilog=_examples("nnscratch download --dest data/"),
    )
    download.add_argument("--dest", default="data", help="folder to save tracks.csv in")
    download.set_defaults(func=cmd_download)

    add_experiment_parser(sub, _Formatter, _examples)
    add_tune_parser(sub, _Formatter, _examples)
    add_serve_parser(sub, _Formatter, _examples)
    return parser


def _one_line(message: str) -> str:
    return " ".join(part.strip() for part in str(message).splitlines() if part.strip())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except NNScratchError as exc:
        print(f"nnscratch: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nnscratch: interrupted; nothing was written", file=sys.stderr)
        return 130
    except MemoryError:
        print(
            "nnscratch: error: out of memory; nothing was written or replaced (try --max-rows "
            "or a smaller --batch-size)",
            file=sys.stderr,
        )
        return 2
    except Exception as exc:
        if os.environ.get("NNSCRATCH_DEBUG"):
            raise
        print(
            f"nnscratch: unexpected error: {type(exc).__name__}: {_one_line(str(exc))} "
            "(this is a bug; rerun with NNSCRATCH_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return 1
