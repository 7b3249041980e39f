"""What the two table tasks share: loading a tracks file into splits, the network's
description, fitting a recipe, cross-validation folds and the lab's arrays.

The table tasks (:mod:`~nnscratch.tasks.regression`,
:mod:`~nnscratch.tasks.classification`) differ only in the target: a number,
scaled to [0, 1] on the training split, or class labels kept as they are.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from nnscratch.core.network import to_network_layout
from nnscratch.data.features import DEFAULT_FEATURES
from nnscratch.data.leakage import find_leaks
from nnscratch.data.preprocessing import PreparedData, Preprocessing, prepare
from nnscratch.data.synthetic import SYNTHETIC_LABEL, make_tracks
from nnscratch.data.tracks import TracksFile, read_tracks, read_tracks_chunks
from nnscratch.data.training_table import (
    TRAIN_CHUNK_ROWS,
    CleanedRows,
    MemoryBudget,
    format_size,
    prepare_cleaned,
    read_cleaned,
    release_freed_memory,
    resident_memory,
)
from nnscratch.errors import DataError
from nnscratch.models.metrics import Results
from nnscratch.models.model_schema import network_array_shapes
from nnscratch.models.recipes import PRESETS, Recipe
from nnscratch.tasks.base import Fold, NetworkSplits, Say, Task, digest, quiet
from nnscratch.tasks.importance import (
    Scorer,
    input_groups,
    permutation_importance,
    summary,
    to_record,
)
from nnscratch.tasks.plots import importance_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Rows of the built-in synthetic sample used when no data is given.
SYNTHETIC_ROWS = 5000

#: The layer widths ``tune`` tries on a table, by the name a trial records.
TABLE_WIDTHS: dict[str, tuple[int, ...]] = {
    "-".join(map(str, w)): w
    for w in [(64, 32, 16), (64, 64), (128, 64), (128, 64, 32), (256, 128), (256, 128, 64)]
}


def suggest_table(trial: Any) -> dict[str, Any]:
    """What ``tune`` searches on a table, drawn for an Optuna ``trial`` as recipe overrides:
    the widths, learning rate (log-uniform), weight decay, batch size and the bins of the
    piecewise-linear encoding, then either TabM networks (``k > 1`` members sharing each
    weight matrix, no dropout) or plain networks with dropout, side by side."""
    params = {
        "hidden": TABLE_WIDTHS[trial.suggest_categorical("hidden", list(TABLE_WIDTHS))],
        "learning_rate": trial.suggest_float("learning_rate", 3e-4, 3e-3, log=True),
        "weight_decay": trial.suggest_categorical("weight_decay", [0.0, 1e-5, 1e-4, 1e-3]),
        "batch_size": trial.suggest_categorical("batch_size", [128, 256, 512]),
        "n_bins": trial.suggest_categorical("n_bins", [8, 16, 32]),
        "bins": trial.suggest_categorical("bins", ["quantile", "tree"]),
    }
    if trial.suggest_categorical("network", ["tabm", "plain"]) == "tabm":
        k = trial.suggest_categorical("k", [8, 16, 32])
        members = trial.suggest_categorical("tabm_members", [1, 2])
        return params | {"k": k, "dropout": 0.0, "n_members": members}
    dropout = trial.suggest_categorical("dropout", [0.0, 0.05, 0.1, 0.2])
    members = trial.suggest_categorical("plain_members", [1, 3, 5])
    return params | {"k": 1, "dropout": dropout, "n_members": members}


#: The default recipe's networks and inputs as :func:`suggest_table` names them (a
#: portfolio entry is this with what it changes).
DEFAULT_AS_DRAWN: dict[str, Any] = {
    "hidden": "64-32-16",
    "learning_rate": 2e-3,
    "weight_decay": 0.0,
    "batch_size": 256,
    "n_bins": 16,
    "bins": "tree",
    "network": "tabm",
    "k": 16,
    "tabm_members": 2,
}

#: What ``tune`` tries on a table right after the default recipe (:meth:`Task.portfolio`),
#: as AutoGluon starts from a portfolio of configurations rather than from random ones:
#: the three TabM variants that came closest to the default on the shared sample's
#: validation splits (docs/accuracy.md: 128-64-32 widths 10.572, one network of k=32
#: 10.587, quantile bins 10.603), each differing from it where an ensemble gains from
#: it (wider layers, how the inputs are binned, one larger ensemble inside a network).
#: Plain networks, 0.15 points or more behind in cross-validation, never entered an
#: ensemble of the default's, so none is here; the sampler may still draw them. The
#: order fits a 10-minute budget on two cores: the wider networks and the quantile bins
#: end within it beside trial 0, and the k=32 network, the slowest, comes last.
TABLE_PORTFOLIO: tuple[dict[str, Any], ...] = (
    # the default's two TabM networks, 128-64-32 wide
    {**DEFAULT_AS_DRAWN, "hidden": "128-64-32"},
    # the default's two TabM networks, on 32 quantile bins instead of 16 target-aware ones
    {**DEFAULT_AS_DRAWN, "n_bins": 32, "bins": "quantile"},
    # one TabM network of k=32 instead of two of k=16
    {**DEFAULT_AS_DRAWN, "k": 32, "tabm_members": 1},
)


@dataclass(frozen=True)
class TablePlan:
    """Where a table's scaled splits live while it trains, and the peak expected: in
    memory where it fits the budget, else memory-mapped from files in the budget's folder
    (out of core: every batch is read from them, and the system may drop their pages
    when memory is short, as it drops any file's)."""

    out_of_core: bool
    folder: Path | None
    table: int
    peak: int
    budget: MemoryBudget

    #: Bytes training takes per training row and network beside the rows: the epoch's
    #: shuffled order (int32) and the shuffled targets (float32), with room to spare.
    PER_ROW_AND_NETWORK = 12
    #: Bytes of everything else, of which the baselines' fits (gradient boosting on a
    #: sample of 200,000 rows, in float64, laid out once in its split's order) are the
    #: most: networks, batches, prediction blocks, the figures.
    FIXED = 100 * 2**20

    @classmethod
    def make(cls, rows: CleanedRows, recipe: Recipe, budget: MemoryBudget) -> TablePlan:
        """The plan for the first pass's ``rows`` under ``budget``."""
        n = rows.n if recipe.max_rows is None else min(rows.n, recipe.max_rows)
        one_hot = sum(min(len(rows.values[c]), 64) + 1 for c in rows.tracks.categoricals)
        itemsize = np.dtype(recipe.dtype).itemsize
        table = n * (len(rows.tracks.features) + one_hot + 1) * itemsize
        training = int(0.7 * n) * cls.PER_ROW_AND_NETWORK * recipe.n_members
        peak = resident_memory() + table + training + cls.FIXED
        return cls(peak > budget.limit, budget.folder, table, peak, budget)

    def line(self, data: PreparedData) -> str:
        """What the output says of the path taken and the peak it expects."""
        columns = len(data.column_names)
        size = f"{format_size(self.table)} ({columns} columns of {data.X_train.dtype})"
        if not self.out_of_core:
            return (
                f"  in memory: the scaled splits take {size}; expected peak about "
                f"{format_size(self.peak)}, within the memory budget of {self.budget}"
            )
        where = self.folder if self.folder is not None else "the temporary folder"
        return (
            f"  out of core: expected peak about {format_size(self.peak)} is above the memory "
            f"budget of {self.budget}: the scaled splits, {size}, are memory-mapped from "
            f"files in {where} and each batch is read from them (pages the system can "
            "drop when memory is short)"
        )

    def record(self) -> dict[str, Any]:
        """For ``metrics.json``."""
        return {
            "path": "out of core" if self.out_of_core else "in memory",
            "table_bytes": self.table,
            "expected_peak_bytes": self.peak,
            "budget_bytes": self.budget.limit,
            "budget": self.budget.origin,
        }


@dataclass
class TableData:
    """A tracks file's prepared splits, what the loader learned about the file (its
    rows dropped once read), and the data report's lines."""

    prepared: PreparedData
    tracks: TracksFile
    seed: int
    lines: list[str]
    #: what the guards left out: leaking inputs, identifiers (for ``metrics.json``)
    guards: dict[str, Any] = field(default_factory=dict)

    @property
    def source(self) -> str:
        return self.prepared.report.source

    def report(self) -> list[str]:
        return list(self.lines)

    def record(self) -> dict[str, Any]:
        d = self.prepared
        return {
            "data": {
                **d.report.to_dict(),
                "splits": d.split_sizes(),
                "seed": self.seed,
                "synthetic": d.report.source == SYNTHETIC_LABEL,
            },
            "features": self.tracks.to_dict() | self.guards,
        }

    def fingerprint(self) -> str:
        d = self.prepared
        return digest(np.asarray(d.feature_names), d.X_train, d.y_train)

    def with_splits(self, fold: Fold) -> TableData:
        """A fold of the training split as data: its training rows, early-stopping rows
        (as validation) and held-out rows (as test)."""
        d = self.prepared
        prepared = replace(
            d,
            X_train=d.X_train[fold.train],
            y_train=d.y_train[fold.train],
            X_val=d.X_train[fold.early_stopping],
            y_val=d.y_train[fold.early_stopping],
            X_test=d.X_train[fold.held_out],
            y_test=d.y_train[fold.held_out],
            train_index=d.train_index[fold.train],
            val_index=d.train_index[fold.early_stopping],
            test_index=d.train_index[fold.held_out],
        )
        return replace(self, prepared=prepared)


class TableTask(Task):
    """A column of a tracks table to predict from the others."""

    presets = PRESETS
    #: what :func:`~nnscratch.data.preprocessing.prepare` makes of the target
    prepare_as: ClassVar[str]

    @property
    def target_column(self) -> str:
        raise NotImplementedError

    def check(self, recipe: Recipe) -> None:
        if recipe.augment != "none":
            raise DataError(
                f"--augment {recipe.augment} needs image inputs (digits); a table's rows "
                "are not images"
            )
        if recipe.tta != "off":
            raise DataError(f"--tta {recipe.tta} needs image inputs (digits)")

    def read(self, source: str | None, features: Any, seed: int, **options: Any) -> TracksFile:
        """The tracks file at ``source``, or the built-in synthetic sample."""
        if source is None:
            frame = make_tracks(SYNTHETIC_ROWS, seed=seed)
            return TracksFile.from_frame(
                frame,
                source=SYNTHETIC_LABEL,
                features=features,
                target=self.target_column,
                **options,
            )
        return read_tracks(source, features=features, target=self.target_column, **options)

    def load(
        self,
        source: str | None,
        recipe: Recipe,
        seed: int,
        *,
        budget: MemoryBudget | None = None,
        chunk_rows: int | None = TRAIN_CHUNK_ROWS,
        progress: bool = False,
    ) -> TableData:
        """The source read once, a chunk of ``chunk_rows`` at a time (None: whole), into
        compact scaled splits (:mod:`nnscratch.data.training_table`): held in memory where
        the expected peak fits ``budget`` (default: a quarter of the machine's memory),
        else memory-mapped from files in its folder (out of core). The same splits,
        scalers and numbers whatever the chunk size."""
        budget = budget or MemoryBudget.default()
        lines = []
        if source is None:
            lines.append(
                f"note: no --data given and NNSCRATCH_DATA is not set: using the "
                f"{SYNTHETIC_LABEL}, {SYNTHETIC_ROWS:,} generated tracks"
            )
        read = functools.partial(
            self.read_rows, source, recipe, seed, budget=budget, chunk_rows=chunk_rows
        )
        rows = read(progress=progress)
        try:
            tracks = rows.tracks
            if not tracks.features:
                raise DataError(f"{tracks.source}: none of the recipe's features is in this file")
            release_freed_memory()  # the chunks' frames and text: before the peak is told
            plan = TablePlan.make(rows, recipe, budget)
            data = self.prepare_rows(rows, recipe, seed, plan)
            leaks = find_leaks(data, self.keep_inputs, seed)
            if leaks:  # read again without them: the scalers see only the inputs kept
                rows.close()
                leaked = {leak.column for leak in leaks}
                rows = read(leaving_out=leaked, progress=progress)
                tracks = rows.tracks
                data = self.prepare_rows(rows, recipe, seed, plan)
        finally:
            rows.close()
        release_freed_memory()  # what splitting and scaling made and dropped
        lines += [*tracks.format_note(), str(data.report), *tracks.notes()]
        lines += [f"  {leak.line(tracks.target_name or '')}" for leak in leaks]
        lines += [
            f"  left out: {c} (an identifier: one distinct value per row, not a category)"
            for c in data.identifiers
        ]
        lines += [
            f"  {c.column}: {len(c.levels_)} level(s) one-hot encoded, rarer or unseen ones "
            "as 'other'"
            for c in data.categories
        ]
        sizes = data.split_sizes()
        lines.append(
            f"  split (seed {seed}): train {sizes['train']:,}, validation "
            f"{sizes['validation']:,}, test {sizes['test']:,}; Min-Max scaling fit on train only"
        )
        lines.append(plan.line(data))
        if sizes["train"] < 2:
            raise DataError(
                f"{data.report.source}: only {sizes['train']} training row(s); need at least 2"
            )
        record = {"leaks": [vars(leak) for leak in leaks], "identifiers": data.identifiers}
        data_lines = lines + self.target_lines(data)
        return TableData(data, tracks, seed, data_lines, record | {"memory": plan.record()})

    def read_rows(
        self,
        source: str | None,
        recipe: Recipe,
        seed: int,
        *,
        budget: MemoryBudget,
        chunk_rows: int | None,
        leaving_out: set[str] = frozenset(),  # type: ignore[assignment]
        progress: bool = False,
    ) -> CleanedRows:
        """The first pass over the source (or the built-in sample): its usable rows'
        numbers in a temporary file in the budget's folder, the cleaning report, what the
        reader learned of the file; ``leaving_out`` inputs the leakage guard refused."""
        features = [f for f in recipe.features if f not in leaving_out]
        categoricals = [c for c in recipe.categoricals if c not in leaving_out]
        options = {
            "features": features,
            "target": self.target_column,
            "optional": recipe.optional,
            "categoricals": categoricals,
        }
        if source is None or chunk_rows is None:
            del options["features"], options["target"]
            chunks: Iterable[TracksFile] = [self.read(source, features, seed, **options)]
        else:
            chunks = read_tracks_chunks(source, chunk_rows, **options)
        return read_cleaned(
            chunks,
            SYNTHETIC_LABEL if source is None else str(source),
            labels=self.prepare_as == "classification",
            folder=budget.folder,
            progress=progress,
        )

    def prepare_rows(
        self, rows: CleanedRows, recipe: Recipe, seed: int, plan: TablePlan
    ) -> PreparedData:
        """Split and scale the first pass's rows (see :func:`prepare_cleaned`)."""
        return prepare_cleaned(
            rows,
            seed=seed,
            max_rows=recipe.max_rows,
            dtype=np.dtype(recipe.dtype),
            task=self.prepare_as,
            target_name=rows.tracks.target_name,
            out_of_core=plan.out_of_core,
            folder=plan.folder,
        )

    def target_lines(self, data: PreparedData) -> list[str]:
        """What the data report says about the target (nothing, for a number)."""
        return []

    def output_layer(self, data: PreparedData) -> tuple[int, str | None]:
        """The network's output width and activation (None: the recipe's)."""
        return 1, None

    def fit(
        self, data: TableData, recipe: Recipe, seed: int, *, say: Say = quiet, **fit_kwargs: Any
    ) -> Any:
        verbose = bool(fit_kwargs.pop("verbose", False))
        estimator = recipe.build_for(data.prepared, seed, verbose=verbose)
        pre = recipe.preprocessing(data.prepared)
        for line in self.describe_inputs(recipe, data.prepared, pre):
            say(line)
        return recipe.fit(data.prepared, estimator=estimator, preprocessing=pre, **fit_kwargs)

    def describe_inputs(self, recipe: Recipe, data: PreparedData, pre: Preprocessing) -> list[str]:
        """How the features become the network's inputs, and the network."""
        lines = []
        if pre.encoder is not None:
            one_hot = len(data.column_names) - len(data.feature_names)
            lines.append(
                f"inputs: {len(data.feature_names)} features, each piecewise-linear encoded "
                f"in up to {recipe.n_bins} {'target-aware ' if recipe.bins == 'tree' else ''}"
                "bins plus its scaled value"
                + (f", and {one_hot} one-hot columns" if one_hot else "")
                + f" → {pre.n_inputs} network inputs"
            )
        n_outputs, output = self.output_layer(data)
        lines += describe_network(recipe, pre.n_inputs, len(data.y_train), n_outputs, output)
        if recipe.n_members > 1:
            lines.append(f"  an ensemble of {recipe.n_members} such networks, predictions averaged")
        return lines

    def importance_score(self, model: Any, data: PreparedData) -> Scorer:
        """The validation score permutation importance watches."""
        raise NotImplementedError

    def with_importance(self, results: Results, model: Any, data: TableData) -> Results:
        """``results`` with what the model uses: the top inputs under the table, all of
        them in ``metrics.json`` (see :mod:`nnscratch.tasks.importance`)."""
        prepared = data.prepared
        if len(prepared.y_val) < 2:
            return results
        scorer = self.importance_score(model, prepared)
        importances = permutation_importance(
            scorer, prepared.X_val, input_groups(prepared), seed=data.seed
        )
        results.notes += summary(importances, scorer.unit)
        results.extra["importance"] = to_record(importances, scorer.unit)
        return results

    def importance_figures(self, results: Results, data: TableData) -> dict[str, Figure]:
        """``importance.png`` where the results have the importances."""
        record = results.extra.get("importance")
        if record is None:
            return {}
        inputs = record["inputs"]
        title = "What the model uses: permutation importance on the validation split\n"
        title += data.source
        figure = importance_figure(
            [i["input"] for i in inputs],
            [i["mean"] for i in inputs],
            [i["std"] for i in inputs],
            record["score"],
            title,
        )
        return {"importance.png": figure}

    def search_rows(self, data: TableData) -> tuple[int, np.ndarray | None]:
        labels = data.prepared.y_train if self.prepare_as == "classification" else None
        return len(data.prepared.y_train), labels

    def suggest(self, trial: Any) -> dict[str, Any]:
        return suggest_table(trial)

    def portfolio(self) -> list[dict[str, Any]]:
        return [dict(params) for params in TABLE_PORTFOLIO]

    def fold_outputs(
        self, data: TableData, recipe: Recipe, fold: Fold, seed: int, callbacks: Sequence[Any] = ()
    ) -> np.ndarray:
        fold_data = data.with_splits(fold)
        model = self.fit(fold_data, recipe, seed, callbacks=tuple(callbacks))
        return self.outputs(model, fold_data.prepared.X_test)

    def outputs(self, model: Any, X_scaled: np.ndarray) -> np.ndarray:
        """A fitted model's outputs ``(n, n_outputs)`` for scaled rows (see
        :meth:`fold_outputs`)."""
        raise NotImplementedError

    def lab_splits(self, source: str | None, seed: int, max_rows: int | None) -> NetworkSplits:
        """The seed's 13 features, Min-Max scaled, in the network's layout."""
        tracks = self.read(source, DEFAULT_FEATURES, seed)
        d = prepare(
            tracks.frame,
            tracks.features,
            str(tracks.target),
            seed=seed,
            max_rows=max_rows,
            task=self.prepare_as,
        )
        splits = {
            "train": (d.X_train, d.y_train),
            "val": (d.X_val, d.y_val),
            "test": (d.X_test, d.y_test),
        }
        X = {name: to_network_layout(X) for name, (X, _) in splits.items()}
        Y = {name: self.lab_targets(y, d) for name, (_, y) in splits.items()}
        scale = d.target_range if self.prepare_as == "regression" else 1.0
        name = d.report.source + (f", {max_rows:,}-row sample" if max_rows else "")
        return NetworkSplits(X, Y, self.prepare_as == "classification", scale, name)

    def lab_targets(self, y: np.ndarray, data: PreparedData) -> np.ndarray:
        """``y`` as the lab's network outputs ``(n_outputs, m)``, float32."""
        return y[None, :].astype(np.float32)


def describe_network(
    recipe: Recipe, n_features: int, n_train: int, n_outputs: int = 1, output: str | None = None
) -> list[str]:
    """The layer sizes and every array's shape, in the network's layout."""
    sizes = [n_features, *recipe.hidden, n_outputs]
    output = output or recipe.output_activation
    k = recipe.k
    arrays = network_array_shapes(sizes, k)
    shapes = "  ".join(  # layer by layer: W1 (64, 13) b1 (64, 1)  W2 …
        " ".join(f"{name} ({r}, {c})" for name, (r, c) in arrays.items() if name[1:] == str(l))
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
    return lines
