"""schemathesis's hooks for tests/test_serve_clients.py (``SCHEMATHESIS_HOOKS``).

A CSV body is a file: whether one can be scored depends on its header and cells, which
a JSON Schema of a string cannot say, so schemathesis would send random text as
``text/csv``. Here a CSV body is 1 to 5 of the rows of ``NNSCRATCH_CSV_ROWS`` (a CSV file
of tracks the model can score), under its header: files the server must answer.
"""

from __future__ import annotations

import os
from pathlib import Path

import schemathesis
from hypothesis import strategies as st

_lines = Path(os.environ["NNSCRATCH_CSV_ROWS"]).read_text(encoding="utf-8").splitlines(True)
_header, _rows = _lines[0], _lines[1:]

schemathesis.openapi.media_type(
    "text/csv",
    st.lists(st.sampled_from(_rows), min_size=1, max_size=5).map(
        lambda rows: (_header + "".join(rows)).encode()
    ),
)
