"""The playground page's settings (and its URL hash's), checked: a 422 that names the
first bad field, never a 5xx (``tests/test_playground.py`` fuzzes them)."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from nnscratch.data.toys import TOY_SETS
from nnscratch.errors import RequestError

ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu")
#: Tracks data: the built-in sample, and the file ``nnscratch playground --data`` gave.
TRACKS = ("sample", "file")
INITS = ("he", "glorot", "small")
OPTIMIZERS = ("gd", "momentum", "adam", "adamw")


@dataclass(frozen=True)
class Settings:
    """What the page sets (and its URL hash holds). ``batch`` 0 is full-batch gradient
    descent, as the seed; ``target_loss`` 0 means none."""

    data: str = "moons"
    noise: float = 0.1
    hidden: tuple[int, ...] = (8, 8)
    activation: str = "relu"
    init: str = "he"
    optimizer: str = "adam"
    lr: float = 0.03
    batch: int = 0
    l2: float = 0.0
    dropout: float = 0.0
    epochs: int = 300
    target_loss: float = 0.0
    seed: int = 0

    @classmethod
    def parse(cls, raw: Any) -> Settings:
        """Checked settings from a JSON object; a 422 that names the first bad field."""
        if not isinstance(raw, dict):
            raise RequestError(422, "settings must be a JSON object")
        known = {f.name for f in fields(cls)}
        for name in raw:
            if name not in known:
                raise RequestError(422, f"{name}: unknown setting; known: {', '.join(known)}")
        values = {name: _field(name, raw[name]) for name in raw}
        return cls(**values)


def _number(name: str, value: Any, low: float, high: float, *, whole: bool = False) -> Any:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and whole:
        ok = float(value).is_integer()
    if not ok or not math.isfinite(value) or not low <= value <= high:
        kind = "a whole number" if whole else "a number"
        raise RequestError(422, f"{name}: must be {kind} from {low:g} to {high:g}, not {value!r}")
    return int(value) if whole else float(value)


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise RequestError(422, f"{name}: must be one of {', '.join(choices)}, not {value!r}")
    return str(value)


def _field(name: str, value: Any) -> Any:
    """One setting, checked."""
    if name == "hidden":
        if isinstance(value, str):
            value = [v for v in value.split(",") if v.strip()]
            value = [int(v) if v.strip().isdigit() else v for v in value]
        if not isinstance(value, list) or not 1 <= len(value) <= 8:
            raise RequestError(422, f"hidden: 1 to 8 layer widths, not {value!r}")
        return tuple(_number("hidden", v, 1, 256, whole=True) for v in value)
    choices = {
        "data": (*TOY_SETS, *TRACKS),
        "activation": ACTIVATIONS,
        "init": INITS,
        "optimizer": OPTIMIZERS,
    }
    if name in choices:
        return _choice(name, value, choices[name])
    ranges = {
        "noise": (0, 0.5),
        "lr": (1e-6, 10),
        "l2": (0, 1),
        "dropout": (0, 0.9),
        "target_loss": (0, 10),
    }
    if name in ranges:
        return _number(name, value, *ranges[name])
    whole = {"batch": (0, 1000), "epochs": (1, 5000), "seed": (0, 2**31 - 1)}
    return _number(name, value, *whole[name], whole=True)
