"""Does a search pay for itself? The default recipe, ``nnscratch tune --time-budget``
(its ensemble, and its best single configuration), and CatBoost tuned by a random search,
on the same splits of the shared sample, seed after seed, in one process.

    python benchmarks/tune_anchor.py --data ../shared/data/spotify/tracks.csv --seeds 0 1

Per seed, on the split ``nnscratch train --seed S`` makes (70/10/20):

* the default recipe, fit as ``nnscratch train --seed S`` fits it;
* ``nnscratch tune --time-budget 10m --seed S``: the ensemble it saves, and, from the
  same study, its best single configuration (what ``--ensemble 0`` would save: the same
  search, refit without the ensemble; it is not searched twice);
* CatBoost as ``benchmarks/accuracy.py`` runs it (default settings), and tuned: 20
  random trials (depth 4–10, learning rate 10^U(−2.3, −0.7), l2_leaf_reg 10^U(0, 1.5),
  bagging temperature U(0, 1), border count 64/128/254; up to 3,000 trees, early
  stopping after 100 without improvement on the validation split), the best by
  validation RMSE scored on the test split.

CatBoost sees the same rows and columns as the network (the task's scaled training,
validation and test splits; trees do not mind the scaling). Test RMSE in popularity
points, predictions clipped to 0–100 for every model. Writes
``benchmarks/results/tune_anchor.{md,json}`` (or ``--out``), and each seed's runs as soon
as they end in ``OUT.seed<S>.<part>.json`` (``network``: the default and ``tune``;
``catboost``), so that seeds and parts may run in separate processes at once and be
brought together with ``--combine``::

    python benchmarks/tune_anchor.py --seeds 0 --parts network &
    python benchmarks/tune_anchor.py --seeds 1 --parts network &
    python benchmarks/tune_anchor.py --seeds 0 1 --parts catboost &
    wait; python benchmarks/tune_anchor.py --seeds 0 1 --combine

Needs the ``tune`` extra and ``pip install catboost``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import threadpoolctl
from results_io import write_results  # benchmarks/, beside this script

from nnscratch.app.cli.main import main as nnscratch
from nnscratch.files import atomic_write_text
from nnscratch.models.metrics import test_rmse
from nnscratch.models.recipes import DEFAULT_RECIPE
from nnscratch.tasks.regression import TableRegression

HERE = Path(__file__).resolve().parent
CATBOOST_TRIALS = 20
DEFAULT = "default recipe (nnscratch train)"
PARTS = ("network", "catboost")


def catboost_space(rng: np.random.Generator) -> dict[str, Any]:
    """One random CatBoost configuration (see the module doc)."""
    return {
        "depth": int(rng.integers(4, 11)),
        "learning_rate": float(10 ** rng.uniform(-2.3, -0.7)),
        "l2_leaf_reg": float(10 ** rng.uniform(0, 1.5)),
        "bagging_temperature": float(rng.uniform(0, 1)),
        "border_count": int(rng.choice([64, 128, 254])),
    }


def catboost_runs(data: Any, seed: int) -> dict[str, dict[str, Any]]:
    """CatBoost with default settings, and tuned by :data:`CATBOOST_TRIALS` random trials."""
    import catboost

    common = {"random_seed": seed, "verbose": False, "thread_count": -1}
    common["allow_writing_files"] = False
    started = time.perf_counter()
    plain = catboost.CatBoostRegressor(**common).fit(data.X_train, data.y_train)
    out = {
        "CatBoost, default settings (as accuracy.py)": {
            "test_rmse": test_rmse(data, plain.predict(data.X_test)),
            "seconds": time.perf_counter() - started,
        }
    }
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    best: tuple[float, Any, dict[str, Any]] | None = None
    for _ in range(CATBOOST_TRIALS):
        params = catboost_space(rng)
        model = catboost.CatBoostRegressor(
            **common, **params, iterations=3000, od_type="Iter", od_wait=100
        )
        model.fit(
            data.X_train, data.y_train, eval_set=(data.X_val, data.y_val), use_best_model=True
        )
        val = float(np.sqrt(np.mean((model.predict(data.X_val) - data.y_val) ** 2)))
        if best is None or val < best[0]:
            best = (val, model, params)
    assert best is not None
    out[f"CatBoost, tuned ({CATBOOST_TRIALS} random trials)"] = {
        "test_rmse": test_rmse(data, best[1].predict(data.X_test)),
        "seconds": time.perf_counter() - started,
        "params": best[2] | {"trees": int(best[1].tree_count_)},
    }
    return out


def network_runs(
    path: str, seed: int, budget: str, jobs: int, work: Path
) -> dict[str, dict[str, Any]]:
    """The default recipe as ``nnscratch train`` fits it, then ``nnscratch tune``."""
    task = TableRegression()
    data = task.load(path, DEFAULT_RECIPE, seed)
    started = time.perf_counter()
    _, score = task.final(data, DEFAULT_RECIPE, seed)
    results = {DEFAULT: {"test_rmse": score, "seconds": time.perf_counter() - started}}
    out = work / f"tune-seed{seed}"
    started = time.perf_counter()
    args = ["tune", "--data", path, "--time-budget", budget, "--seed", str(seed)]
    code = nnscratch([*args, "--jobs", str(jobs), "--out", str(out)])
    if code != 0:
        raise SystemExit(f"tune failed (exit {code})")
    metrics = json.loads((out / "metrics.json").read_text())
    return results | tune_rows(metrics, time.perf_counter() - started, budget)


def tune_rows(metrics: dict[str, Any], seconds: float, budget: str) -> dict[str, dict[str, Any]]:
    """The ensemble and the best single of a ``tune`` run, from its ``metrics.json``."""
    return {
        f"tune --time-budget {budget}: the ensemble it saves": {
            "test_rmse": metrics["ensemble"]["test_rmse"],
            "oof_rmse": metrics["ensemble"]["oof_rmse"],
            "seconds": seconds,
            "trials": metrics["ensemble"]["trials"],
            "search": metrics["search"],
            "tune's own default (trial 0 refit)": metrics["default"]["test_rmse"],
        },
        f"tune --time-budget {budget} --ensemble 0: its best single (same study)": {
            "test_rmse": metrics["best"]["test_rmse"],
            "oof_rmse": metrics["best"]["oof_rmse"],
            "seconds": seconds,
            "trials": metrics["best"]["trials"],
        },
    }


def run_part(args: argparse.Namespace, seed: int, part: str, work: Path) -> dict[str, Any]:
    """One part of a seed's runs: ``network`` (default and tune) or ``catboost``."""
    if part == "network":
        return network_runs(args.data, seed, args.time_budget, args.jobs, work)
    task = TableRegression()
    return catboost_runs(task.load(args.data, DEFAULT_RECIPE, seed).prepared, seed)


