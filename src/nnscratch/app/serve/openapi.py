"""The OpenAPI document of ``nnscratch serve`` (``GET /openapi.json``), route by route, and
``GET /docs``: Swagger UI from the package's own copy, nothing fetched from elsewhere.

Each route's entry says what it reads (each body by media type: the served model's
own JSON Schema, :meth:`~nnscratch.models.fitted.Servable.request_schemas`), what it
answers with every status it gives, and each error's body: ``{"detail": "..."}`` on
the package's routes, ``{"error": "..."}`` on the Open Inference Protocol's. Routes
that read their body by hand (``/predict``, ``infer``) still do: their request body is
declared here as ``openapi_extra``, which only FastAPI's document reads, so describing
a body costs the request nothing. The document describes this server and its model: a
path's model name and version are the ones it serves.

Two things a JSON Schema cannot say are said in words: a number's text (``"0.5"``) is
read as the number, as a CSV cell is (:mod:`nnscratch.models.request_schemas`), and an
inference request may carry its tensors as binary data after its JSON, the length of
which is the ``Inference-Header-Content-Length`` header (a header whose value depends
on the body is no OpenAPI parameter).

Swagger UI's script and style sheet (Apache-2.0) come from the ``fastapi-offline`` package
of the serve extra, which ships them as its own package data; its licence, notices and the
page's icon are in ``vendor/swagger-ui/``. Both are served by this server, never a CDN; the
page asks Swagger UI not to send the document to an online validator.
(No ``from __future__ import annotations``: FastAPI reads the ``/docs`` route's
annotation, which must be the class itself.)
"""

import math
from typing import Any

from nnscratch.app.serve.inference_protocol import DATATYPES, EXTENSIONS, HEADER_LENGTH

Schema = dict[str, Any]

#: Where the page's Swagger UI files are served from, and the package folders they are in:
#: this package's (the icon, the licence) and fastapi-offline's (the script and styles).
DOCS_ASSETS = "/docs/assets"
ASSETS_FOLDERS = [("nnscratch.app.serve", "vendor/swagger-ui"), ("fastapi_offline", "static")]

DETAIL: Schema = {
    "type": "object",
    "properties": {"detail": {"type": "string", "description": "what is wrong, and where"}},
    "required": ["detail"],
}
V2_ERROR: Schema = {
    "type": "object",
    "properties": {"error": {"type": "string", "description": "what is wrong, and where"}},
    "required": ["error"],
}

#: The two groups of routes on ``/docs``: the package's own, and the protocol's.
PACKAGE, PROTOCOL = "nnscratch", "Open Inference Protocol"
TAGS = [
    {"name": PACKAGE, "description": "The model's page, its description, predictions, metrics"},
    {
        "name": PROTOCOL,
        "description": "KServe V2 over REST, as Triton and MLServer speak it, with Triton's "
        "binary tensor data extension",
    },
]

#: What each error status of ``/predict`` means.
PREDICT_ERRORS = {
    400: "the body is empty or not valid JSON",
    413: "the body is over --max-body bytes, or holds more than --max-rows rows or images",
    415: "a media type this model does not read",
    422: "the body's content cannot be scored: the row, column or value at fault is named",
}
#: What each error status of the Open Inference Protocol's ``infer`` means.
INFER_ERRORS = {
    400: "a malformed request: not JSON, a field of the wrong type, a tensor whose shape "
    "and data disagree (or whose shape is over the limit of values), a bad "
    "Inference-Header-Content-Length or binary_data_size, an output the model has not",
    404: "no such model or version on this server",
    413: "the body is over --max-body bytes, or the tensors hold more than --max-rows rows",
    422: "the tensors' values cannot be scored: the row, column or value is named",
}


def json_content(schema: Schema, example: Any = None) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": schema}
    if example is not None:
        content["example"] = example
    return {"application/json": content}


def answers(ok: dict[str, Any], errors: dict[int, str], error_body: Schema) -> dict[int, Any]:
    """The ``responses`` of a route: ``ok`` for 200, and each error status with its body."""
    out: dict[int, Any] = {200: ok}
    for status, meaning in errors.items():
        out[status] = {"description": meaning, "content": json_content(error_body)}
    return out


