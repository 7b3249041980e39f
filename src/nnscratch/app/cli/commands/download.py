"""``nnscratch download``: fetch the real Kaggle tracks file (needs network and kagglehub)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from nnscratch.app.cli.console import HelpFormatter, examples, say
from nnscratch.errors import DataError
from nnscratch.files import atomic_write_bytes

KAGGLE_DATASET = "yamaerenay/spotify-dataset-19212020-600k-tracks"


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "download",
        help="fetch the real Kaggle dataset (needs network and kagglehub)",
        description=f"Download tracks.csv of the Kaggle dataset {KAGGLE_DATASET} with "
        "kagglehub (pip install 'nnscratch[download]').",
        formatter_class=HelpFormatter,
        epilog=examples("nnscratch download --dest data/"),
    )
    parser.add_argument("--dest", default="data", help="folder to save tracks.csv in")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    hint = (
        f"download tracks.csv of the Kaggle dataset {KAGGLE_DATASET} on a machine with "
        "network access and pass it with --data PATH (or set NNSCRATCH_DATA)"
    )
    try:
        import kagglehub  # type: ignore[import-not-found]
    except ImportError:
        raise DataError(
            "downloading needs the optional kagglehub package "
            f"(pip install 'nnscratch[download]'); or {hint}"
        ) from None
    try:
        folder = Path(kagglehub.dataset_download(KAGGLE_DATASET))
    except Exception as exc:  # network, authentication, quota: all end the same way
        raise DataError(
            f"could not download the dataset ({type(exc).__name__}: {exc}); {hint}"
        ) from exc
    source = folder / "tracks.csv"
    if not source.is_file():
        raise DataError(f"{folder}: the download has no tracks.csv; {hint}")
    dest = Path(args.dest)
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / "tracks.csv"
    atomic_write_bytes(target, source.read_bytes())
    say(f"saved {target}; train on it with: nnscratch train --data {target}")
    return 0