def read_seed(out: Path, seed: int) -> dict[str, Any]:
    """A seed's saved runs: its parts' files, network first (or one file of both)."""
    whole = out.with_name(f"{out.name}.seed{seed}.json")
    if whole.is_file():
        return json.loads(whole.read_text())
    runs: dict[str, Any] = {}
    for part in PARTS:
        runs |= json.loads(part_file(out, seed, part).read_text())
    return runs


def saved(out: Path, seed: int) -> bool:
    """Whether every part of a seed's runs is saved."""
    whole = out.with_name(f"{out.name}.seed{seed}.json")
    return whole.is_file() or all(part_file(out, seed, p).is_file() for p in PARTS)


def part_file(out: Path, seed: int, part: str) -> Path:
    return out.with_name(f"{out.name}.seed{seed}.{part}.json")


def markdown(report: dict[str, Any]) -> str:
    seeds = report["seeds"]
    names = list(report["runs"][str(seeds[0])])
    lines = [
        f"Test RMSE in popularity points on `{report['data']}`, seeds {', '.join(map(str, seeds))} "
        f"(70/10/20 splits, the same for every model), and wall seconds; {report['kernel']}, "
        f"{report['note']}.",
        "",
        "| model | " + " | ".join(f"seed {s}" for s in seeds) + " | mean | seconds (mean) |",
        "|---|" + "---:|" * (len(seeds) + 2),
    ]
    for name in names:
        runs = [report["runs"][str(s)][name] for s in seeds]
        rmse = [r["test_rmse"] for r in runs]
        cells = " | ".join(f"{v:.3f}" for v in rmse)
        seconds = np.mean([r["seconds"] for r in runs])
        lines.append(f"| {name} | {cells} | **{np.mean(rmse):.3f}** | {seconds:.0f} |")
    lines += ["", *report["verdicts"], *searches(report), ""]
    return "\n".join(lines)


