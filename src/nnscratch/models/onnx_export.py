"""Fitted models as ONNX graphs: the same arithmetic, runnable without this package.

Every graph goes from a model's numeric inputs to the answer a user sees, in
the user layout ``(rows, columns)`` with a dynamic number of rows:

    table model      features (rows, F) float64      the cleaned numbers, in the order of
                     <column> (rows,) int64           ``features``; one level code per
                                                      categorical column
    digits model     pixels (rows, R·C) float32       in [0, 1]
    estimator        X (rows, n_features_in_)         the network's inputs

and, node by node, what :mod:`nnscratch.data.preprocessing` and the networks do:

1. Min-Max scaling ``x·scale + min`` in float64, cast to the network's dtype
   (as ``Preprocessing.scale_arrays``);
2. the piecewise-linear encoding: ``Gather`` each bin's feature, ``Sub`` its lower
   edge, ``Div`` by its width, ``Clip`` to [0, 1], then the scaled values
   (``PiecewiseLinearEncoding.transform``; the edges are constants);
3. one-hot blocks from level codes: ``Equal`` against ``0..L-1``, and the
   ``other`` column ``1 − Σ`` (so any code outside ``0..L-1`` is other). A code
   comes in, not the text: the text's normalisation (strip, lower-case, missing)
   is the package's, like the features derived from text, and one number a row
   is all another runtime has to compute from the levels listed in the metadata;
4. each network: ``Gemm`` + activation per layer; a TabM/BatchEnsemble network
   as one product for all ``K`` members per layer, activations ``(rows, n, K)``,
   the first layer's member scalings folded into ``V[j,k,i] = W[j,i]·r_k[i]``,
   then ``S``, ``B`` and the mean over members; several networks: ``Mean``;
5. the head: target un-scaling ``(y − min)/scale`` in float64 and the clip to
   the target's range (``predictions``), or the probabilities (a sigmoid unit's
   as ``(1 − p, p)``) and the ``ArgMax`` label (``label``, ``probabilities``).

Dropout is absent (inference), as in ``predict``.

A table model's ``export`` is a :class:`TableExport`, a digits model's a
:class:`DigitExport` (what ``nnscratch export`` writes), an ensemble's an
:class:`EnsembleExport` (its members' networks, weighted and summed, step 4); an
estimator's ``to_onnx`` is :func:`estimator_graph`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from nnscratch import __version__
from nnscratch.core.activations import LEAKY_SLOPE
from nnscratch.data.features import DERIVED_FEATURES
from nnscratch.data.preprocessing import Preprocessing
from nnscratch.errors import NNScratchError
from nnscratch.models.onnx_graph import ExportError, GraphBuilder

#: The name of the dynamic batch dimension.
ROWS = "rows"


# ---------------------------------------------------------------------- networks


def activation(g: GraphBuilder, Z: str, name: str, axis: int = 1) -> str:
    """The node(s) of one of the package's activations (``axis``: softmax's class axis)."""
    if name == "identity":
        return Z
    if name == "leaky_relu":
        return g.node("LeakyRelu", [Z], alpha=LEAKY_SLOPE)
    if name == "softmax":
        return g.node("Softmax", [Z], axis=axis)
    ops = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh"}
    if name not in ops:
        raise ExportError(f"the activation {name!r} has no ONNX export")
    return g.node(ops[name], [Z])


def plain_network(g: GraphBuilder, net: Any, X: str, prefix: str) -> str:
    """``A[l] = g(A[l-1]·W[l]ᵀ + b[l]ᵀ)``, one ``Gemm`` a layer: ``(rows, n[L])``."""
    arrays = net.state_dict()
    L = len(net.layer_sizes) - 1
    A = X
    for l in range(1, L + 1):
        W = g.const(f"{prefix}W{l}", arrays[f"W{l}"])
        b = g.const(f"{prefix}b{l}", arrays[f"b{l}"].ravel())
        Z = g.node("Gemm", [A, W, b], transB=1)
        A = activation(g, Z, (net.output if l == L else net.hidden).name)
    return A


def batch_ensemble_network(g: GraphBuilder, net: Any, X: str, prefix: str) -> str:
    """The ``K`` members of a TabM network at once (activations ``(rows, n[l], K)``) and
    their mean, ``(rows, n[L])``; see :mod:`nnscratch.core.batchensemble` for the math."""
    arrays, K, sizes = net.state_dict(), net.k, net.layer_sizes
    L = len(sizes) - 1
    A: str = X
    for l in range(1, L + 1):
        if l == 1:
            P = g.node("Gemm", [X, _first_layer_weights(g, arrays, prefix)], transB=1)
            P = g.node("Reshape", [P, g.const("members_shape", [-1, sizes[1], K], np.int64)])
        else:
            U = g.node("Mul", [A, g.const(f"{prefix}R{l}", arrays[f"R{l}"])])
            P = g.node("MatMul", [g.const(f"{prefix}W{l}", arrays[f"W{l}"]), U])
        Z = g.node("Mul", [P, g.const(f"{prefix}S{l}", arrays[f"S{l}"])])
        Z = g.node("Add", [Z, g.const(f"{prefix}B{l}", arrays[f"B{l}"])])
        A = activation(g, Z, (net.output if l == L else net.hidden).name, axis=1)
    return g.node("ReduceMean", [A], axes=[2], keepdims=0)


def _first_layer_weights(g: GraphBuilder, arrays: dict[str, np.ndarray], prefix: str) -> str:
    """``V[j,k,i] = W[j,i]·r_k[i]`` as ``(n[1]·K, n[0])``, computed in the graph from ``W1``
    and ``R1`` (so the file holds ``W1`` and ``R1``, not ``K`` times ``W1``); its inputs are
    all constants, so a runtime folds it once when it loads the graph."""
    W, R = arrays["W1"], arrays["R1"]
    V = g.node("Mul", [g.const(f"{prefix}W1", W[:, None, :]), g.const(f"{prefix}R1", R.T[None])])
    return g.node("Reshape", [V, g.const("weights_shape", [-1, W.shape[1]], np.int64)])


def estimator_outputs(g: GraphBuilder, estimator: Any, X: str) -> str:
    """The mean of a fitted estimator's networks' outputs for ``X`` ``(rows, n[0])``:
    ``(rows, n_outputs)``, as ``predict_outputs``."""
    outputs = []
    for member, net in enumerate(estimator.networks_):
        prefix = f"m{member + 1}." if len(estimator.networks_) > 1 else ""
        build = batch_ensemble_network if getattr(net, "k", 1) > 1 else plain_network
        outputs.append(build(g, net, X, prefix))
    return outputs[0] if len(outputs) == 1 else g.node("Mean", outputs)


# ---------------------------------------------------------------------- preprocessing


def table_inputs(g: GraphBuilder, pre: Any, dtype: np.dtype) -> tuple[list[Any], TableTensors]:
    """The graph inputs of a table model, and what every network of it reads: the scaled
    features (in the network's dtype) and, made once when first asked for, the one-hot
    blocks."""
    inputs = [g.value_info("features", np.float64, [ROWS, len(pre.features)])]
    scaler = pre.x_scaler
    scaled = g.node("Mul", ["features", g.const("x_scale", scaler.scale_)])
    scaled = g.node("Add", [scaled, g.const("x_min", scaler.min_)])
    scaled = g.node("Cast", [scaled], to=_element(g, dtype))
    for category in pre.categories:
        inputs.append(g.value_info(category.column, np.int64, [ROWS]))
    return inputs, TableTensors(scaled, pre.categories, dtype)


@dataclass(frozen=True)
class TableTensors:
    """A table graph's scaled features, and its one-hot blocks (made when first read, so
    that a lone model's graph keeps its nodes in the order it always had)."""

    scaled: str
    categories: list[Any]
    dtype: np.dtype
    made: list[str] = field(default_factory=list)

    def blocks(self, g: GraphBuilder) -> list[str]:
        if not self.made:
            for category in self.categories:
                self.made.append(_one_hot(g, category.column, len(category.levels_), self.dtype))
        return self.made


def table_network_inputs(
    g: GraphBuilder, encoder: Any, tensors: TableTensors, dtype: np.dtype
) -> str:
    """A network's inputs: its piecewise-linear encoding of the scaled features (or the
    scaled features), then the one-hot blocks."""
    scaled = tensors.scaled
    first = scaled if encoder is None else _piecewise_linear(g, encoder, scaled, dtype)
    blocks = [first, *tensors.blocks(g)]
    return blocks[0] if len(blocks) == 1 else g.node("Concat", blocks, axis=1)


def _piecewise_linear(g: GraphBuilder, encoder: Any, scaled: str, dtype: np.dtype) -> str:
    column, low, width = encoder.bin_table(dtype)
    bins = g.node("Gather", [scaled, g.const("bin_feature", column, np.int64)], axis=1)
    bins = g.node("Sub", [bins, g.const("bin_low", low)])
    bins = g.node("Div", [bins, g.const("bin_width", width)])
    bins = g.node("Clip", [bins, g.const("zero", 0, dtype), g.const("one", 1, dtype)])
    return g.node("Concat", [bins, scaled], axis=1) if encoder.include_input else bins


def _one_hot(g: GraphBuilder, column: str, n_levels: int, dtype: np.dtype) -> str:
    codes = g.node("Unsqueeze", [column, g.const("axis_1", [1], np.int64)])
    hits = g.node("Equal", [codes, g.const(f"{column}_levels", np.arange(n_levels))])
    one_hot = g.node("Cast", [hits], to=_element(g, dtype))
    seen = g.node("ReduceSum", [one_hot, g.const("axis_1", [1], np.int64)], keepdims=1)
    other = g.node("Sub", [g.const("one", 1, dtype), seen])
    return g.node("Concat", [one_hot, other], axis=1)


def _element(g: GraphBuilder, dtype: Any) -> int:
    return int(g.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))


