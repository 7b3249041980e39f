"""The Open Inference Protocol (KServe V2, as Triton and MLServer speak it), over REST.

::

    GET  /v2/health/live            {"live": true}
    GET  /v2/health/ready           {"ready": true}
    GET  /v2                        {"name": "nnscratch", "version": ..., "extensions": []}
    GET  /v2/models/{name}          metadata: the model's inputs and outputs (name, datatype,
                                    shape; -1 is the batch)
    POST /v2/models/{name}/infer    {"id"?, "inputs": [{"name", "shape", "datatype", "data"}]}
                                    → {"model_name", "model_version", "id"?, "outputs": [...]}

What the inputs are is the fitted model's (``tensor_inputs``,
``tensor_request``): for a table model its raw columns by name (numbers FP64,
text BYTES), or its features as one ``features`` tensor; for a digits model
its pixels. The outputs are the answer ``POST /predict`` gives for the same
rows, as tensors: ``predictions`` (and ``probabilities`` for classes). Errors
are ``{"error": "..."}`` with a 4xx status, as the protocol says.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnscratch.errors import RequestError

#: The protocol's datatypes this server reads, and the NumPy type each becomes.
DATATYPES = {
    "BOOL": np.bool_,
    "INT8": np.int64,
    "INT16": np.int64,
    "INT32": np.int64,
    "INT64": np.int64,
    "UINT8": np.int64,
    "UINT16": np.int64,
    "UINT32": np.int64,
    "UINT64": np.int64,
    "FP16": np.float64,
    "FP32": np.float64,
    "FP64": np.float64,
    "BYTES": object,
}


def read_tensors(payload: Any, max_tensor_values: int) -> tuple[dict[str, np.ndarray], Any]:
    """The request's input tensors by name (each reshaped to its ``shape``), and its ``id``;
    400 naming the tensor and field at fault."""
    if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list):
        raise RequestError(
            400, 'an inference request is {"inputs": [{"name", "shape", "datatype", "data"}, …]}'
        )
    tensors = {}
    for k, tensor in enumerate(payload["inputs"]):
        if not isinstance(tensor, dict):
            raise RequestError(400, f"inputs[{k}] must be an object")
        name = tensor.get("name")
        if not isinstance(name, str) or not name:
            raise RequestError(400, f"inputs[{k}] has no name")
        tensors[name] = _tensor(name, tensor, max_tensor_values)
    if not tensors:
        raise RequestError(400, '"inputs" is empty')
    return tensors, payload.get("id")


def _tensor(name: str, tensor: dict[str, Any], max_values: int) -> np.ndarray:
    datatype, shape, data = tensor.get("datatype"), tensor.get("shape"), tensor.get("data")
    if datatype not in DATATYPES:
        raise RequestError(
            400, f"input {name!r}: datatype {datatype!r} is not one of {', '.join(DATATYPES)}"
        )
    if not isinstance(shape, list) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape
    ):
        raise RequestError(400, f"input {name!r}: shape must be a list of sizes, got {shape!r}")
    count = int(np.prod(shape)) if shape else 1
    if count > max_values:
        raise RequestError(413, f"input {name!r}: {count:,} values; the limit is {max_values:,}")
    flat = _flatten(data, name)
    if len(flat) != count:
        raise RequestError(
            400, f"input {name!r}: shape {shape} needs {count} values, data has {len(flat)}"
        )
    if DATATYPES[datatype] is object:
        values = np.empty(count, dtype=object)
        values[:] = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in flat]
    else:
        try:
            values = np.asarray(flat, dtype=DATATYPES[datatype])
        except (TypeError, ValueError, OverflowError):
            raise RequestError(400, f"input {name!r}: data is not all {datatype}") from None
    return values.reshape(shape)


def _flatten(data: Any, name: str) -> list[Any]:
    """``data`` as a flat list: the protocol allows it flat (row-major) or nested."""
    if not isinstance(data, list):
        raise RequestError(400, f"input {name!r}: data must be a list")
    flat: list[Any] = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            flat.append(item)
        else:
            stack.pop()
    return flat


def output_tensors(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """A ``/predict`` answer's ``predictions`` (and ``probabilities``) as output tensors."""
    outputs = []
    for name in ("predictions", "probabilities"):
        if name in answer:
            values = np.asarray(answer[name])
            outputs.append(
                {
                    "name": name,
                    "shape": list(values.shape),
                    "datatype": datatype_of(values),
                    "data": values.ravel().tolist(),
                }
            )
    return outputs


def datatype_of(values: np.ndarray) -> str:
    """The protocol's datatype for an array of answers."""
    kind = values.dtype.kind
    return {"b": "BOOL", "i": "INT64", "u": "INT64", "f": "FP64"}.get(kind, "BYTES")
