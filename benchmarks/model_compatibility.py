"""Model files and fits across a change of the code: a commit before it against this tree.

The code of ``--before`` (a commit; its ``src/`` taken out with ``git archive``) and the
code installed here run the same ``nnscratch`` command lines, each in a fresh process on
the same machine. For every case (a ``nnscratch train`` command line):

* **fit**: both codes train with the same seed; every array of the two ``model.npz``
  files must be the same bits (names, dtypes, shapes, bytes), and their metadata equal;
* **predict**: the *old* model file is scored by the old code and by the new one
  (``nnscratch predict``): the first ``--rows`` rows of the shared CSV for a table model,
  ``--data digits`` (or MNIST's test images) for a digits model; the two predictions
  files must be the same bytes, and so must what each command printed;
* **evaluate**: ``nnscratch evaluate`` of the old file, old code and new: the same output;
* **export**: ``nnscratch export`` of the old file: the same ONNX bytes (or, for a model
  that has no export, the same refusal).

    python benchmarks/model_compatibility.py --before ff34a9d

``--after COMMIT`` runs that commit's code instead of this tree's (so a tree being
edited meanwhile does not mix into the run).

Writes ``benchmarks/results/model_compatibility.{md,json}`` (or ``--out``) and exits 1
when anything differs.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from results_io import write_results  # benchmarks/, beside this script

from nnscratch.models.recipes import FAST_RECIPE

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TRACKS = REPO.parent / "shared" / "data" / "spotify" / "tracks.csv"


def cases(sequential_recipe: Path) -> dict[str, dict[str, Any]]:
    """Each case: its ``train`` arguments and the data its model is scored on."""
    tracks = str(TRACKS)
    return {
        "regression, --preset fast (5 networks side by side)": {
            "train": ["--data", tracks, "--preset", "fast"],
            "table": True,
        },
        "regression, --preset default (TabM k=16 ×2), 3 epochs": {
            "train": ["--data", tracks, "--preset", "default", "--epochs", "3"],
            "table": True,
        },
        "regression, 3 networks one after another, 5 epochs": {
            "train": ["--data", tracks, "--recipe", str(sequential_recipe), "--epochs", "5"],
            "table": True,
        },
        "classification of explicit, balanced, tuned threshold": {
            "train": [
                "--data",
                tracks,
                "--task",
                "classification",
                "--target",
                "explicit",
                "--preset",
                "fast",
                "--epochs",
                "8",
                "--class-weight",
                "balanced",
                "--threshold",
                "tuned",
            ],
            "table": True,
        },
        "digits, --preset fast": {
            "train": ["--data", "digits", "--preset", "fast"],
            "table": False,
        },
        "digits, --preset fast, test-time augmentation": {
            "train": ["--data", "digits", "--preset", "fast", "--epochs", "5", "--tta", "on"],
            "table": False,
        },
    }


def nnscratch(src: Path | None, *args: str) -> tuple[int, str]:
    """``python -m nnscratch ARGS`` in a fresh process, with ``src`` first on the path
    (``None``: the code installed here); its exit code and what it printed."""
    env = dict(os.environ, PYTHONHASHSEED="0")
    env.pop("PYTHONPATH", None)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    result = subprocess.run(
        [sys.executable, "-m", "nnscratch", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tempfile.gettempdir(),
    )
    return result.returncode, result.stdout + result.stderr


def code_of(commit: str, folder: Path) -> Path:
    """``src/`` of ``commit``, taken out into ``folder``."""
    folder.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", commit, "src"], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder / "src"


def which_code(src: Path | None) -> str:
    """Where the process with ``src`` first on its path imports nnscratch from."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    code = "import nnscratch; print(nnscratch.__file__)"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout.strip()


def checked(result: tuple[int, str], what: str) -> str:
    code, output = result
    if code != 0:
        raise RuntimeError(f"{what} failed ({code}):\n{output}")
    return output


def same_arrays(a: Path, b: Path) -> tuple[bool, int, list[str]]:
    """Whether two model files hold the same arrays to the bit (and equal metadata), how
    many arrays, and what differs."""
    differences = []
    with np.load(a, allow_pickle=False) as old, np.load(b, allow_pickle=False) as new:
        names = sorted(set(old.files) | set(new.files))
        for name in names:
            if name not in old.files or name not in new.files:
                differences.append(f"{name}: only in {'new' if name in new.files else 'old'}")
                continue
            x, y = old[name], new[name]
            if name == "metadata":
                if json.loads(str(x)) != json.loads(str(y)):
                    differences.append("metadata")
            elif x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
                differences.append(name)
    return not differences, len(names) - 1, differences


def without_times(output: str) -> str:
    """Printed output, less what says how long something took."""
    return "\n".join(line for line in output.splitlines() if " s " not in f"{line} ")


