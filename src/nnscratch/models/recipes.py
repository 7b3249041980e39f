"""Training recipes: the seed's configuration and the default one.

A recipe is every choice that turns prepared data into a fitted model:
features, architecture, optimizer, schedule, regularisation, stopping. The
command line, the benchmarks and the analysis lab all build models here, so
"the default" means the same thing everywhere.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from nnscratch.data.encoders import PiecewiseLinearEncoding
from nnscratch.data.features import DEFAULT_FEATURES, OPTIONAL_FEATURES, RECIPE_FEATURES
from nnscratch.data.preprocessing import PreparedData, Preprocessing
from nnscratch.data.schemas import CATEGORICAL_COLUMNS
from nnscratch.errors import DataError
from nnscratch.models.classifier import MLPClassifier
from nnscratch.models.popularity_model import PopularityModel
from nnscratch.models.regressor import MLPRegressor
from nnscratch.models.table_classifier import TabularClassifier

NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def networks_text(n_members: int, k: int) -> str:
    """``two TabM networks of k=16 members``, ``five plain networks``, ``one plain network``."""
    count = NUMBER_WORDS[n_members] if n_members < len(NUMBER_WORDS) else str(n_members)
    noun = "network" if n_members == 1 else "networks"
    return f"{count} TabM {noun} of k={k} members" if k > 1 else f"{count} plain {noun}"


@dataclass(frozen=True)
class Recipe:
    """Everything needed to train one model on prepared data."""

    features: tuple[str, ...] = DEFAULT_FEATURES
    #: features left out (and reported) where a file lacks their input; the rest are required
    optional: tuple[str, ...] = ()
    #: categorical columns one-hot encoded where a file has them (genre, subgenre)
    categoricals: tuple[str, ...] = ()
    hidden: tuple[int, ...] = (64, 32, 16)
    activation: str = "relu"
    output_activation: str = "identity"
    init: str = "he"
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"
    batch_size: int | None = 256
    epochs: int = 200
    #: at most this many optimizer steps, in whole epochs (MLPRegressor's max_steps)
    max_steps: int | None = None
    l2: float = 0.0
    dropout: float = 0.0
    weight_decay: float = 0.0
    patience: int | None = 20
    #: what early stopping watches on the validation split: "loss", or "accuracy" (classifiers)
    scoring: str = "loss"
    #: classifiers: weigh each class's rows, None or "balanced" (MLPClassifier's class_weight)
    class_weight: str | dict[str, float] | None = None
    #: two-class classifiers: None (the most probable class), a number, or "tuned" (the
    #: threshold that maximises macro-F1 on the validation split; MLPClassifier's threshold)
    threshold: float | str | None = None
    max_rows: int | None = None
    #: train on the first this many training rows (the seed's digits classifier)
    first_rows: int | None = None
    encoding: str = "minmax"
    n_bins: int = 16
    #: where the piecewise-linear bins' edges go: "quantile", or "tree" (target-aware)
    bins: str = "quantile"
    #: the fewest training rows in a target-aware bin
    bin_min_samples: int = 256
    n_members: int = 1
    #: TabM's k: members sharing each weight matrix in every network (1: plain networks)
    k: int = 1
    #: members trained at once (-1: one per core; see MLPRegressor's n_jobs for the bits)
    n_jobs: int | None = -1
    dtype: str = "float32"
    #: image inputs: each training batch's augmentation, "none", "shift", "affine" or
    #: "elastic" (MLPClassifier's augment)
    augment: str = "none"
    #: digits: average each answer over shifted copies of the image, "on", "off", or
    #: "auto" (on where it classifies more validation images right)
    tta: str = "off"
    #: what the recipe is, in words; ``{networks}`` stands for :func:`networks_text`'s
    #: account of its networks and ``{epochs}`` for its epochs, so that it follows
    #: ``n_members``, ``k`` and ``epochs`` as flags override them (see :attr:`description`)
    notes: str = field(default="", compare=False)

    @property
    def description(self) -> str:
        """The notes, with its networks and epochs as they are (``--k 1``: plain networks;
        ``--epochs 5``: 5 epochs)."""
        networks = networks_text(self.n_members, self.k)
        return self.notes.replace("{networks}", networks).replace("{epochs}", str(self.epochs))

    def with_overrides(self, **overrides: Any) -> Recipe:
        """A copy with every non-``None`` override applied."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("features", "optional", "categoricals", "hidden"):
            out[key] = list(out[key])
        return out

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Recipe:
        """A recipe from :meth:`to_dict`'s output (e.g. ``best.json`` from ``nnscratch tune``);
        ``ValueError`` naming any key that is not a recipe field."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(state) - names)
        if unknown:
            raise ValueError(f"unknown recipe field(s): {', '.join(unknown)}")
        values = dict(state)
        for key in ("features", "optional", "categoricals", "hidden"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> Recipe:
        """Read a recipe file (``best.json`` from ``nnscratch tune``); :class:`DataError`
        naming the file when it cannot be read or is not a recipe."""
        try:
            state = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise DataError(f"{path}: cannot read the recipe ({exc.strerror or exc})") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataError(f"{path}: not a JSON recipe ({exc})") from None
        if not isinstance(state, dict):
            raise DataError(f"{path}: not a JSON recipe (expected an object of recipe fields)")
        try:
            return cls.from_dict(state)
        except (TypeError, ValueError) as exc:
            raise DataError(f"{path}: {exc}") from None

    def build(self, seed: int, verbose: bool = False) -> MLPRegressor:
        """An unfitted estimator for this recipe."""
        return MLPRegressor(
            hidden_layer_sizes=tuple(self.hidden),
            activation=self.activation,
            output_activation=self.output_activation,
            init=self.init,
            optimizer=self.optimizer,
            learning_rate=self.learning_rate,
            lr_schedule=self.lr_schedule,
            batch_size=self.batch_size,
            epochs=self.epochs,
            max_steps=self.max_steps,
            l2=self.l2,
            dropout=self.dropout,
            weight_decay=self.weight_decay,
            n_members=self.n_members,
            k=self.k,
            n_jobs=self.n_jobs,
            early_stopping=self.patience is not None,
            patience=self.patience if self.patience is not None else 10,
            dtype=self.dtype,
            random_state=seed,
            verbose=verbose,
        )

    def build_classifier(self, seed: int, verbose: bool = False) -> MLPClassifier:
        """An unfitted classifier for this recipe (the output layer follows the classes)."""
        params = self.build(seed, verbose).get_params()
        del params["output_activation"]
        return MLPClassifier(
            **params,
            scoring=self.scoring,
            class_weight=self.class_weight,
            threshold=self.threshold,
            augment=self.augment,
        )

    def preprocessing(self, data: PreparedData) -> Preprocessing:
        """The fitted feature stage: ``data``'s scalers, plus the encoder if the recipe has one."""
        if self.encoding not in ("minmax", "ple"):
            raise ValueError(f"unknown encoding {self.encoding!r}; choose 'minmax' or 'ple'")
        pre = data.preprocessing
        if self.encoding == "ple":  # the numeric columns; one-hot blocks pass through
            numeric = data.X_train[:, : len(data.feature_names)]
            encoder = PiecewiseLinearEncoding(
                self.n_bins, bins=self.bins, min_samples_leaf=self.bin_min_samples
            )
            pre.encoder = encoder.fit(numeric, data.y_train if self.bins == "tree" else None)
        return pre

    def build_for(self, data: PreparedData, seed: int, verbose: bool = False) -> Any:
        """An unfitted estimator for ``data``'s task: a regressor, or a classifier."""
        if data.task == "classification":
            return self.build_classifier(seed, verbose)
        if self.scoring != "loss":
            raise ValueError(f"scoring {self.scoring!r} needs a classification task")
        return self.build(seed, verbose)

    def fit(
        self,
        data: PreparedData,
        seed: int = 0,
        *,
        estimator: MLPRegressor | None = None,
        preprocessing: Preprocessing | None = None,
        verbose: bool = False,
        **fit_kwargs: Any,
    ) -> PopularityModel | TabularClassifier:
        """Fit on ``data``'s training split; returns the fitted :class:`PopularityModel`,
        or for a classification task (labels) the fitted :class:`TabularClassifier`.

        The validation split gives the validation curves and, when the recipe
        has a ``patience``, drives early stopping. ``estimator`` is one from
        :meth:`build_for` to fit (default: a new one); ``preprocessing`` one
        from :meth:`preprocessing` (default: fitted here). ``fit_kwargs`` go
        to the estimator's ``fit`` (``callbacks``, ``handle_interrupts``).
        """
        pre = preprocessing if preprocessing is not None else self.preprocessing(data)
        estimator = estimator if estimator is not None else self.build_for(data, seed, verbose)
        # the scaled rows, encoded a batch at a time as the loop draws them: the encoded
        # table (313 inputs a row) is never held
        eval_set = (data.X_val, data.y_val) if len(data.y_val) else None
        fit_kwargs["expand"] = pre.expansion
        if data.task == "classification":
            estimator.fit(data.X_train, data.y_train, eval_set=eval_set, **fit_kwargs)
            return TabularClassifier(pre, estimator)
        estimator.fit(
            data.X_train,
            data.y_train,
            eval_set=eval_set,
            rmse_scale=data.target_range,
            **fit_kwargs,
        )
        return PopularityModel(pre, estimator)


