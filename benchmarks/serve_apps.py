"""The servers ``serve_throughput.py`` measures ``nnscratch serve`` against.

* :func:`sklearn_app`: what a user writes in ten lines — FastAPI, pydantic rows,
  a DataFrame, and a scikit-learn ``HistGradientBoostingRegressor`` trained at
  start on the same sample (the seed's 13 features). For digits, the same with
  pixels and a ``LogisticRegression``.
* :func:`constant_app`: FastAPI answering a constant after reading the body,
  the framework's floor.

Started by uvicorn as factories: ``uvicorn serve_apps:sklearn_app --factory
--app-dir benchmarks``; ``SERVE_BENCH_DATA`` names the data to train on and
``SERVE_BENCH_KIND`` is ``table`` or ``digits``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd
from fastapi import FastAPI, Request
from pydantic import BaseModel

SEED_FEATURES = [
    "acousticness",
    "danceability",
    "energy",
    "instrumentalness",
    "liveness",
    "loudness",
    "speechiness",
    "tempo",
    "valence",
    "key",
    "mode",
    "explicit",
    "year",
]


class Track(BaseModel):
    acousticness: float
    danceability: float
    energy: float
    instrumentalness: float
    liveness: float
    loudness: float
    speechiness: float
    tempo: float
    valence: float
    key: int
    mode: int
    explicit: int
    release_date: str


class Tracks(BaseModel):
    rows: list[Track]


class Pixels(BaseModel):
    images: list[list[float]]


def _table(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["year"] = pd.to_numeric(frame["release_date"].astype(str).str[:4], errors="coerce")
    return frame[SEED_FEATURES]


def sklearn_app() -> Any:
    if os.environ.get("SERVE_BENCH_KIND") == "digits":
        return _sklearn_digits_app()
    from sklearn.ensemble import HistGradientBoostingRegressor

    data = pd.read_csv(os.environ["SERVE_BENCH_DATA"])
    model = HistGradientBoostingRegressor(random_state=0).fit(_table(data), data["popularity"])
    app = FastAPI()

    @app.post("/predict")
    def predict(tracks: Tracks) -> dict[str, list[float]]:
        frame = pd.DataFrame([t.model_dump() for t in tracks.rows])
        return {"predictions": np.round(model.predict(_table(frame)), 2).tolist()}

    return app


def _sklearn_digits_app() -> Any:
    from sklearn.linear_model import LogisticRegression

    from nnscratch.data.images import load_images

    images = load_images(os.environ["SERVE_BENCH_DATA"])
    model = LogisticRegression(max_iter=200).fit(images.X_train[:10_000], images.y_train[:10_000])
    app = FastAPI()

    @app.post("/predict")
    def predict(pixels: Pixels) -> dict[str, list]:
        X = np.asarray(pixels.images)
        proba = model.predict_proba(X)
        return {
            "predictions": model.classes_[proba.argmax(1)].tolist(),
            "probabilities": np.round(proba, 6).tolist(),
        }

    return app


def constant_app() -> Any:
    app = FastAPI()

    @app.post("/predict")
    async def predict(request: Request) -> dict[str, list[float]]:
        await request.body()
        return {"predictions": [50.0]}

    return app
