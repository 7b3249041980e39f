"""How an exercise's check meets the learner's code: the call, the comparison, the hint.

A check never calls the learner's function directly: it calls an :class:`Answer`, which

* passes copies of the inputs and compares them afterwards, so an input changed in
  place is a named mistake (:class:`Mistake`: "your function changed its input `z`");
* silences NumPy's warnings (an overflow shows in the answer, as ``inf`` or ``nan``);
* turns what the learner's code raises into :class:`NotWritten` (a ``raise
  NotImplementedError`` still there) or :class:`LearnerRaised`, which keeps the
  learner's own frame — file, line, the code on it and the shapes of the arrays it
  names — so the message points at their line and a NumPy shape error becomes a
  sentence about shapes.

Anything else that escapes a check is the checker's own error, and is reported as such
(:mod:`nnscratch.app.learn.exercises`), never blamed on the learner.

:func:`compare` and :func:`compare_number` tell one wrong answer from another: first the
probe set of named mistakes (what each known mistake gives on the same inputs), then the
type and shape (a transpose, a lost column dimension), then how the values differ — NaN
where the answer is finite, the sign flipped, a constant factor, a constant offset, or
right but for some entries (and which).
"""

from __future__ import annotations

import copy
import inspect
import io
import linecache
import math
import sysconfig
import tokenize
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

#: Where code that is not the learner's lives: the standard library, installed
#: packages and this package itself.
_NOT_LEARNERS = tuple(
    sorted(
        {
            str(Path(p).resolve())
            for key in ("stdlib", "platstdlib", "purelib", "platlib")
            if (p := sysconfig.get_paths().get(key))
        }
        | {str(Path(__file__).resolve().parents[2])}
    )
)


class Mistake(Exception):
    """A wrong answer found while calling it (an input changed, a wrong signature)."""


class NotWritten(Exception):
    """The learner's code still raises ``NotImplementedError``; ``where`` says where."""

    def __init__(self, where: str) -> None:
        super().__init__(where)
        self.where = where


@dataclass(frozen=True)
class Frame:
    """The learner's line where an exception was raised, and the arrays it names."""

    path: str
    line: int
    function: str
    code: str
    shapes: dict[str, tuple[int, ...]]

    @property
    def place(self) -> str:
        return f"{Path(self.path).name}:{self.line}"


class LearnerRaised(Exception):
    """The learner's code raised ``error``; ``frame`` is their innermost line in the
    traceback (None if the error came from NumPy called directly, with no line of theirs)."""

    def __init__(self, error: BaseException, frame: Frame | None) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.error, self.frame = error, frame


def is_learners(filename: str) -> bool:
    """Whether code in ``filename`` is the learner's (not Python's, a package's or ours)."""
    if not filename or filename.startswith("<"):
        return False
    path = str(Path(filename).resolve())
    return not path.startswith(_NOT_LEARNERS)


def learner_frame(tb: TracebackType | None) -> Frame | None:
    """The innermost frame of ``tb`` in the learner's code, with the arrays its line names."""
    found = None
    while tb is not None:
        if is_learners(tb.tb_frame.f_code.co_filename):
            found = tb
        tb = tb.tb_next
    if found is None:
        return None
    frame, line = found.tb_frame, found.tb_lineno
    path = frame.f_code.co_filename
    code = linecache.getline(path, line, frame.f_globals).strip()
    shapes = {
        name: tuple(value.shape)
        for name in names_in(code)
        if isinstance(value := frame.f_locals.get(name, frame.f_globals.get(name)), np.ndarray)
    }
    return Frame(path, line, frame.f_code.co_name, code, shapes)


def names_in(code: str) -> list[str]:
    """The names on a line of code, in order, each once (``A_prev @ W`` → A_prev, W)."""
    names: list[str] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type == tokenize.NAME and token.string not in names:
                names.append(token.string)
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass
    return names