def run_case(
    name: str,
    case: dict[str, Any],
    old_src: Path,
    new_src: Path | None,
    work: Path,
    table_rows: Path,
) -> dict[str, Any]:
    folder = work / "".join(c if c.isalnum() else "-" for c in name)
    old_run, new_run = folder / "old", folder / "new"
    train = [*case["train"], "--seed", "0", "--quiet"]
    checked(nnscratch(old_src, "train", *train, "--out", str(old_run)), f"{name}: old train")
    checked(nnscratch(new_src, "train", *train, "--out", str(new_run)), f"{name}: new train")
    old_file, new_file = old_run / "model.npz", new_run / "model.npz"
    fit_same, n_arrays, fit_differences = same_arrays(old_file, new_file)
    data = str(table_rows) if case["table"] else "digits"
    row: dict[str, Any] = {
        "case": name,
        "train": " ".join(case["train"]),
        "arrays": n_arrays,
        "fit_same_bits": fit_same,
        "fit_differences": fit_differences,
        "model_file_same_bytes": old_file.read_bytes() == new_file.read_bytes(),
    }
    outputs = {}
    for label, src in (("old", old_src), ("new", new_src)):
        out = folder / f"{label}-predictions.csv"
        said = nnscratch(
            src, "predict", "--model", str(old_file), "--data", data, "--out", str(out)
        )
        scored = nnscratch(src, "evaluate", "--model", str(old_file), "--data", data)
        onnx = folder / f"{label}.onnx"
        exported = nnscratch(src, "export", "--model", str(old_file), "--out", str(onnx))
        outputs[label] = {
            "predictions": out.read_bytes(),
            "said": checked(said, f"{name}: {label} predict").replace(str(out), "OUT"),
            "evaluate": without_times(checked(scored, f"{name}: {label} evaluate")),
            "export": (exported[0], exported[1].replace(str(onnx), "OUT")),
            "onnx": onnx.read_bytes() if onnx.exists() else None,
        }
    old, new = outputs["old"], outputs["new"]
    row.update(
        predicted_rows=old["predictions"].count(b"\n") - 1,
        predictions_same_bytes=old["predictions"] == new["predictions"],
        predict_output_same=old["said"] == new["said"],
        evaluate_output_same=old["evaluate"] == new["evaluate"],
        exported=old["export"][0] == 0,
        export_same=old["export"] == new["export"] and old["onnx"] == new["onnx"],
    )
    return row


def table(rows: list[dict[str, Any]], header: str) -> str:
    yes = {True: "same", False: "**DIFFERENT**"}
    lines = [
        header,
        "",
        "| case | arrays: fresh fits | model file | predictions of the old file | printed "
        "(predict, evaluate) | ONNX export of the old file |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        exported = yes[r["export_same"]] + ("" if r["exported"] else " (refused alike)")
        lines.append(
            f"| {r['case']} | {r['arrays']} arrays {yes[r['fit_same_bits']]} | "
            f"{'same bytes' if r['model_file_same_bytes'] else 'bytes differ'} | "
            f"{r['predicted_rows']:,} rows, {yes[r['predictions_same_bytes']]} bytes | "
            f"{yes[r['predict_output_same']]}, {yes[r['evaluate_output_same']]} | {exported} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--before", required=True, help="the commit whose code wrote the files")
    parser.add_argument("--after", help="the commit whose code reads them (default: this tree)")
    parser.add_argument("--rows", type=int, default=20_000, help="rows of the CSV predicted")
    parser.add_argument("--only", help="run only the cases whose name contains this")
    parser.add_argument("--out", default=str(HERE / "results" / "model_compatibility"))
    args = parser.parse_args()
    if not TRACKS.is_file():
        raise SystemExit(f"needs the shared CSV at {TRACKS}")
    with tempfile.TemporaryDirectory(prefix="nnscratch-compat-") as tmp:
        work = Path(tmp)
        old_src = code_of(args.before, work / "before")
        new_src = code_of(args.after, work / "after") if args.after else None
        codes = {"old": which_code(old_src), "new": which_code(new_src)}
        if codes["old"] == codes["new"]:
            raise SystemExit(f"both runs import nnscratch from {codes['old']}")
        table_rows = work / f"tracks-first-{args.rows}.csv"
        with TRACKS.open() as source, table_rows.open("w") as sink:
            sink.writelines(itertools.islice(source, args.rows + 1))
        sequential = work / "sequential.json"
        recipe = FAST_RECIPE.to_dict() | {"n_members": 3, "n_jobs": None}
        sequential.write_text(json.dumps(recipe))
        rows = []
        for name, case in cases(sequential).items():
            if args.only and args.only not in name:
                continue
            print(f"{name} …", flush=True)
            rows.append(run_case(name, case, old_src, new_src, work, table_rows))
    head = (
        args.after
        or subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
    )
    blas = blas_kernel()
    reader = head if args.after else f"the working tree at {head}"
    command = "python benchmarks/model_compatibility.py " + " ".join(sys.argv[1:])
    header = (
        f"Model files written by {args.before} read by {reader} "
        f"(and fresh fits by both), on one machine ({blas}).\n\n`{command}`"
    )
    report = {"before": args.before, "after": head, "blas": blas, "command": command}
    report["cases"] = rows
    write_results(args.out, report, table(rows, header))
    checks = (
        "fit_same_bits",
        "predictions_same_bytes",
        "predict_output_same",
        "evaluate_output_same",
        "export_same",
    )
    return 0 if all(r[c] for r in rows for c in checks) else 1


def blas_kernel() -> str:
    import threadpoolctl

    info = threadpoolctl.threadpool_info()
    blas = [i for i in info if i.get("user_api") == "blas"]
    if not blas:
        return "no BLAS found"
    return (
        f"{blas[0]['internal_api']} {blas[0].get('architecture')}, {blas[0]['num_threads']} threads"
    )


if __name__ == "__main__":
    sys.exit(main())
