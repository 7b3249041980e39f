"""The Open Inference Protocol (KServe V2, as Triton and MLServer speak it), over REST, with
Triton's binary tensor data extension.

::

    GET  /v2/health/live                          {"live": true}
    GET  /v2/health/ready                         {"ready": true}
    GET  /v2                                      {"name", "version",
                                                   "extensions": ["binary_tensor_data"]}
    GET  /v2/models/{name}[/versions/{v}]         metadata: the model's inputs and outputs
                                                  (name, datatype, shape; -1 is the batch)
    GET  /v2/models/{name}[/versions/{v}]/ready   {"name", "ready": true}
    POST /v2/models/{name}[/versions/{v}]/infer   {"id"?, "parameters"?, "inputs": [...],
                                                   "outputs"?: [...]} → {"model_name",
                                                   "model_version", "id"?, "outputs": [...]}

A model file is one version, ``"1"``; any other version is a 404 that names it.

What the inputs are is the fitted model's (``tensor_inputs``, ``tensor_request``):
for a table model its raw columns by name (numbers FP64, text BYTES), or its
features as one ``features`` tensor; for a digits model its pixels. The outputs are
the answer ``POST /predict`` gives for the same rows, as tensors: ``predictions``
(and ``probabilities`` for classes).

The binary tensor data extension: a tensor's data may follow the JSON in the body
as raw bytes (little-endian, row-major; a BYTES element as a 4-byte length and its
bytes) instead of ``"data"``. The request then says how long its JSON is
(``Inference-Header-Content-Length``) and each such input its byte count
(``"parameters": {"binary_data_size": n}``), in the order of ``inputs``. An output
comes back the same way where the request asks (``"binary_data": true`` on the
output, or ``"binary_data_output": true`` on the request, which an output's own
setting overrides), and the answer then carries the header itself. Errors are
``{"error": "..."}`` with a 4xx status, as the protocol says.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnscratch.errors import RequestError

#: The extensions this server speaks (the server metadata's ``extensions``).
EXTENSIONS = ["binary_tensor_data"]
#: The header that gives the length of a body's JSON part when binary data follows it.
HEADER_LENGTH = "Inference-Header-Content-Length"

#: The protocol's datatypes: each one's little-endian NumPy type on the wire (binary
#: data; BYTES has none), and the type its values are read as (as JSON numbers are).
DATATYPES: dict[str, tuple[str | None, Any]] = {
    "BOOL": ("|b1", np.bool_),
    "INT8": ("<i1", np.int64),
    "INT16": ("<i2", np.int64),
    "INT32": ("<i4", np.int64),
    "INT64": ("<i8", np.int64),
    "UINT8": ("|u1", np.int64),
    "UINT16": ("<u2", np.int64),
    "UINT32": ("<u4", np.int64),
    "UINT64": ("<u8", np.int64),
    "FP16": ("<f2", np.float64),
    "FP32": ("<f4", np.float64),
    "FP64": ("<f8", np.float64),
    "BYTES": (None, object),
}
#: An answer's outputs, in the order they are sent.
OUTPUTS = ("predictions", "probabilities")


@dataclass
class InferenceRequest:
    """A parsed inference request: its input tensors by name, its ``id``, and which
    outputs it wants (all where it names none), each as binary data or JSON."""

    tensors: dict[str, np.ndarray]
    id: str | None = None
    outputs: dict[str, bool] = field(default_factory=dict)
    binary_output: bool = False


def split_body(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    """A request body's JSON part and the binary data after it, by the
    ``Inference-Header-Content-Length`` header (None: the whole body is JSON)."""
    if header_length is None:
        return body, b""
    text = header_length.strip()
    if not (text.isascii() and text.isdigit()):
        raise RequestError(
            400,
            f"the {HEADER_LENGTH} header must be the length of the body's JSON part in "
            f"bytes, got {header_length[:40]!r}",
        )
    length = int(text)
    if not 0 < length <= len(body):
        raise RequestError(
            400,
            f"the {HEADER_LENGTH} header says the JSON part is {length:,} bytes, but the "
            f"body is {len(body):,} bytes",
        )
    return body[:length], body[length:]


def read_request(
    payload: Any, binary: bytes, output_names: list[str], max_values: int
) -> InferenceRequest:
    """The request in ``payload`` (its JSON part, parsed) with ``binary`` (the bytes after
    it); 400 naming the field at fault, 413 for a tensor over ``max_values`` values."""
    if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list):
        raise RequestError(
            400, 'an inference request is {"inputs": [{"name", "shape", "datatype", "data"}, …]}'
        )
    request_id = payload.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise RequestError(400, f'"id" must be a string, got {request_id!r:.40}')
    parameters = _parameters(payload, "the request")
    binary_output = _flag(parameters, "binary_data_output", "the request")
    outputs = _requested_outputs(payload.get("outputs"), output_names, binary_output)
    tensors: dict[str, np.ndarray] = {}
    offset = 0
    for k, tensor in enumerate(payload["inputs"]):
        if not isinstance(tensor, dict):
            raise RequestError(400, f"inputs[{k}] must be an object")
        name = tensor.get("name")
        if not isinstance(name, str) or not name:
            raise RequestError(400, f"inputs[{k}] has no name")
        if name in tensors:
            raise RequestError(400, f"input {name!r} is given twice")
        tensors[name], offset = _tensor(name, tensor, binary, offset, max_values)
    if not tensors:
        raise RequestError(400, '"inputs" is empty')
    if offset != len(binary):
        raise RequestError(
            400,
            f"the body has {len(binary):,} bytes after its JSON part; the inputs' "
            f"binary_data_size add up to {offset:,}",
        )
    return InferenceRequest(tensors, request_id, outputs, binary_output)


def _parameters(holder: dict[str, Any], where: str) -> dict[str, Any]:
    parameters = holder.get("parameters", {})
    if not isinstance(parameters, dict):
        raise RequestError(400, f'"parameters" of {where} must be an object')
    return parameters


def _flag(parameters: dict[str, Any], name: str, where: str, default: bool = False) -> bool:
    value = parameters.get(name, default)
    if not isinstance(value, bool):
        raise RequestError(400, f"{name} of {where} must be true or false, got {value!r:.40}")
    return value


def _requested_outputs(requested: Any, names: list[str], binary_output: bool) -> dict[str, bool]:
    """Each output to send, by name, and whether as binary data."""
    if requested is None:
        return dict.fromkeys(names, binary_output)
    if not isinstance(requested, list):
        raise RequestError(400, '"outputs" must be a list of {"name", "parameters"?}')
    out: dict[str, bool] = {}
    for k, output in enumerate(requested):
        name = output.get("name") if isinstance(output, dict) else None
        if name not in names:
            raise RequestError(
                400, f"outputs[{k}]: no output {name!r:.40}; the model's are {', '.join(names)}"
            )
        parameters = _parameters(output, f"output {name!r}")
        out[name] = _flag(parameters, "binary_data", f"output {name!r}", binary_output)
    return out


def _tensor(
    name: str, tensor: dict[str, Any], binary: bytes, offset: int, max_values: int
) -> tuple[np.ndarray, int]:
    """One input tensor, reshaped to its ``shape``, and the offset in ``binary`` after it."""
    datatype, shape = tensor.get("datatype"), tensor.get("shape")
    if not isinstance(datatype, str) or datatype not in DATATYPES:
        raise RequestError(
            400, f"input {name!r}: datatype {datatype!r} is not one of {', '.join(DATATYPES)}"
        )
    if not isinstance(shape, list) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape
    ):
        raise RequestError(400, f"input {name!r}: shape must be a list of sizes, got {shape!r}")
    count = int(np.prod(shape, dtype=object)) if shape else 1
    if count > max_values:  # more than a body within the limits can hold
        raise RequestError(
            400, f"input {name!r}: shape {shape} is {count:,} values; the limit is {max_values:,}"
        )
    size = _parameters(tensor, f"input {name!r}").get("binary_data_size")
    if size is None:
        return _from_json(name, datatype, tensor.get("data"), count).reshape(shape), offset
    if "data" in tensor:
        raise RequestError(400, f"input {name!r} has both data and a binary_data_size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise RequestError(400, f"input {name!r}: binary_data_size must be a byte count")
    if offset + size > len(binary):
        raise RequestError(
            400,
            f"input {name!r}: binary_data_size {size:,} runs past the end of the body "
            f"({len(binary) - offset:,} bytes left after its JSON part and earlier inputs)",
        )
    values = _from_binary(name, datatype, binary[offset : offset + size], count)
    return values.reshape(shape), offset + size


def _from_json(name: str, datatype: str, data: Any, count: int) -> np.ndarray:
    flat = _flatten(data, name)
    if len(flat) != count:
        raise RequestError(
            400, f"input {name!r}: its shape needs {count} values, data has {len(flat)}"
        )
    kind = DATATYPES[datatype][1]
    if kind is object:
        values = np.empty(count, dtype=object)
        values[:] = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in flat]
        return values
    try:
        return np.asarray(flat, dtype=kind)
    except (TypeError, ValueError, OverflowError):
        raise RequestError(400, f"input {name!r}: data is not all {datatype}") from None


def _from_binary(name: str, datatype: str, data: bytes, count: int) -> np.ndarray:
    """``count`` values of ``datatype`` from their raw bytes, read as JSON's would be."""
    wire, kind = DATATYPES[datatype]
    if wire is None:
        return _bytes_elements(name, data, count)
    itemsize = np.dtype(wire).itemsize
    if len(data) != count * itemsize:
        raise RequestError(
            400,
            f"input {name!r}: {count} {datatype} values are {count * itemsize:,} bytes, "
            f"its binary_data_size is {len(data):,}",
        )
    return np.frombuffer(data, dtype=wire).astype(kind)