# ---------------------------------------------------------------------- heads


def regression_head(g: GraphBuilder, outputs: str, pre: Any) -> str:
    """Network outputs ``(rows, 1)`` → target units ``(rows,)`` float64, clipped to the
    target's range: ``predictions``."""
    y = g.node("Cast", [outputs], to=_element(g, np.float64))
    scaler = pre.y_scaler
    y = g.node("Sub", [y, g.const("y_min", scaler.min_)])
    y = g.node("Div", [y, g.const("y_scale", scaler.scale_)])
    low, high = pre.target_bounds
    if np.isfinite(low) or np.isfinite(high):  # "": Clip's optional bound left out
        low_name = g.const("y_low", low, np.float64) if np.isfinite(low) else ""
        high_name = g.const("y_high", high, np.float64) if np.isfinite(high) else ""
        y = g.node("Clip", [y, low_name, high_name])
    return g.node("Squeeze", [y, g.const("axis_1", [1], np.int64)], "predictions")


def classification_head(
    g: GraphBuilder, outputs: str, classes: np.ndarray, dtype: np.dtype, threshold: float | None
) -> list[str]:
    """Network outputs (``dtype``) → ``label`` ``(rows,)`` (of the classes' type) and
    ``probabilities`` ``(rows, classes)``; a sigmoid unit's ``p`` as ``(1 − p, p)``. The label
    is the most probable class (ties to the first, as ``most_probable``), or with a
    ``threshold`` the second class where ``p ≥ threshold``."""
    if len(classes) == 2:
        complement = g.node("Sub", [g.const("one", 1, dtype), outputs])
        proba = g.node("Concat", [complement, outputs], "probabilities", axis=1)
    else:
        proba = g.node("Identity", [outputs], "probabilities")
    if threshold is not None:
        cut = g.node("GreaterOrEqual", [outputs, g.const("threshold", [threshold], dtype)])
        index = g.node(
            "Squeeze",
            [g.node("Cast", [cut], to=_element(g, np.int64)), g.const("axis_1", [1], np.int64)],
        )
    else:
        index = g.node("ArgMax", [proba], axis=1, keepdims=0)
    label = g.node("Gather", [g.const("classes", classes), index], "label", axis=0)
    return [label, proba]


