"""Fuzzing the data stage: nothing but DataError may escape, whatever the input."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnscratch.data.features import DEFAULT_FEATURES
from nnscratch.data.preprocessing import prepare
from nnscratch.data.schemas import TRACKS_COLUMNS
from nnscratch.data.tracks import load_tracks, tracks_from_frame
from nnscratch.errors import DataError

HEADER = ",".join(TRACKS_COLUMNS).encode()
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def load_and_prepare(payload: bytes, suffix: str = ".csv") -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"fuzz{suffix}"
        path.write_bytes(payload)
        try:
            data = prepare(load_tracks(path), test_size=0.2, val_size=0.1)
        except DataError as exc:
            assert str(path) in str(exc) or "fuzz" in str(exc)
            return
        assert np.isfinite(data.X_train).all()
        assert np.isfinite(data.y_train).all()


@given(st.binary(max_size=400))
@FUZZ
def test_arbitrary_bytes(payload: bytes) -> None:
    load_and_prepare(payload)


@given(st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=60), max_size=12))
@FUZZ
def test_valid_header_then_arbitrary_lines(lines: list[str]) -> None:
    load_and_prepare(HEADER + b"\n" + "\n".join(lines).encode("utf-8", errors="replace"))


cell = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**12), 10**12),
    st.text(max_size=8),
    st.sampled_from(["1999", "2001-07", "2010-12-31", "True", "false", "", "nan", "1e309"]),
    st.booleans(),
)


@given(
    st.integers(1, 12).flatmap(
        lambda n: st.lists(
            st.lists(cell, min_size=n, max_size=n),
            min_size=len(TRACKS_COLUMNS),
            max_size=len(TRACKS_COLUMNS),
        )
    )
)
@settings(max_examples=250, deadline=None)
def test_arbitrary_frames_with_the_right_columns(columns: list[list[object]]) -> None:
    frame = pd.DataFrame(dict(zip(TRACKS_COLUMNS, columns, strict=True)))
    try:
        data = prepare(
            tracks_from_frame(frame, source="fuzz frame"),
            DEFAULT_FEATURES,
            test_size=0.2,
            val_size=0.1,
        )
    except DataError as exc:
        assert "fuzz frame" in str(exc)
        return
    assert np.isfinite(data.X_train).all()