def reading_docs(description: dict[str, Any], metrics_type: str) -> dict[str, dict[str, Any]]:
    """The routes that read no body, by path: ``/``, ``/health``, ``/model``, ``/metrics``."""
    status = {"type": "object", "properties": {"status": {"const": "ok"}}, "required": ["status"]}
    model = {
        "type": "object",
        "properties": {
            "task": {"type": "string"},
            "inputs": {"type": "array", "items": {"type": "object"}},
            "limits": {
                "type": "object",
                "properties": {
                    "max_body_bytes": {"type": "integer"},
                    "max_rows": {"type": "integer"},
                },
            },
        },
        "required": ["task", "limits"],
    }
    html = {"text/html": {"schema": {"type": "string"}}}
    text = {"text/plain": {"schema": {"type": "string"}}}
    docs = {
        "/": {
            "summary": "The page for people: try the model by hand",
            "responses": {
                200: {"description": "an HTML page, nothing from a CDN", "content": html}
            },
        },
        "/health": {
            "summary": "Is the server up",
            "responses": {200: {"description": "it is", "content": json_content(status)}},
        },
        "/model": {
            "summary": "What the model is and reads",
            "description": "The task, the inputs a row needs (with training ranges), classes, "
            "layer sizes, training scores, the server's limits.",
            "responses": {
                200: {"description": "the model", "content": json_content(model, description)}
            },
        },
        "/metrics": {
            "summary": "The server's counters, for Prometheus",
            "description": f"Prometheus's text exposition format ({metrics_type}).",
            "responses": {200: {"description": "the metrics", "content": text}},
        },
    }
    return {path: doc | {"tags": [PACKAGE]} for path, doc in docs.items()}


def example_row(bodies: dict[str, Schema]) -> dict[str, Any] | None:
    """A table model's example row (each input's default), from the JSON Schema of its
    ``/predict`` bodies; None for a model that reads no rows."""
    form = bodies["application/json"].get("anyOf", [{}])[0].get("properties", {})
    examples = form.get("rows", {}).get("items", {}).get("examples")
    return examples[0] if examples else None


def predict_doc(serving: Any, max_rows: int, max_body_bytes: int) -> dict[str, Any]:
    """``POST /predict``: the model's bodies, its answer, and every error."""
    bodies = serving.request_schemas(max_rows)
    content = {media: {"schema": schema} for media, schema in bodies.items()}
    row = example_row(bodies)
    if row is not None:
        content["application/json"]["example"] = {"rows": [row]}
    return {
        "tags": [PACKAGE],
        "summary": f"Predict: {', '.join(bodies)}",
        "description": "\n".join(
            [
                "The answer for every row or image sent, in order: the numbers `nnscratch "
                f"predict` writes for them, to the bit. At most {max_body_bytes:,} bytes a body "
                "(--max-body).",
                "",
                *(f"- `{media}`: {body.get('description', '')}" for media, body in bodies.items()),
            ]
        ),
        "openapi_extra": {"requestBody": {"required": True, "content": content}},
        "responses": answers(
            {"description": "the answers", "content": json_content(serving.answer_schema())},
            PREDICT_ERRORS,
            DETAIL,
        ),
    }


def model_parameters(name: str, version: str | None) -> list[dict[str, Any]]:
    """The path parameters of a model's route: its name (and version), those served."""
    parameters = [
        {
            "name": "model_name",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "enum": [name]},
            "description": f"the model's name: this server serves {name!r}",
        }
    ]
    if version is not None:
        parameters.append(
            {
                "name": "model_version",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "enum": [version]},
                "description": f"the model's version: its file is version {version!r}",
            }
        )
    return parameters


def tensor_metadata() -> Schema:
    return {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "datatype": {"enum": list(DATATYPES)},
            "shape": {"type": "array", "items": {"type": "integer"}},
        },
        "required": ["name", "datatype", "shape"],
    }


def protocol_docs() -> dict[str, dict[str, Any]]:
    """The Open Inference Protocol's routes without a model in their path."""

    def flag(key: str) -> Schema:
        return {"type": "object", "properties": {key: {"type": "boolean"}}, "required": [key]}

    server = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "version": {"type": "string"},
            "extensions": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["name", "version", "extensions"],
    }
    docs = {
        "/v2/health/live": {
            "summary": "Server live",
            "responses": {200: {"description": "live", "content": json_content(flag("live"))}},
        },
        "/v2/health/ready": {
            "summary": "Server ready: its model is loaded",
            "responses": {200: {"description": "ready", "content": json_content(flag("ready"))}},
        },
        "/v2": {
            "summary": "Server metadata",
            "description": f"Its extensions: {', '.join(EXTENSIONS)} (Triton's binary tensor "
            "data, both ways).",
            "responses": {200: {"description": "the server", "content": json_content(server)}},
        },
    }
    return {path: doc | {"tags": [PROTOCOL]} for path, doc in docs.items()}


def model_metadata_doc(name: str, version: str | None, metadata: dict[str, Any]) -> dict:
    """``GET /v2/models/{name}[/versions/{version}]``."""
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "versions": {"type": "array", "items": {"type": "string"}},
            "platform": {"type": "string"},
            "inputs": {"type": "array", "items": tensor_metadata()},
            "outputs": {"type": "array", "items": tensor_metadata()},
        },
        "required": ["name", "platform", "inputs", "outputs"],
    }
    ok = {"description": "the model's tensors", "content": json_content(schema, metadata)}
    return {
        "tags": [PROTOCOL],
        "summary": "Model metadata: its input and output tensors",
        "openapi_extra": {"parameters": model_parameters(name, version)},
        "responses": answers(ok, {404: INFER_ERRORS[404]}, V2_ERROR),
    }


