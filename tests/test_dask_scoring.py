"""``nnscratch predict --local-workers`` / ``--scheduler``: partitions scored on Dask through
the scorer streaming uses — the same rows, the same lines said, the same errors; futures
released as they are taken and cancelled on an error; a worker killed mid-run loses no
row."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from test_cli import run, run_script

from nnscratch.data.synthetic import make_tracks
from nnscratch.errors import DataError
from nnscratch.tasks.registry import load_model

distributed = pytest.importorskip("distributed", reason="dask[distributed] not installed")


@pytest.fixture(scope="module")
def model(tracks_model: Path) -> Path:
    return tracks_model


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
    ) as local:
        yield local


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12,000 rows with junk, big enough for several partitions of 256 kB."""
    path = tmp_path_factory.mktemp("catalogue") / "catalogue.csv"
    make_tracks(12_000, seed=5, junk_fraction=0.05).to_csv(path, index=False)
    return path


def dask_rows(model: Path, data: Path, cluster, **options: Any) -> tuple[pd.DataFrame, Any]:
    from nnscratch.app.scoring.distributed import dask_predictions

    client = distributed.Client(cluster.scheduler_address, set_as_default=False)
    try:
        predictions = dask_predictions(
            client, load_model(model), str(model), str(data), block_bytes=256 * 1024, **options
        )
        frame = pd.concat(list(predictions), ignore_index=True)
    finally:
        client.close()
    assert predictions.chunks.partitions >= 6
    return frame, predictions


def streamed(model: Path, data: Path) -> tuple[pd.DataFrame, Any]:
    predictions = load_model(model).predict_chunks(str(data), 5_000)
    return pd.concat(list(predictions), ignore_index=True), predictions


def test_partitions_give_the_rows_and_the_report_of_streaming(model, catalogue, cluster) -> None:
    expected, local = streamed(model, catalogue)
    frame, predictions = dask_rows(model, catalogue, cluster)
    pd.testing.assert_frame_equal(frame, expected, check_exact=True)
    assert str(predictions.report) == str(local.report) and predictions.read == 12_000
    assert predictions.notes == local.notes and "RMSE" in predictions.notes[-1]


def test_futures_are_let_go_as_they_are_taken(model, catalogue, cluster) -> None:
    """At most the window of partitions is held while the answers are taken (with the
    model file, and the partition just taken, whose release the client's event loop
    carries out a moment later), and nothing once they all are."""
    client = distributed.Client(cluster.scheduler_address, set_as_default=False)
    held: list[int] = []
    try:
        from nnscratch.app.scoring.distributed import dask_predictions

        predictions = dask_predictions(
            client,
            load_model(model),
            str(model),
            str(catalogue),
            block_bytes=256 * 1024,
            window=3,
            on_part=lambda i: held.append(len(client.futures)),
        )
        for _ in predictions:
            pass
        assert client.futures == {}
    finally:
        client.close()
    assert len(held) == predictions.chunks.partitions and max(held) <= 3 + 2, held


def wanted_keys(client: Any, deadline_s: float = 10.0) -> list[str]:
    """The keys some client still wants from the scheduler, once none is left or after
    ``deadline_s`` (a release reaches the scheduler a moment after it is made)."""

    def wanted(dask_scheduler: Any) -> list[str]:
        return sorted(str(key) for key, task in dask_scheduler.tasks.items() if task.who_wants)

    started = time.monotonic()
    while (keys := client.run_on_scheduler(wanted)) and time.monotonic() - started < deadline_s:
        time.sleep(0.05)
    return keys


def test_an_error_in_a_partition_cancels_the_rest(model, catalogue, cluster, tmp_path) -> None:
    """A malformed line in the third partition: its error, naming the file, and the
    partitions still in flight cancelled at once — while the error (and with it the
    frames that held their futures) is still alive."""
    from nnscratch.app.scoring.distributed import dask_predictions

    lines = catalogue.read_text().splitlines()
    lines[2_500] = lines[2_500] + "," * 40 + '"unterminated'
    broken = tmp_path / "broken.csv"
    broken.write_text("\n".join(lines) + "\n")
    client = distributed.Client(cluster.scheduler_address, set_as_default=False)
    try:
        predictions = dask_predictions(
            client, load_model(model), str(model), str(broken), block_bytes=256 * 1024, window=8
        )
        with pytest.raises(DataError, match=rf"{re.escape(str(broken))}: not a valid CSV"):
            for _ in predictions:
                pass
        assert wanted_keys(client) == []
    finally:
        client.close()