#: The seed's stage-6 configuration, reproduced exactly: ReLU output, He init,
#: full-batch gradient descent, η = 0.05, λ = 0.01, 3000 iterations, at most
#: 30,000 rows.
SEED_RECIPE = Recipe(
    features=DEFAULT_FEATURES,
    hidden=(64, 32, 16),
    output_activation="relu",
    optimizer="gd",
    learning_rate=0.05,
    batch_size=None,
    epochs=3000,
    l2=0.01,
    patience=None,
    max_rows=30_000,
    notes="the seed's configuration",
)

#: Five plain networks of the seed's shape side by side, on target-aware bins:
#: ``--preset fast``, about 3 s on the shared sample (docs/accuracy.md).
FAST_RECIPE = Recipe(
    features=RECIPE_FEATURES,
    optional=OPTIONAL_FEATURES,
    categoricals=CATEGORICAL_COLUMNS,
    encoding="ple",
    n_bins=16,
    bins="tree",
    n_members=5,
    patience=15,
    notes="derived features, piecewise-linear encoding on target-aware bins, {networks}, Adam, "
    "early stopping",
)

#: What ``nnscratch train`` does with no flags (see docs/accuracy.md for what
#: each ingredient buys): the seed's features plus those derived from the same
#: CSV (each left out where a file lacks its input), genre and subgenre one-hot
#: where a file has them, piecewise-linear encoding of every numeric feature on
#: bins placed by the target, and two TabM networks (``k`` members sharing each
#: weight matrix) trained side by side with mini-batch Adam and early stopping,
#: for at most ``max_steps`` updates (large files get fewer, longer epochs).
DEFAULT_RECIPE = replace(
    FAST_RECIPE,
    learning_rate=2e-3,
    n_members=2,
    k=16,
    max_steps=8_000,
    notes="derived features, piecewise-linear encoding on target-aware bins, {networks}, Adam, "
    "early stopping",
)

