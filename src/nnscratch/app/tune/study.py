"""The search's Optuna study: in a SQLite file in the run folder, so that a search can
be resumed (``tune --resume RUN``), and what it was made on, so that a resumed search is
refused on other data.

A study holds every trial's parameters, state (complete, pruned, failed), value (the
mean cross-validated score), per-epoch figures, fold scores and seconds, and, in its
attributes, the search's settings (:class:`StudySettings`): the data and its fingerprint,
the task, the seed, the folds and the base recipe. Only the process that runs ``tune``
writes it; the trials run elsewhere and send their results back.

Sampling is Optuna's seeded TPE (multivariate, with the space's conditional groups, and
a constant liar for the trials still running); pruning its median rule (a trial whose
best figure so far is behind the median of the finished trials' at the same epoch stops;
the search gives it the finished trials of its own kind of network only).
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nnscratch.errors import DataError, NNScratchError

#: The study's file in a run folder.
STUDY_FILE = "study.db"
#: The study's name in that file.
STUDY_NAME = "nnscratch-tune"
#: Random trials before TPE models the good and the bad ones (Optuna's default is 10;
#: a time-budgeted search on a small machine may run about that many in all).
STARTUP_TRIALS = 5
#: Finished trials the median rule needs before it prunes, and the epochs it always lets run.
PRUNE_AFTER_TRIALS = 2
WARMUP_EPOCHS = 10


def require_optuna() -> Any:
    """The ``optuna`` module, quiet (warnings only); :class:`NNScratchError` saying
    what to install where it is missing."""
    try:
        import optuna
    except ImportError:
        raise NNScratchError("tune needs Optuna: pip install 'nnscratch[tune]'") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


@dataclass(frozen=True)
class StudySettings:
    """What a search was made on and with; kept in its study, checked on ``--resume``."""

    data: str
    task: str
    target: str | None
    fingerprint: str
    seed: int
    cv: int
    #: the base recipe, as :meth:`~nnscratch.models.recipes.Recipe.to_dict` gives it
    recipe: dict[str, Any]
    metric: str
    higher_is_better: bool

    @property
    def direction(self) -> str:
        return "maximize" if self.higher_is_better else "minimize"


def sampler(optuna: Any, seed: int, n_trials_before: int) -> Any:
    """Seeded TPE; a resumed search's seed moves on by the trials already run, so that it
    does not draw its first trials again."""
    return optuna.samplers.TPESampler(
        seed=seed + n_trials_before,
        n_startup_trials=STARTUP_TRIALS,
        multivariate=True,
        group=True,
        constant_liar=True,
    )


def pruner(optuna: Any) -> Any:
    """The median rule (see the module doc)."""
    return optuna.pruners.MedianPruner(
        n_startup_trials=PRUNE_AFTER_TRIALS, n_warmup_steps=WARMUP_EPOCHS
    )


def storage_url(folder: Path) -> str:
    return f"sqlite:///{(folder / STUDY_FILE).resolve()}"


def create_study(folder: Path, settings: StudySettings) -> Any:
    """A new study in ``folder`` (which it creates), holding ``settings``."""
    optuna = require_optuna()
    folder.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(
        storage=storage_url(folder),
        study_name=STUDY_NAME,
        direction=settings.direction,
        sampler=sampler(optuna, settings.seed, 0),
        pruner=pruner(optuna),
    )
    for key, value in asdict(settings).items():
        study.set_user_attr(key, value)
    return study


def read_settings(folder: Path) -> StudySettings:
    """The settings of the study in ``folder``; :class:`DataError` in one line where there
    is none (nothing is created)."""
    optuna = require_optuna()
    if not (folder / STUDY_FILE).is_file():
        raise DataError(f"{folder}: no search to resume here (no {STUDY_FILE})")
    try:
        storage = optuna.storages.RDBStorage(storage_url(folder))
        study = optuna.load_study(study_name=STUDY_NAME, storage=storage)
        return StudySettings(**study.user_attrs)
    except (KeyError, TypeError, ValueError) as exc:  # not a study tune made
        message = f"{folder}/{STUDY_FILE}: not a study made by nnscratch tune ({exc})"
        raise DataError(message) from None
    except Exception as exc:  # SQLAlchemy's errors: not a database, or not Optuna's
        reason = " ".join(str(exc).split())[:160]
        raise DataError(f"{folder}/{STUDY_FILE}: cannot read the study ({reason})") from None


def check_resumable(folder: Path, stored: StudySettings, asked: StudySettings) -> None:
    """Refuse to resume a study on another task or data set (:class:`DataError`)."""
    if asked.task != stored.task or asked.target != stored.target:
        what = stored.task + (f" of {stored.target}" if stored.target else "")
        raise DataError(
            f"{folder}: its study searched the {what} task; "
            f"resume it with the same --task and --target"
        )
    if asked.fingerprint != stored.fingerprint:
        raise DataError(
            f"{folder}: its study was made on another data set ({stored.data}, seed "
            f"{stored.seed}); resume it on the same data"
        )


def open_study(folder: Path, settings: StudySettings) -> Any:
    """The study in ``folder`` to add trials to (see :func:`read_settings`); a trial a
    stopped search left running is recorded as failed."""
    optuna = require_optuna()
    storage = optuna.storages.RDBStorage(storage_url(folder))
    before = optuna.load_study(study_name=STUDY_NAME, storage=storage).trials
    study = optuna.load_study(
        study_name=STUDY_NAME,
        storage=storage,
        sampler=sampler(optuna, settings.seed, len(before)),
        pruner=pruner(optuna),
    )
    for trial in before:
        if trial.state.name == "RUNNING":
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
    return study
