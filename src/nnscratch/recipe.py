"""Training recipes: the seed's configuration and the default one.

A recipe is every choice that turns prepared data into a fitted model:
features, architecture, optimizer, schedule, regularisation, stopping. The
command line, the benchmarks and the analysis lab all build models here, so
"the default" means the same thing everywhere.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from nnscratch.data import DEFAULT_FEATURES, PreparedData
from nnscratch.model import MLPRegressor


@dataclass(frozen=True)
class Recipe:
    """Everything needed to train one model on prepared data."""

    features: tuple[str, ...] = DEFAULT_FEATURES
    hidden: tuple[int, ...] = (64, 32, 16)
    activation: str = "relu"
    output_activation: str = "identity"
    init: str = "he"
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"
    batch_size: int | None = 256
    epochs: int = 200
    l2: float = 0.0
    weight_decay: float = 0.0
    patience: int | None = 20
    max_rows: int | None = None
    dtype: str = "float32"
    notes: str = field(default="", compare=False)

    def with_overrides(self, **overrides: Any) -> Recipe:
        """A copy with every non-``None`` override applied."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["features"] = list(self.features)
        out["hidden"] = list(self.hidden)
        return out

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
            l2=self.l2,
            weight_decay=self.weight_decay,
            early_stopping=self.patience is not None,
            patience=self.patience if self.patience is not None else 10,
            dtype=self.dtype,
            random_state=seed,
            verbose=verbose,
        )

    def fit(
        self,
        data: PreparedData,
        seed: int = 0,
        *,
        model: MLPRegressor | None = None,
        verbose: bool = False,
        **fit_kwargs: Any,
    ) -> MLPRegressor:
        """Fit on ``data``'s training split.

        The validation split gives the validation curves and, when the recipe
        has a ``patience``, drives early stopping. ``model`` is an estimator
        from :meth:`build` to fit (default: a new one).
        """
        model = model if model is not None else self.build(seed, verbose)
        eval_set = (data.X_val, data.y_val) if len(data.y_val) else None
        model.fit(
            data.X_train,
            data.y_train,
            eval_set=eval_set,
            rmse_scale=data.target_range,
            **fit_kwargs,
        )
        return model


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

#: What ``nnscratch train`` does with no flags.
DEFAULT_RECIPE = Recipe(notes="mini-batch Adam with early stopping")

PRESETS: dict[str, Recipe] = {"default": DEFAULT_RECIPE, "seed": SEED_RECIPE}