# ---------------------------------------------------------------------- models


def _network_dtype(estimator: Any) -> np.dtype:
    return np.dtype(estimator.network_.dtype)


def estimator_graph(estimator: Any, *, classes: np.ndarray | None = None) -> Any:
    """An ``MLPRegressor`` (``predictions``) or ``MLPClassifier`` (``label``,
    ``probabilities``) on its inputs ``X`` ``(rows, n_features_in_)``."""
    g = GraphBuilder()
    dtype = _network_dtype(estimator)
    n_out = int(estimator.n_outputs_)
    inputs = [g.value_info("X", dtype, [ROWS, int(estimator.n_features_in_)])]
    outputs = estimator_outputs(g, estimator, "X")
    meta = {"nnscratch_version": __version__, "estimator": type(estimator).__name__}
    if classes is None:
        one_d = getattr(estimator, "_y_ndim", 1) == 1
        if one_d:
            g.node("Squeeze", [outputs, g.const("axis_1", [1], np.int64)], "predictions")
        else:
            g.node("Identity", [outputs], "predictions")
        shape = [ROWS] if one_d else [ROWS, n_out]
        result = [g.value_info("predictions", dtype, shape)]
    else:
        classification_head(g, outputs, classes, dtype, estimator.decision_threshold)
        result = _class_outputs(g, classes, dtype)
        meta["classes"] = classes.tolist()
        meta["threshold"] = estimator.decision_threshold
    return g.model(type(estimator).__name__, inputs, result, meta)