def test_a_worker_killed_mid_run_still_yields_every_row_once(model, catalogue, cluster) -> None:
    """SIGKILL to the worker that holds the model file, as the first answer is taken: its
    partitions, and the model file, are computed again elsewhere; every row once."""
    client = distributed.Client(cluster.scheduler_address, set_as_default=False)
    pids = client.run(os.getpid)
    client.close()
    killed: list[int] = []

    def kill_one(part: int) -> None:
        if not killed:
            killed.append(part)
            os.kill(pids[sorted(pids)[0]], signal.SIGKILL)

    for _ in range(2):  # the second run finds the worker restarted, and kills it again
        killed.clear()
        frame, predictions = dask_rows(model, catalogue, cluster, on_part=kill_one)
        expected, _ = streamed(model, catalogue)
        assert killed == [0] and predictions.read == 12_000
        assert frame["id"].is_unique and len(frame) == len(expected)
        pd.testing.assert_frame_equal(frame, expected, check_exact=True)
        client = distributed.Client(cluster.scheduler_address, set_as_default=False)
        client.wait_for_workers(2, timeout=30)
        pids = client.run(os.getpid)
        client.close()


# ------------------------------------------------------------------ the command line, both ways


def said(result: subprocess.CompletedProcess[str], out: Path) -> tuple[int, str, str]:
    """Exit code, stdout and stderr, with the one line that names the cluster left out and
    the output file's name made neutral."""
    stdout = "".join(
        line
        for line in result.stdout.splitlines(keepends=True)
        if not line.startswith("scoring on ")
    ).replace(str(out), "OUT")
    return result.returncode, stdout, result.stderr.replace(str(out), "OUT")


def both_ways(
    model: Path, data: Path | str, tmp_path: Path, *where: str, runner: Any = run
) -> tuple[Any, Any]:
    """``predict`` streamed and on Dask (``where``), through ``runner`` (``run_script``: each
    in a new process); what each said and wrote."""
    results = []
    for name, how in (("streamed", ("--chunk-rows", "700")), ("dask", where)):
        out = tmp_path / f"{name}.csv"
        result = runner(
            "predict", "--model", str(model), "--data", str(data), "--out", str(out), *how
        )
        assert "Traceback" not in result.stderr and "StreamClosedError" not in result.stderr
        written = out.read_bytes() if out.exists() else None
        results.append((said(result, out), written))
    return results[0], results[1]


def write_case(case: str, path: Path) -> Path:
    frame = make_tracks(3_000, seed=11, junk_fraction=0.08)
    if case == "bad rows":  # junk in some rows, no target column
        frame = frame.drop(columns="popularity")
    elif case == "an all-empty feature column":
        frame["liveness"] = ""
    frame.to_csv(path, index=False)  # "a regression target": the file holds popularity
    return path


@pytest.mark.slow
@pytest.mark.parametrize("case", ["bad rows", "an all-empty feature column", "a regression target"])
def test_local_workers_and_streaming_say_and_write_the_same(model, tmp_path, case) -> None:
    """``predict --local-workers 2`` against streaming, each in a new process: the same exit
    code, the same lines on stdout (but the one naming the cluster) and on stderr (no
    traceback), the same bytes written."""
    data = write_case(case, tmp_path / "tracks.csv")
    local, dask = both_ways(model, data, tmp_path, "--local-workers", "2", runner=run_script)
    assert dask == local
    (code, stdout, stderr), written = local
    if case == "an all-empty feature column":
        assert code == 2 and written is None and stdout == ""
        assert stderr == (
            f"nnscratch: error: {data}: column 'liveness' has no usable numbers (all empty)\n"
        )
    else:
        assert code == 0 and stderr == "" and "skipped" in stdout and written
        assert ("RMSE" in stdout) == (case == "a regression target")


def semicolons(path: Path) -> Path:
    frame = make_tracks(800, seed=2)
    frame.to_csv(path, index=False, sep=";", decimal=",")
    return path