def snapshot(value: Any) -> Any:
    """A deep copy of the arrays in ``value`` (an array, or lists and tuples of them)."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list | tuple):
        return type(value)(snapshot(v) for v in value)
    return copy.copy(value) if isinstance(value, dict) else value


def unchanged(before: Any, after: Any) -> bool:
    """Whether ``after`` holds the same arrays (shapes, values, NaNs) as ``before``."""
    if isinstance(before, np.ndarray):
        return (
            isinstance(after, np.ndarray)
            and before.shape == after.shape
            and bool(np.array_equal(before, after, equal_nan=before.dtype.kind == "f"))
        )
    if isinstance(before, list | tuple):
        return (
            isinstance(after, list | tuple)
            and len(before) == len(after)
            and all(unchanged(b, a) for b, a in zip(before, after, strict=True))
        )
    return True


class Answer:
    """The learner's ``function``, called as the checks call it (see the module docs).
    ``keeps_inputs=False`` allows it to change its inputs (a training loop may update the
    weights it was given in place)."""

    def __init__(
        self, function: Callable[..., Any], name: str | None = None, *, keeps_inputs: bool = True
    ) -> None:
        self.function, self.keeps_inputs = function, keeps_inputs
        self.name = name or getattr(function, "__name__", "your function")
        self.passed: list[Any] = []
        try:
            self.signature: inspect.Signature | None = inspect.signature(function)
        except (TypeError, ValueError):
            self.signature = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        names = self._parameter_names(args, kwargs)
        given = [snapshot(a) for a in args]
        given_kw = {k: snapshot(v) for k, v in kwargs.items()}
        self.passed = [*given, *given_kw.values()]
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = self.function(*given, **given_kw)
        except NotImplementedError as exc:
            frame = learner_frame(exc.__traceback__)
            raise NotWritten(self._unwritten(frame)) from None
        except Exception as exc:
            raise LearnerRaised(exc, learner_frame(exc.__traceback__)) from None
        originals, passed = [*args, *kwargs.values()], [*given, *given_kw.values()]
        for name, before, after in zip(names, originals, passed, strict=True):
            if self.keeps_inputs and not unchanged(before, after):
                raise Mistake(
                    f"{self.name} changed its input `{name}` in place: the caller still "
                    f"needs it as it was. Work on a new array (`{name}.copy()`, or an "
                    "expression such as `np.maximum(z, 0)` that makes one)"
                )
        return result

    def shares_memory(self, result: Any) -> bool:
        """Whether ``result`` is (a view of) an array the last call was given."""
        return isinstance(result, np.ndarray) and any(
            isinstance(a, np.ndarray) and np.shares_memory(result, a) for a in self.passed
        )

    def _parameter_names(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[str]:
        """The names the learner's signature gives ``args`` and ``kwargs``; a
        :class:`Mistake` where the call does not fit it (a parameter renamed or lost)."""
        if self.signature is None:
            return [f"argument {i + 1}" for i in range(len(args))] + list(kwargs)
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise Mistake(
                f"{self.name}{self.signature} cannot be called as the exercise calls it "
                f"({exc}): keep the parameters of the stub"
            ) from None
        names = list(bound.arguments)
        return names[: len(args)] + list(kwargs)

    def _unwritten(self, frame: Frame | None) -> str:
        if frame is None or frame.function == self.name:
            place = f" ({frame.place})" if frame else ""
            return f"replace the `raise NotImplementedError` in {self.name}{place} with your code"
        return (
            f"{frame.function} ({frame.place}), which {self.name} calls, still raises "
            "NotImplementedError"
        )


def describe_raised(raised: LearnerRaised, shapes_hint: str = "") -> str:
    """What the learner's code raised, where, and — for a NumPy shape error — a sentence
    about the shapes on that line."""
    error, frame = raised.error, raised.frame
    said = f"{type(error).__name__}: {error}"
    lines = [f"your code raised {said}"]
    if frame is not None:
        lines = [f"your code raised {type(error).__name__} at {frame.place}", f"    {frame.code}"]
        lines.append(f"  {said}")
    sentence = shape_sentence(error, frame, shapes_hint)
    if sentence:
        lines.append(sentence)
    return "\n".join(lines)


_SHAPE_WORDS = ("shape", "broadcast", "aligned", "dimension", "matmul", "size")


def shape_sentence(error: BaseException, frame: Frame | None, shapes_hint: str) -> str | None:
    """A NumPy error about shapes, said in words: the shapes of the arrays on the line,
    and what the exercise's arrays should be (``shapes_hint``)."""
    message = str(error)
    if not isinstance(error, ValueError | IndexError) or not any(
        w in message for w in _SHAPE_WORDS
    ):
        return None
    code = frame.code if frame else ""
    shapes = frame.shapes if frame else {}
    listed = ", ".join(f"{name} is {shape}" for name, shape in shapes.items())
    if "matmul" in message or "aligned" in message:
        why = "a matrix product A @ B needs A's number of columns to equal B's number of rows"
    elif "broadcast" in message:
        why = (
            "an entry-by-entry operation (+, -, *, /) needs arrays of the same shape, or "
            "of shapes NumPy can stretch to match (a size 1 stretches); `*` is not a matrix "
            "product, `@` is"
        )
    else:
        why = "the arrays' shapes do not fit what the line does with them"
    sentence = f"  The shapes do not line up: {why}."
    if listed:
        sentence += f" On that line {listed}."
    elif code:
        sentence += f" Print the shapes on the line `{code}`."
    if shapes_hint:
        sentence += f" The exercise's arrays: {shapes_hint}."
    return sentence


