"""The JSON Schema of what a served model reads and answers: a table's rows, a digit's
pixels, and each answer (what ``nnscratch serve``'s OpenAPI document says of ``/predict``).

Each schema says what :mod:`nnscratch.models.requests` accepts, no more and no less, so
that a client built from the document sends nothing the server refuses, and what the
server refuses is what the document rules out::

    a number     a JSON number within the feature's bounds (its valid range, not too far
                 outside its training range: :func:`~nnscratch.models.requests.value_bounds`),
                 or true / false where 0 and 1 lie within them (read as 1 and 0)
    a date       "YYYY[-MM[-DD]]" with a year from 1800 to 2100 (where the model reads the
                 year from it), or that year as a whole number
    text         any value, read as its text (a name, the artists)
    a category   any value; a level the model did not see is a level of its own
    pixels       rows·cols numbers in [0, 1], row by row

A number may also come as its text (``"0.5"``, as a CSV file's cells come): the server
reads it as the number, but the schema leaves it out, since JSON Schema cannot bound the
number a string holds. Limits of the server (rows per request, body size) are stated in
the descriptions, not as ``maxItems``: a request over them gets a 413, which is no
statement about the body's shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnscratch.data.cleaning import VALUE_RANGES
from nnscratch.data.preprocessing import Preprocessing
from nnscratch.models.requests import row_inputs, value_bounds

#: A JSON Schema, as a dict.
Schema = dict[str, Any]

#: The release dates whose year the model reads: ``YYYY[-MM[-DD]]`` (month 1–12, day 1–31,
#: one or two digits), the year within :data:`VALUE_RANGES`' 1800 to 2100, space around.
RELEASE_DATE_PATTERN = (
    r"^\s*(1[89][0-9]{2}|20[0-9]{2}|2100)(-(0?[1-9]|1[0-2])(-(0?[1-9]|[12][0-9]|3[01]))?)?\s*$"
)


def number_schema(low: float, high: float, description: str) -> Schema:
    """A JSON number from ``low`` to ``high``, and true / false where 0 and 1 are in it."""
    number: Schema = {"type": "number", "minimum": low, "maximum": high}
    if not low <= 0 <= 1 <= high:
        return number | {"description": description}
    return {"anyOf": [number, {"type": "boolean"}], "description": description}


def row_schema(pre: Preprocessing) -> Schema:
    """One row of a table model's request: every raw column it needs (``GET /model``'s
    ``inputs``), an optional ``id``; other columns are ignored."""
    low, high = value_bounds(pre)
    bounds = {f: (float(low[j]), float(high[j])) for j, f in enumerate(pre.features)}
    properties: dict[str, Schema] = {}
    required = []
    for item in row_inputs(pre):
        name = item["name"]
        if item["kind"] == "number":
            lo, hi = bounds[name]
            seen = f"trained on {item['min']:g} to {item['max']:g}"
            properties[name] = number_schema(lo, hi, seen)
            required.append(name)
        elif item["kind"] == "category":
            levels = ", ".join(map(repr, item["levels"]))
            properties[name] = {
                "description": f"a category ({levels}; any other value is a level of its own)",
                "examples": item["levels"][:1],
            }
        elif name == "release_date" and "year" in pre.features:
            properties[name] = _release_date_schema()
            required.append(name)
        else:
            properties[name] = {"description": "text (any value is read as its text)"}
            required.append(name)
    properties["id"] = {"description": "optional: returned in the answer's ids (as text)"}
    example = {i["name"]: i["default"] for i in row_inputs(pre)}
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "examples": [example],
    }


def _release_date_schema() -> Schema:
    years = VALUE_RANGES["year"]
    return {
        "anyOf": [
            {"type": "string", "pattern": RELEASE_DATE_PATTERN},
            {"type": "integer", "minimum": years[0], "maximum": years[1]},
        ],
        "description": "YYYY, YYYY-MM or YYYY-MM-DD (the year read from it), or the year",
    }


def rows_schema(pre: Preprocessing, max_rows: int) -> Schema:
    """A table model's JSON body: ``{"rows": [row, …]}`` or the list of records alone."""
    rows: Schema = {"type": "array", "items": row_schema(pre), "minItems": 1}
    limit = f"at most {max_rows:,} rows a request (nnscratch serve --max-rows)"
    return {
        "anyOf": [
            {
                "type": "object",
                "properties": {"rows": rows},
                "required": ["rows"],
                "title": "rows",
            },
            rows | {"title": "records"},
        ],
        "description": (
            '`{"rows": [record, …]}`, or the records alone (what pandas\' '
            '`DataFrame.to_json(orient="records")` writes): each record a row\'s raw columns '
            "by name (others are ignored). Checked strictly: one row that cannot be scored "
            "refuses the request with a 422 naming the row, column and value. A number may "
            f'also come as its text ("0.5"), read as a CSV cell is; {limit}'
        ),
    }


def pixels_schema(image_shape: tuple[int, int], max_images: int) -> Schema:
    """A digits model's JSON body: ``{"pixels": [...]}`` (one image) or ``{"images": [[...],
    …]}``; ``pixels`` wins where both are given."""
    rows, cols = image_shape
    n = rows * cols
    image = {
        "type": "array",
        "items": {"type": "number", "minimum": 0, "maximum": 1},
        "minItems": n,
        "maxItems": n,
        "description": f"{rows}×{cols} = {n} values in [0, 1], row by row, white on black",
    }
    return {
        "anyOf": [
            {
                "type": "object",
                "properties": {"pixels": image},
                "required": ["pixels"],
                "title": "one image",
            },
            {
                "type": "object",
                "properties": {
                    "images": {
                        "type": "array",
                        "items": image,
                        "minItems": 1,
                        "description": f"at most {max_images:,} images a request",
                    }
                },
                "required": ["images"],
                "not": {"required": ["pixels"]},
                "title": "images",
            },
        ],
        "description": f'`{{"pixels": [{n} values]}}` for one image, or `{{"images": [[…], …]}}` '
        f"(at most {max_images:,} images)",
    }


def label_schema(classes: np.ndarray) -> Schema:
    """A class label, of the type of the model's classes."""
    kind = np.asarray(classes).dtype.kind
    types = {"b": "boolean", "i": "integer", "u": "integer", "f": "number"}
    return {"type": types.get(kind, "string")}


def class_answer_properties(classes: np.ndarray) -> dict[str, Schema]:
    """What a classifier's answer holds: each row's label, the classes, the probabilities."""
    label = label_schema(classes)
    probability = {"type": "number", "minimum": 0, "maximum": 1}
    k = len(classes)
    return {
        "predictions": {"type": "array", "items": label},
        "classes": {"type": "array", "items": label, "minItems": k, "maxItems": k},
        "probabilities": {
            "type": "array",
            "items": {"type": "array", "items": probability, "minItems": k, "maxItems": k},
            "description": "each row's probability of each class, in the order of classes",
        },
    }


def table_answer_schema(values: dict[str, Schema]) -> Schema:
    """A table model's answer: the rows answered (positions in the request), ``values``,
    their ids where the rows gave them, the rows a CSV body's skipped and why."""
    skipped = {
        "type": "object",
        "properties": {"row": {"type": "integer", "minimum": 0}, "reason": {"type": "string"}},
        "required": ["row", "reason"],
    }
    return {
        "type": "object",
        "properties": {
            "rows": {"type": "array", "items": {"type": "integer", "minimum": 0}},
            **values,
            "ids": {"type": "array", "items": {"type": "string"}},
            "skipped": {"type": "array", "items": skipped},
        },
        "required": ["rows", *values],
    }