def _class_outputs(g: GraphBuilder, classes: np.ndarray, dtype: np.dtype) -> list[Any]:
    label_dtype = object if classes.dtype.kind in "OU" else classes.dtype
    return [
        g.value_info("label", label_dtype, [ROWS]),
        g.value_info("probabilities", dtype, [ROWS, len(classes)]),
    ]


@dataclass(frozen=True)
class TableExport:
    """A popularity model or table classifier as one graph: ``features`` and the level codes
    in, the target's ``predictions`` (or ``label`` and ``probabilities``) out (a table
    model's ``export``)."""

    #: the model's fitted feature stage
    preprocessing: Preprocessing
    #: its fitted estimator: an ``MLPRegressor``, or an ``MLPClassifier`` when ``labels``
    estimator: Any
    #: the task that trained it (recorded in the graph)
    task: str
    #: whether the target holds class labels
    labels: bool

    def to_onnx(self) -> Any:
        """The whole model, scaling and encodings included, as an ONNX ``ModelProto``
        (needs the ``onnx`` extra)."""
        return model_graph(self, [(self, None)])

    @property
    def dtype(self) -> np.dtype:
        return _network_dtype(self.estimator)

    def graph_inputs(self, g: GraphBuilder) -> tuple[list[Any], TableTensors]:
        """The graph's inputs, and what every network reads from them."""
        return table_inputs(g, self.preprocessing, self.dtype)

    def network(self, g: GraphBuilder, tensors: TableTensors) -> str:
        """The estimator's outputs ``(rows, n_outputs)`` from the shared tensors."""
        X = table_network_inputs(g, self.preprocessing.encoder, tensors, self.dtype)
        return estimator_outputs(g, self.estimator, X)

    def head(self, g: GraphBuilder, outputs: str) -> tuple[list[Any], dict[str, Any]]:
        """The answer from the network outputs: its graph outputs and the graph's metadata."""
        pre, estimator, dtype = self.preprocessing, self.estimator, self.dtype
        meta: dict[str, Any] = {
            "nnscratch_version": __version__,
            "task": self.task,
            "target": pre.label,
            "inputs": self.onnx_inputs(),
        }
        if self.labels:
            classes, threshold = estimator.classes_, estimator.decision_threshold
            classification_head(g, outputs, classes, dtype, threshold)
            result = _class_outputs(g, classes, dtype)
            meta["classes"] = classes.tolist()
            meta["threshold"] = threshold
        else:
            regression_head(g, outputs, pre)
            result = [g.value_info("predictions", np.float64, [ROWS])]
        meta["outputs"] = [r.name for r in result]
        return result, meta

    def onnx_inputs(self) -> list[dict[str, Any]]:
        """What another runtime feeds the graph, in order (``--print-inputs``): the
        ``features`` columns (which derived from text, and from what) and each categorical
        column's level codes."""
        pre = self.preprocessing
        derived = {
            n: list(DERIVED_FEATURES[n].sources) for n in pre.features if n in DERIVED_FEATURES
        }
        spec: list[dict[str, Any]] = [
            {
                "name": "features",
                "dtype": "float64",
                "shape": [ROWS, len(pre.features)],
                "columns": list(pre.features),
                "derived": derived,
                "values": "each column's number as a cleaned file holds it; 'derived' columns are "
                "computed from the text columns named (docs/export.md)",
            }
        ]
        for category in pre.categories:
            spec.append(
                {
                    "name": category.column,
                    "dtype": "int64",
                    "shape": [ROWS],
                    "levels": list(category.levels_),
                    "code": "the index in levels of the value stripped and lower-cased; any "
                    "other code (rare, unseen or missing values) is 'other'",
                }
            )
        return spec

    def onnx_feeds(self, cleaned: pd.DataFrame) -> dict[str, np.ndarray]:
        """The graph's inputs for the rows of a cleaned frame (a table model's
        ``read_rows``): ``features`` ``(n, len(features))`` float64 and each categorical
        column's codes."""
        pre = self.preprocessing
        feeds = {"features": cleaned[pre.features].to_numpy(dtype=np.float64)}
        for category in pre.categories:
            feeds[category.column] = category.codes(cleaned[category.column].to_numpy())
        return feeds