# ------------------------------------------------------------------ comparing answers

#: How a wrong entry is named in a hint: ``at(index) → "z = 0.0"`` (default ``[i, j]``).
Where = Callable[[tuple[int, ...]], str]


def _index(index: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(i) for i in index) + "]"


def matches(got: Any, value: Any, rtol: float, atol: float) -> bool:
    """Whether ``got`` is ``value`` (same shape, close values, NaN where NaN)."""
    if not isinstance(got, np.ndarray) or not isinstance(value, np.ndarray):
        return False
    if got.shape != value.shape or got.dtype.kind not in "biuf":
        return False
    return bool(np.allclose(got, value, rtol=rtol, atol=atol, equal_nan=True))


def as_array(got: Any) -> Any:
    """A bool or integer array as float (``z > 0`` is a fine derivative); else as given."""
    if isinstance(got, np.ndarray) and got.dtype.kind in "biu":
        return got.astype(np.float64)
    return got


def compare(
    name: str,
    got: Any,
    expected: np.ndarray,
    *,
    rtol: float = 1e-9,
    atol: float = 1e-12,
    mistakes: Sequence[tuple[str, Any]] = (),
    at: Where = _index,
    formula: str = "",
) -> str | None:
    """``None`` when ``got`` equals ``expected`` within the tolerances; else the hint.

    ``mistakes`` are ``(hint, what that mistake gives)`` pairs, tried first; then the type
    and shape; then how the values differ. ``formula`` is appended to a generic hint."""
    got = as_array(got)
    if matches(got, expected, rtol, atol):
        return None
    for hint, value in mistakes:
        if matches(got, as_array(value), rtol=1e-7, atol=1e-10):
            return hint
    problem = describe_type_and_shape(name, got, expected)
    if problem is None:
        problem = describe_values(name, got, expected, rtol, atol, at)
    return problem + (f" — {formula}" if formula else "")


def describe_type_and_shape(name: str, got: Any, expected: np.ndarray) -> str | None:
    """The problem with ``got``'s type or shape, or None where both are right."""
    if got is None:
        return f"{name} is None: did you forget to `return` it?"
    if isinstance(got, list | tuple):
        return (
            f"{name} is a {type(got).__name__} of {len(got)}; expected one NumPy array of "
            f"shape {expected.shape}"
        )
    if not isinstance(got, np.ndarray):
        return f"{name} is a {type(got).__name__}; expected a NumPy array of shape {expected.shape}"
    if got.dtype.kind not in "biuf":
        return f"{name} holds {got.dtype} values; expected numbers"
    if got.shape == expected.shape:
        return None
    return f"{name} has shape {got.shape}; expected {expected.shape}" + shape_advice(
        got.shape, expected.shape
    )


def shape_advice(got: tuple[int, ...], expected: tuple[int, ...]) -> str:
    """Why a shape may be wrong: transposed, a lost column dimension, or reshaped."""
    if len(got) == 2 and got == expected[::-1]:
        return " — transposed: rows and columns swapped"
    if len(expected) == 2 and expected[1] == 1 and got == (expected[0],):
        return " — a 1-D array: keep it a column (keepdims=True, or reshape(-1, 1))"
    if math.prod(got) == math.prod(expected):
        return " — the same number of entries, laid out differently"
    if got == ():
        return " — a single number: the answer is an array"
    return ""