def searches(report: dict[str, Any]) -> list[str]:
    """A line per seed: what its search ran, and the ensemble's trials and weights."""
    lines = []
    for seed in report["seeds"]:
        for run in report["runs"][str(seed)].values():
            if "search" not in run:
                continue
            states = ", ".join(f"{n} {s}" for s, n in run["search"]["states"].items() if n)
            weights = ", ".join(f"trial {t} × {w:.2f}" for t, w in run["trials"].items())
            lines.append(
                f"- seed {seed}: {run['search']['trials']} trials ({states}) in "
                f"{run['search']['seconds']:.0f} s of search; the ensemble: {weights}"
            )
    return lines


def verdicts(report: dict[str, Any], budget: str) -> list[str]:
    seeds = report["seeds"]

    def mean(name: str) -> float:
        return float(np.mean([report["runs"][str(s)][name]["test_rmse"] for s in seeds]))

    ensemble = mean(f"tune --time-budget {budget}: the ensemble it saves")
    single = mean(f"tune --time-budget {budget} --ensemble 0: its best single (same study)")
    catboost = mean(f"CatBoost, tuned ({CATBOOST_TRIALS} random trials)")
    default = mean(DEFAULT)
    worse = []
    for s in seeds:
        runs = report["runs"][str(s)]
        for name, r in runs.items():
            if name.startswith("tune") and r["test_rmse"] > runs[DEFAULT]["test_rmse"]:
                worse.append(
                    f"seed {s}: {name} {r['test_rmse']:.3f} > {runs[DEFAULT]['test_rmse']:.3f}"
                )
    return [
        f"- tuned ensemble {ensemble:.3f} vs tuned CatBoost {catboost:.3f} (mean of the seeds): "
        + ("below" if ensemble < catboost else "NOT below"),
        f"- best single {single:.3f}, default {default:.3f}; tuned results worse than the "
        f"default in the same run: {'none' if not worse else '; '.join(worse)}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(HERE.parents[1] / "shared/data/spotify/tracks.csv"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--time-budget", default="10m")
    parser.add_argument("--jobs", type=int, default=-1, help="tune's worker processes")
    parser.add_argument("--note", default="the machine shared with other work")
    parser.add_argument("--out", default=str(HERE / "results" / "tune_anchor"))
    parser.add_argument(
        "--parts", nargs="+", choices=PARTS, default=list(PARTS), help="what to run"
    )
    parser.add_argument(
        "--combine", action="store_true", help="only bring the seeds' saved parts together"
    )
    args = parser.parse_args()
    blas = threadpoolctl.threadpool_info()
    kernel = ", ".join(f"{b['internal_api']} {b.get('architecture', '')}" for b in blas)
    report: dict[str, Any] = {
        "data": args.data,
        "seeds": args.seeds,
        "time_budget": args.time_budget,
        "jobs": args.jobs,
        "kernel": kernel,
        "note": args.note,
        "command": "python benchmarks/tune_anchor.py "
        + " ".join(
            f"--{k.replace('_', '-')} {v if not isinstance(v, list) else ' '.join(map(str, v))}"
            for k, v in vars(args).items()
            if k not in ("note", "combine", "parts")
        ),
        "runs": {},
    }
    out = Path(args.out)
    with tempfile.TemporaryDirectory() as work:
        for seed in args.seeds:
            for part in args.parts if not args.combine else ():
                runs = run_part(args, seed, part, Path(work))
                out.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_text(part_file(out, seed, part), json.dumps(runs, indent=2) + "\n")
                print(json.dumps({"seed": seed, part: runs}), flush=True)
    if not all(saved(out, seed) for seed in args.seeds):
        return  # a part on its own: --combine brings them together
    report["runs"] = {str(seed): read_seed(out, seed) for seed in args.seeds}
    report["verdicts"] = verdicts(report, args.time_budget)
    write_results(out, report, markdown(report))


if __name__ == "__main__":
    main()
