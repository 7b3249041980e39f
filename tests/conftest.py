"""Shared fixtures: the real shared sample (skipped where absent) and small synthetic frames."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from nnscratch.synthetic import make_tracks

REPO_ROOT = Path(__file__).resolve().parents[1]
REAL_TRACKS = REPO_ROOT.parent / "shared" / "data" / "spotify" / "tracks.csv"


@pytest.fixture(scope="session")
def real_tracks_path() -> Path:
    if not REAL_TRACKS.is_file():
        pytest.skip(f"shared real data not found at {REAL_TRACKS}: tests on real rows skipped")
    return REAL_TRACKS


@pytest.fixture
def synthetic_frame() -> pd.DataFrame:
    return make_tracks(600, seed=7)


@pytest.fixture
def synthetic_csv(tmp_path: Path, synthetic_frame: pd.DataFrame) -> Path:
    path = tmp_path / "tracks.csv"
    synthetic_frame.to_csv(path, index=False)
    return path
