"""The learner's network on the live page: what ``nnscratch playground --engine mynet/``
trains.

:class:`LearnerSources` makes, from the page's settings, a :class:`LearnerSource`: one of
the playground's small sets (two moons, circles, spirals, XOR, blobs, the 1-D curve,
the 8×8 digits, :mod:`nnscratch.data.toys`) trained by the package's loop on a
:class:`~nnscratch.app.learn.network.LearnerNetwork` with a
:class:`~nnscratch.app.learn.network.LearnerOptimizer` — the learner's initialisation,
forward pass, softmax (classes) or linear output (the curve), cost, penalty, backward
pass and optimizer step — so the page's telemetry, boundary and warnings show their
code learning, and their bug: a derivative left out shows as a dead or wrong gradient,
the naive small initialisation as a vanished signal.

The source has the methods the playground's sessions call on what they train (``data``,
``hello``, ``load``, ``steps_per_epoch``, ``probe``, ``fit``, ``save``); the command line
hands the factory to the playground, which never learns whose network it is. What the
learner's network cannot do — another activation than their ReLU, dropout, the tracks
files — is refused with a 422 that says why, before anything trains.
"""

from __future__ import annotations

import math
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from nnscratch.app.learn.network import (
    CLASS_FUNCTIONS,
    NETWORK_FUNCTIONS,
    STEPS,
    LearnerNetwork,
    LearnerOptimizer,
    learner_functions,
)
from nnscratch.app.learn.workspace import Workspace
from nnscratch.core.network import to_network_layout
from nnscratch.core.training import TrainConfig, train
from nnscratch.data.toys import TOY_SETS, ToyData, make_toy
from nnscratch.errors import RequestError
from nnscratch.files import atomic_write

#: Rows of the fixed probe batch the page's telemetry measures.
PROBE_ROWS = 256
#: The naive small initialisation, ``0.01 · N(0, 1)`` (the page's ``init=small``).
SMALL = 0.01


def refusal(settings: Any) -> str | None:
    """Why the learner's network cannot train ``settings``, or None."""
    if settings.data not in TOY_SETS:
        return (
            f"data: your network trains on the small sets ({', '.join(TOY_SETS)}); the "
            f"tracks data ({settings.data!r}) is nnscratch learn train's"
        )
    if settings.activation != "relu":
        return (
            f"activation: your network's hidden layers use your relu (stage 3), not "
            f"{settings.activation}"
        )
    if settings.dropout:
        return "dropout: your network has none (set it to 0)"
    return None


class LearnerSource:
    """One page's run of the learner's network on a small set (see the module docs)."""

    def __init__(self, settings: Any, workspace: Workspace) -> None:
        problem = refusal(settings)
        if problem:
            raise RequestError(422, problem)
        self.settings, self.workspace = settings, workspace
        self.data: ToyData | None = make_toy(settings.data, settings.noise, settings.seed)
        self.net: LearnerNetwork | None = None

    @property
    def classes(self) -> bool:
        return self.data is not None and self.data.classes is not None

    def hello(self) -> dict[str, Any]:
        data = self.data
        assert data is not None
        points = None
        if data.n_features <= 2:
            points = {"X": np.round(data.X_val, 3).tolist(), "y": np.round(data.y_val, 3).tolist()}
        classes = None if data.classes is None else data.classes.tolist()
        return {
            "classes": classes,
            "n_features": data.n_features,
            "points": points,
            "engine": f"your network ({self.workspace.folder.name}/)",
        }

    def load(self) -> None:
        """The learner's functions, loaded afresh from their workspace."""
        names = [*NETWORK_FUNCTIONS, STEPS[self.settings.optimizer]]
        if self.classes:
            names += CLASS_FUNCTIONS
        if self.settings.init == "glorot":
            names.append("glorot_weights")
        with self.workspace.importable():
            self.functions = learner_functions(self.workspace, names)

    def steps_per_epoch(self) -> int:
        assert self.data is not None
        n = len(self.data.y_train)
        return math.ceil(n / min(self.settings.batch or n, n))

    def probe(self) -> np.ndarray | None:
        assert self.data is not None
        return self.data.X_train[:PROBE_ROWS]

    def targets(self, y: np.ndarray) -> np.ndarray:
        """One-hot ``(K, m)`` for classes, ``(1, m)`` for the curve."""
        assert self.data is not None
        if self.data.classes is None:
            return np.asarray(y, dtype=np.float64)[None, :]
        return np.eye(len(self.data.classes))[:, np.searchsorted(self.data.classes, y)]

    def layer_sizes(self) -> list[int]:
        assert self.data is not None
        outputs = 1 if self.data.classes is None else len(self.data.classes)
        return [self.data.n_features, *self.settings.hidden, outputs]

    def start(self) -> tuple[list[np.ndarray], list[np.ndarray]] | None:
        """The starting weights the page's ``init`` asks for (None: their ``initialize``)."""
        sizes, rng = self.layer_sizes(), np.random.default_rng(self.settings.seed)
        pairs = list(pairwise(sizes))
        if self.settings.init == "glorot":
            weights = [self.functions["glorot_weights"](i, o, rng) for i, o in pairs]
        elif self.settings.init == "small":
            weights = [SMALL * rng.standard_normal((o, i)) for i, o in pairs]
        else:
            return None
        return weights, [np.zeros((o, 1)) for _, o in pairs]

    def fit(self, callbacks: tuple[Any, ...]) -> None:
        data, settings = self.data, self.settings
        assert data is not None
        self.net = LearnerNetwork(
            self.layer_sizes(),
            self.functions,
            classes=self.classes,
            rng=settings.seed,
            start=self.start(),
        )
        optimizer = LearnerOptimizer(
            settings.optimizer, settings.lr, self.functions[STEPS[settings.optimizer]]
        )
        config = TrainConfig(
            epochs=settings.epochs, batch_size=settings.batch or None, lmbda=settings.l2
        )
        train(
            self.net,
            to_network_layout(data.X_train, np.float64),
            self.targets(data.y_train),
            optimizer,
            config=config,
            validation=(to_network_layout(data.X_val, np.float64), self.targets(data.y_val)),
            rng=settings.seed,
            callbacks=callbacks,
        )

    def save(self, path: Path) -> None:
        """The learner's weights as they are: ``W1..WL``, ``b1..bL`` in an ``.npz``."""
        if self.net is None:
            raise RequestError(409, "nothing is trained yet: press Start or Step")
        arrays = {name: np.array(a) for name, a in self.net.params.named().items()}
        atomic_write(path, lambda file: np.savez(file, allow_pickle=False, **arrays))


class LearnerSources:
    """The playground's source factory for ``--engine``: the learner's network from
    ``workspace`` for every page."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def __call__(self, settings: Any) -> LearnerSource:
        return LearnerSource(settings, self.workspace)
