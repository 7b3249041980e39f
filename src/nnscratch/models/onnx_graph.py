"""A small builder for ONNX graphs, on the ``onnx`` package's own helpers.

:class:`GraphBuilder` collects nodes (``onnx.helper.make_node``) and constant
tensors (``onnx.numpy_helper.from_array``, stored as the graph's
initializers), names every intermediate value uniquely, and assembles and
checks the model (``make_graph``, ``make_model``, ``onnx.checker``). What the
graphs of this package's models contain is :mod:`nnscratch.models.onnx_export`.

``onnx`` is an optional extra (``pip install 'nnscratch[onnx]'``): it is
imported when a graph is built, never when the package is.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from nnscratch import __version__
from nnscratch.errors import NNScratchError

#: The operator set the graphs are written for (ONNX Runtime has run it since 1.13).
OPSET = 17
#: The IR version that goes with :data:`OPSET`.
IR_VERSION = 8


class ExportError(NNScratchError, RuntimeError):
    """A model cannot be exported: the ``onnx`` extra is missing, or the model has a part
    that ONNX export does not cover."""


def require_onnx() -> Any:
    """The ``onnx`` module, or :class:`ExportError` saying in one line what to install."""
    try:
        import onnx
    except ImportError:
        raise ExportError("export needs the onnx package: pip install 'nnscratch[onnx]'") from None
    return onnx


class GraphBuilder:
    """Nodes and constants of one graph; :meth:`model` makes the checked ``ModelProto``."""

    def __init__(self) -> None:
        self.onnx = require_onnx()
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._names: set[str] = set()
        self._constants: dict[str, list[tuple[np.ndarray, str]]] = {}

    def _fresh(self, stem: str) -> str:
        name, n = stem, 1
        while name in self._names:
            n += 1
            name = f"{stem}_{n}"
        self._names.add(name)
        return name

    def const(self, name: str, value: Any, dtype: Any = None) -> str:
        """A constant tensor (an initializer) named ``name`` (made unique); its name. The same
        name and value asked for again (a shape, an axis, the number 1) is the same tensor."""
        array = np.asarray(value, dtype=dtype)
        for kept, kept_name in self._constants.get(name, []):
            if kept.dtype == array.dtype and np.array_equal(kept, array):
                return kept_name
        if array.dtype.kind in "OU":  # text: ONNX's STRING tensors hold bytes
            array = np.asarray([str(v).encode() for v in array.ravel()], dtype=object).reshape(
                array.shape
            )
        tensor = self.onnx.numpy_helper.from_array(array, self._fresh(name))
        self.initializers.append(tensor)
        self._constants.setdefault(name, []).append((np.asarray(value, dtype=dtype), tensor.name))
        return tensor.name

    def node(self, op: str, inputs: Sequence[str], name: str | None = None, **attrs: Any) -> str:
        """Add one ``op`` node reading ``inputs``; the name of its (single) output: ``name``
        itself where no value has it yet (a graph output's name), else made unique."""
        output = self._fresh(name or op.lower())
        self.nodes.append(
            self.onnx.helper.make_node(op, list(inputs), [output], name=output, **attrs)
        )
        return output

    def value_info(self, name: str, dtype: Any, shape: Sequence[int | str]) -> Any:
        """A named input or output: its element type and shape (a string is a dynamic
        dimension)."""
        helper = self.onnx.helper
        element = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
        return helper.make_tensor_value_info(name, element, list(shape))

    def model(
        self,
        name: str,
        inputs: list[Any],
        outputs: list[Any],
        metadata: dict[str, Any],
        doc: str = "",
    ) -> Any:
        """The checked model: opset :data:`OPSET`, ``metadata`` as its metadata props
        (non-string values as JSON), ``producer_name`` nnscratch."""
        helper = self.onnx.helper
        graph = helper.make_graph(
            self.nodes, name, inputs, outputs, initializer=self.initializers, doc_string=doc
        )
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET)],
            producer_name="nnscratch",
            producer_version=__version__,
            ir_version=IR_VERSION,
        )
        props = {
            key: value if isinstance(value, str) else json.dumps(value)
            for key, value in metadata.items()
        }
        helper.set_model_props(model, props)
        self.onnx.checker.check_model(model, full_check=True)
        return model