@dataclass(frozen=True)
class DigitExport:
    """A digits model as one graph: ``pixels`` ``(rows, R·C)`` in [0, 1] in, ``label`` and
    ``probabilities`` out (a digits model's ``export``)."""

    #: the model's fitted classifier
    classifier: Any
    #: ``(rows, cols)`` of the images it reads
    image_shape: tuple[int, int]
    #: whether the model averages each answer over shifted copies of the image
    tta: bool
    #: the task that trained it (recorded in the graph)
    task: str

    def to_onnx(self) -> Any:
        """The classifier as an ONNX ``ModelProto`` (needs the ``onnx`` extra); not for a
        model with test-time augmentation, whose answers the graph would not give."""
        return model_graph(self, [(self, None)])

    @property
    def dtype(self) -> np.dtype:
        return _network_dtype(self.classifier)

    def graph_inputs(self, g: GraphBuilder) -> tuple[list[Any], str]:
        """The ``pixels`` input, which every network reads."""
        n_pixels = self.image_shape[0] * self.image_shape[1]
        return [g.value_info("pixels", self.dtype, [ROWS, n_pixels])], "pixels"

    def network(self, g: GraphBuilder, pixels: str) -> str:
        """The classifier's outputs ``(rows, classes)``."""
        if self.tta:
            raise NNScratchError(
                "this digits model averages each answer over shifted copies of the image "
                "(test-time augmentation), which the ONNX graph does not do; train it with "
                "--tta off to export it"
            )
        return estimator_outputs(g, self.classifier, pixels)

    def head(self, g: GraphBuilder, outputs: str) -> tuple[list[Any], dict[str, Any]]:
        """The label and probabilities: the graph outputs, and the graph's metadata."""
        classes, dtype = self.classifier.classes_, self.dtype
        classification_head(g, outputs, classes, dtype, None)
        meta = {
            "nnscratch_version": __version__,
            "task": self.task,
            "image_shape": list(self.image_shape),
            "classes": classes.tolist(),
            "inputs": self.onnx_inputs(),
            "outputs": ["label", "probabilities"],
        }
        return _class_outputs(g, classes, dtype), meta

    def onnx_inputs(self) -> list[dict[str, Any]]:
        """What the graph takes: the ``pixels`` of each image, in [0, 1]."""
        rows, cols = self.image_shape
        return [
            {
                "name": "pixels",
                "dtype": np.dtype(_network_dtype(self.classifier)).name,
                "shape": [ROWS, rows * cols],
                "values": f"{rows}×{cols} pixels row by row, white on black, scaled to [0, 1]",
            }
        ]


@dataclass(frozen=True)
class EnsembleExport:
    """An ensemble (:mod:`nnscratch.models.ensemble`) as one graph: the inputs of its first
    member's graph, every member's network outputs from them (each with its own encoding),
    their weighted sum ``Σ wᵢ·outputsᵢ``, and the first member's head (an ensemble's
    ``export``)."""

    #: the members' own export parts (a :class:`TableExport` or :class:`DigitExport` each)
    members: list[Any]
    #: the members' weights, summing to 1
    weights: list[float]

    def to_onnx(self) -> Any:
        """The ensemble as an ONNX ``ModelProto`` (needs the ``onnx`` extra)."""
        return model_graph(self.members[0], list(zip(self.members, self.weights, strict=True)))

    def onnx_inputs(self) -> list[dict[str, Any]]:
        """What the graph takes: what its first member's takes (they all read the same)."""
        return self.members[0].onnx_inputs()


def model_graph(head: Any, members: list[tuple[Any, float | None]]) -> Any:
    """One graph: ``head``'s inputs, each member's ``network`` on what they give (weighted
    and summed where a weight is given), then ``head``'s answer."""
    g = GraphBuilder()
    inputs, shared = head.graph_inputs(g)
    outputs = []
    for part, weight in members:
        out = part.network(g, shared)
        if weight is not None:
            out = g.node("Mul", [out, g.const("member_weight", weight, head.dtype)])
        outputs.append(out)
    total = outputs[0] if len(outputs) == 1 else g.node("Sum", outputs)
    result, meta = head.head(g, total)
    if members[0][1] is not None:
        meta["ensemble"] = {"weights": [w for _, w in members]}
    return g.model(f"nnscratch {meta['task']}", inputs, result, meta)