def model_ready_doc(name: str, version: str | None) -> dict[str, Any]:
    """``GET /v2/models/{name}[/versions/{version}]/ready``."""
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "ready": {"type": "boolean"}},
        "required": ["name", "ready"],
    }
    return {
        "tags": [PROTOCOL],
        "summary": "Model ready",
        "openapi_extra": {"parameters": model_parameters(name, version)},
        "responses": answers(
            {"description": "ready", "content": json_content(schema)},
            {404: INFER_ERRORS[404]},
            V2_ERROR,
        ),
    }


def infer_example(tensors: list[dict[str, Any]], row: dict[str, Any] | None) -> dict:
    """An inference request the model answers, for the page's "Try it out": the example
    row, a tensor a column, or one blank image."""
    inputs = []
    for tensor in tensors:
        shape = [1, *tensor["shape"][1:]]
        if row is not None and len(shape) == 1:
            value = row[tensor["name"]]
            data = [str(value) if tensor["datatype"] == "BYTES" else value]
        else:
            data = [0.0] * math.prod(shape)
        inputs.append({**tensor, "shape": shape, "data": data})
    return {"inputs": inputs}


def infer_doc(name: str, version: str | None, serving: Any) -> dict[str, Any]:
    """``POST /v2/models/{name}[/versions/{version}]/infer``: the protocol's request, its
    binary form, the answer as JSON or binary, and every error."""
    tensors = serving.tensor_inputs()
    example = infer_example(tensors, example_row(serving.request_schemas(max_rows=1)))
    inputs = ", ".join(f"{t['name']} ({t['datatype']} {t['shape']})" for t in tensors)
    output_names = [t["name"] for t in serving.tensor_outputs()]
    request_input = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
            "datatype": {"enum": list(DATATYPES)},
            "parameters": {
                "type": "object",
                "properties": {"binary_data_size": {"type": "integer", "minimum": 0}},
            },
            "data": {"type": "array", "description": "flat (row-major) or nested by shape"},
        },
        "required": ["name", "shape", "datatype"],
    }
    request_output = {
        "type": "object",
        "properties": {
            "name": {"enum": output_names},
            "parameters": {"type": "object", "properties": {"binary_data": {"type": "boolean"}}},
        },
        "required": ["name"],
    }
    request = {  # an optional field given as null is read as left out, as clients send it
        "type": "object",
        "properties": {
            "id": {"type": ["string", "null"]},
            "parameters": {
                "type": "object",
                "properties": {"binary_data_output": {"type": "boolean"}},
            },
            "inputs": {"type": "array", "items": request_input, "minItems": 1},
            "outputs": {"type": ["array", "null"], "items": request_output},
        },
        "required": ["inputs"],
    }
    response_output = {
        "type": "object",
        "properties": {
            "name": {"enum": output_names},
            "datatype": {"enum": list(DATATYPES)},
            "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
            "data": {"type": "array"},
            "parameters": {
                "type": "object",
                "properties": {"binary_data_size": {"type": "integer", "minimum": 0}},
            },
        },
        "required": ["name", "datatype", "shape"],
    }
    response = {
        "type": "object",
        "properties": {
            "model_name": {"const": name},
            "model_version": {"type": "string"},
            "id": {"type": "string"},
            "outputs": {"type": "array", "items": response_output},
        },
        "required": ["model_name", "outputs"],
    }
    binary = {
        "type": "string",
        "format": "binary",
        "description": f"the JSON answer, its length in the {HEADER_LENGTH} header, then "
        "each binary output's bytes in order",
    }
    ok = {
        "description": "the outputs: JSON, or binary data after the JSON where asked",
        "content": {
            "application/json": {"schema": response},
            "application/octet-stream": {"schema": binary},
        },
    }
    return {
        "tags": [PROTOCOL],
        "summary": "Inference: the model's outputs for input tensors",
        "description": (
            f"Inputs: {inputs}. Outputs: the numbers `POST /predict` answers for the same "
            "rows. "
            "Binary tensor data: a tensor's bytes may follow the JSON (little-endian, "
            "row-major; a BYTES element as a 4-byte length and its bytes) instead of `data`, "
            f'with `"parameters": {{"binary_data_size": n}}` on the input and the length of '
            f"the JSON part in the `{HEADER_LENGTH}` header. Outputs come back as binary "
            'data where `"binary_data": true` is on the output or `"binary_data_output": '
            "true` on the request (an output's own setting wins)."
        ),
        "openapi_extra": {
            "parameters": model_parameters(name, version),
            "requestBody": {"required": True, "content": json_content(request, example)},
        },
        "responses": answers(ok, INFER_ERRORS, V2_ERROR),
    }


def add_docs_page(app: Any, title: str) -> None:
    """``GET /docs``: Swagger UI on ``/openapi.json``, its files served from the package."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse
    from starlette.requests import Request
    from starlette.staticfiles import StaticFiles

    assets = StaticFiles(packages=ASSETS_FOLDERS)
    app.mount(DOCS_ASSETS, assets, name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=root + app.openapi_url,
            title=f"{title}: the API",
            swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None, "defaultModelsExpandDepth": 0},
        )