def _bytes_elements(name: str, data: bytes, count: int) -> np.ndarray:
    """BYTES elements: each a 4-byte little-endian length and that many bytes (UTF-8 text)."""
    values = np.empty(count, dtype=object)
    at = 0
    for i in range(count):
        if at + 4 > len(data):
            raise RequestError(400, f"input {name!r}: its binary data ends before element {i}")
        (length,) = struct.unpack_from("<I", data, at)
        if at + 4 + length > len(data):
            raise RequestError(400, f"input {name!r}: element {i} runs past its binary data")
        values[i] = data[at + 4 : at + 4 + length].decode("utf-8", "replace")
        at += 4 + length
    if at != len(data):
        raise RequestError(
            400, f"input {name!r}: {len(data) - at:,} bytes left after its {count} elements"
        )
    return values


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


def response_body(
    head: dict[str, Any], answer: dict[str, Any], outputs: dict[str, bool]
) -> tuple[bytes, int | None]:
    """The answer to an inference request: ``head`` (model name, version, id) and the
    ``/predict`` answer's values as the requested ``outputs``, JSON or binary; the body and,
    where binary data follows the JSON, the JSON's length (for :data:`HEADER_LENGTH`)."""
    tensors, chunks = [], []
    for name in OUTPUTS:
        if name not in answer or name not in outputs:
            continue
        values = np.asarray(answer[name])
        tensor: dict[str, Any] = {
            "name": name,
            "datatype": datatype_of(values),
            "shape": list(values.shape),
        }
        if outputs[name]:
            chunks.append(to_binary(values, tensor["datatype"]))
            tensor["parameters"] = {"binary_data_size": len(chunks[-1])}
        else:
            tensor["data"] = values.ravel().tolist()
        tensors.append(tensor)
    header = json.dumps(head | {"outputs": tensors}, separators=(",", ":")).encode()
    if not chunks:
        return header, None
    return b"".join([header, *chunks]), len(header)


def datatype_of(values: np.ndarray) -> str:
    """The protocol's datatype for an array of answers."""
    kind = values.dtype.kind
    return {"b": "BOOL", "i": "INT64", "u": "INT64", "f": "FP64"}.get(kind, "BYTES")


def to_binary(values: np.ndarray, datatype: str) -> bytes:
    """``values`` as the extension's raw bytes (little-endian, row-major)."""
    wire = DATATYPES[datatype][0]
    if wire is not None:
        return np.ascontiguousarray(values, dtype=wire).tobytes()
    encoded = [str(v).encode() for v in values.ravel().tolist()]
    return b"".join(struct.pack("<I", len(e)) + e for e in encoded)