PRESETS: dict[str, Recipe] = {
    "default": DEFAULT_RECIPE,
    "fast": FAST_RECIPE,
    "seed": SEED_RECIPE,
}

#: The original project's digit classifier, reproduced: 784-64-32-16-10, He init,
#: ReLU hidden layers, softmax output and cross-entropy, full-batch gradient
#: descent with η = 0.5 for 1,500 iterations, λ = 0, on the first 5,000
#: training images.
DIGITS_SEED_RECIPE = Recipe(
    features=(),
    hidden=(64, 32, 16),
    optimizer="gd",
    learning_rate=0.5,
    batch_size=None,
    epochs=1500,
    l2=0.0,
    patience=None,
    first_rows=5000,
    notes="the original project's digit classifier",
)

#: What ``nnscratch train --data MNIST`` does with no flags, chosen on a 5,000-image
#: validation slice of the training images (docs/7-classification.md,
#: benchmarks/digits_recipe_search.py): each training batch rotated, scaled, sheared and
#: shifted afresh (``augment="affine"``), two networks side by side, one per core. 22
#: epochs keep a run under 150 s on two cores (an epoch of the pair is about 5.7 s);
#: the 28 it was chosen with gave 0.03 points more test accuracy (mean of seeds 0–2)
#: for 34 s more.
DIGITS_RECIPE = Recipe(
    features=(),
    hidden=(800, 800),
    dropout=0.1,
    learning_rate=2e-3,
    lr_schedule="cosine",
    batch_size=256,
    epochs=22,
    patience=None,
    n_members=2,
    augment="affine",
    tta="auto",
    notes="two 784-800-800-10 networks, each batch affinely distorted, dropout 0.1, Adam with "
    "a cosine schedule, {epochs} epochs",
)

#: One network of the default before augmentation (two of them: 98.6 % on MNIST's test
#: images): ``--preset fast``, 98.5 % after 27 s of training (seed 0).
DIGITS_FAST_RECIPE = Recipe(
    features=(),
    hidden=(512, 256),
    dropout=0.2,
    learning_rate=1e-3,
    lr_schedule="cosine",
    batch_size=128,
    epochs=20,
    patience=None,
    n_members=1,
    notes="one 784-512-256-10 network, dropout 0.2, Adam with a cosine schedule, {epochs} epochs",
)

DIGITS_PRESETS: dict[str, Recipe] = {
    "default": DIGITS_RECIPE,
    "fast": DIGITS_FAST_RECIPE,
    "seed": DIGITS_SEED_RECIPE,
}