def describe_values(
    name: str, got: np.ndarray, expected: np.ndarray, rtol: float, atol: float, at: Where
) -> str:
    """How two arrays of one shape differ: NaN or inf where the answer is finite, the sign,
    a constant factor or offset, or the entries that are wrong."""
    got64, want = got.astype(np.float64), expected.astype(np.float64)
    bad = ~np.isclose(got64, want, rtol=rtol, atol=atol, equal_nan=True)
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    broken = ~np.isfinite(got64) & np.isfinite(want)
    if broken.any():
        where = tuple(int(i) for i in np.argwhere(broken)[0])
        return (
            f"{name} has NaN or inf at {int(broken.sum())} of {got.size} entries "
            f"(first at {at(where)}) where the answer is finite: an overflow, or 0/0?"
        )
    factor = constant_factor(got64, want)
    if factor is not None and math.isclose(factor, -1.0, rel_tol=1e-6):
        return f"{name} has the wrong sign: it is −1 × the right answer"
    if factor is not None:
        return f"{name} is {factor:.4g} × the right answer: a missing or extra factor"
    offset = got64 - want
    if np.ptp(offset) <= 1e-9 * max(1.0, float(np.max(np.abs(want)))) and offset.size > 1:
        return f"{name} is off by the same {float(offset.flat[0]):.4g} everywhere"
    count = int(bad.sum())
    given, right = got64[first], want[first]
    if count < bad.size:
        return (
            f"{name} is right at {bad.size - count} of {bad.size} entries but wrong at {count}; "
            f"at {at(first)} you gave {given:.6g}, expected {right:.6g}"
        )
    return f"{name} differs everywhere; at {at(first)} you gave {given:.6g}, expected {right:.6g}"


def constant_factor(got: np.ndarray, expected: np.ndarray) -> float | None:
    """``k`` where ``got = k · expected`` (k ≠ 1) over the answer's non-zero entries."""
    mask = np.abs(expected) > 1e-12
    if not mask.any() or not np.all(np.isfinite(got)):
        return None
    if np.any(np.abs(got[~mask]) > 1e-9 * np.max(np.abs(expected))):
        return None
    ratios = got[mask] / expected[mask]
    k = float(np.median(ratios))
    if k == 0 or math.isclose(k, 1.0, rel_tol=1e-9):
        return None
    return k if np.allclose(ratios, k, rtol=1e-6) else None


def as_number(got: Any) -> float | None:
    """``got`` as a float where it is one number (a float, or an array of one entry)."""
    if isinstance(got, bool):
        return None
    if isinstance(got, int | float | np.integer | np.floating):
        return float(got)
    if isinstance(got, np.ndarray) and got.size == 1 and got.dtype.kind in "iuf":
        return float(got.reshape(()))
    return None


def compare_number(
    name: str,
    got: Any,
    expected: float,
    *,
    rtol: float = 1e-9,
    mistakes: Sequence[tuple[str, float]] = (),
    formula: str = "",
) -> str | None:
    """:func:`compare` for one number (a float, or an array of one entry)."""
    value = as_number(got)
    if value is None:
        if isinstance(got, np.ndarray):
            return (
                f"{name} is an array of shape {got.shape}; expected one number "
                "(sum over the entries)"
            )
        if got is None:
            return f"{name} is None: did you forget to `return` it?"
        return f"{name} is a {type(got).__name__}; expected a number"
    if math.isclose(value, expected, rel_tol=rtol, abs_tol=1e-15):
        return None
    for hint, wrong in mistakes:
        both_nan = math.isnan(value) and math.isnan(wrong)
        if both_nan or math.isclose(value, wrong, rel_tol=1e-7, abs_tol=1e-15):
            return hint
    if not math.isfinite(value):
        problem = f"{name} is {value} where the answer is {expected:.6g}"
    elif expected != 0 and math.isclose(value / expected, -1, rel_tol=1e-6):
        problem = f"{name} has the wrong sign: {value:.6g}, expected {expected:.6g}"
    elif expected != 0:
        problem = (
            f"{name} is {value:.6g}, expected {expected:.6g}: "
            f"{value / expected:.4g} × the right answer"
        )
    else:
        problem = f"{name} is {value:.6g}, expected 0"
    return problem + (f" — {formula}" if formula else "")


def summary(exc: BaseException) -> str:
    """One line naming an exception raised inside the checker itself."""
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    place = f" ({Path(where.filename).name}:{where.lineno})" if where else ""
    return f"{type(exc).__name__}: {exc}{place}"