def parts_with_marker_files(folder: Path) -> str:
    folder.mkdir()
    frame = make_tracks(1_500, seed=3, junk_fraction=0.05)
    for k, start in enumerate(range(0, len(frame), 400)):
        frame.iloc[start : start + 400].to_csv(folder / f"part-{k}.csv", index=False)
    (folder / "_SUCCESS").write_text("")
    (folder / ".part-0.csv.crc").write_bytes(b"\x00\x01")
    return str(folder / "*")


def mixed(folder: Path) -> str:
    parts_with_marker_files(folder)
    (folder / "part-9.parquet").write_bytes(b"PAR1")
    return str(folder / "part-*")


def header_only(path: Path) -> Path:
    path.write_text(make_tracks(5, seed=1).iloc[:0].to_csv(index=False))
    return path


def missing_column(path: Path) -> Path:
    make_tracks(300, seed=1).drop(columns="tempo").to_csv(path, index=False)
    return path


SOURCES = {
    "semicolons and decimal commas": (semicolons, "note: ", 0),
    "a glob of parts beside _SUCCESS and a hidden file": (parts_with_marker_files, "skipped", 0),
    "a glob mixing Parquet and CSV": (mixed, "mixes Parquet and CSV parts", 2),
    "a header and no row": (header_only, "has a header but no data rows", 2),
    "a missing column": (missing_column, "missing required column(s): tempo", 2),
}


@pytest.mark.parametrize("case", list(SOURCES))
def test_a_scheduler_and_streaming_say_and_write_the_same(model, cluster, tmp_path, case) -> None:
    make, fragment, code = SOURCES[case]
    data = make(tmp_path / "source.csv")
    local, dask = both_ways(model, data, tmp_path, "--scheduler", cluster.scheduler_address)
    assert dask == local
    (returncode, stdout, stderr), _ = local
    assert returncode == code and fragment in stdout + stderr, (stdout, stderr)


def test_parquet_parts_on_a_scheduler_give_the_rows_of_streaming(
    model, catalogue, cluster, tmp_path
) -> None:
    pytest.importorskip("pyarrow", reason="Parquet needs pyarrow")
    frame = pd.read_csv(catalogue)
    parts = tmp_path / "parts"
    parts.mkdir()
    for k, start in enumerate(range(0, len(frame), 5_000)):
        frame.iloc[start : start + 5_000].astype(str).to_parquet(
            parts / f"part-{k}.parquet", index=False, row_group_size=1_500
        )
    local, dask = both_ways(model, parts, tmp_path, "--scheduler", cluster.scheduler_address)
    assert dask == local and local[0][0] == 0 and local[1]
    expected, _ = streamed(model, catalogue)
    back = pd.read_csv(tmp_path / "dask.csv")
    np.testing.assert_array_equal(back.iloc[:, 1].to_numpy(), expected.iloc[:, 1].to_numpy())


def test_a_scheduler_that_does_not_answer_fails_in_one_line(
    model, catalogue, tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr("nnscratch.app.scoring.cluster.CONNECT_TIMEOUT_S", 1.0)
    result = run(
        "predict",
        "--model",
        str(model),
        "--data",
        str(catalogue),
        "--out",
        str(tmp_path / "p.csv"),
        "--scheduler",
        "tcp://127.0.0.1:9",
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9 within 1 s" in result.stderr
    assert not (tmp_path / "p.csv").exists()


def test_the_estimators_work_in_dask_mls_parallel_post_fit() -> None:
    """dask-ml's ParallelPostFit fits on pandas and predicts a Dask DataFrame partition by
    partition (optional: dask-ml is not one of the package's extras)."""
    pytest.importorskip("dask_ml", reason="dask-ml not installed (pip install dask-ml)")
    import dask.dataframe as dd
    from dask_ml.wrappers import ParallelPostFit

    from nnscratch import MLPClassifier

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.random((1_200, 4)), columns=list("abcd"))
    y = (X["a"] + X["b"] > 1).astype(int)
    wrapped = ParallelPostFit(
        MLPClassifier(hidden_layer_sizes=(8,), epochs=60, learning_rate=0.01, random_state=0)
    )
    wrapped.fit(X, y)
    proba = wrapped.predict_proba(dd.from_pandas(X, npartitions=3)).compute()
    np.testing.assert_allclose(proba, wrapped.estimator.predict_proba(X), rtol=0, atol=1e-6)
    assert wrapped.score(X, y) > 0.8
