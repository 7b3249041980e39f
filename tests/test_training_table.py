"""Training on a source of any size: read once a chunk at a time into compact splits, in
memory or out of core — the same split, the same numbers and the same model as reading
the file whole, whatever the chunk size."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_cli import run

from nnscratch.data.preprocessing import prepare
from nnscratch.data.synthetic import make_tracks
from nnscratch.data.tracks import read_tracks
from nnscratch.data.training_table import MemoryBudget, parse_size
from nnscratch.errors import DataError
from nnscratch.models.recipes import DEFAULT_RECIPE
from nnscratch.tasks.regression import TableRegression

#: The default recipe's data stage (27 columns, target-aware bins, TabM), small and quick.
SMALL = replace(DEFAULT_RECIPE, hidden=(16, 8), k=4, n_members=2, epochs=2, max_steps=None)


@pytest.fixture(scope="module")
def tracks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12,000 rows in the 600k schema, some junk (rows cleaning drops) all through."""
    path = tmp_path_factory.mktemp("tracks") / "tracks.csv"
    make_tracks(12_000, seed=5, junk_fraction=0.05).to_csv(path, index=False)
    return path


def load(source: Path, chunk_rows: int | None, budget: MemoryBudget | None = None):
    return TableRegression().load(str(source), SMALL, 0, chunk_rows=chunk_rows, budget=budget)


def said(data) -> list[str]:
    """The data report, less the peak expected (the process's memory at the time)."""
    return [line for line in data.report() if "expected peak" not in line]


def same_splits(a, b) -> None:
    for name in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
        assert getattr(a, name).dtype == getattr(b, name).dtype
    for name in ("train_index", "val_index", "test_index"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.report == b.report
    assert a.preprocessing.to_dict() == b.preprocessing.to_dict()


def test_the_first_pass_gives_prepares_split_and_numbers(tracks: Path) -> None:
    """Read whole into ``prepare`` (the path before training streamed) against the first
    pass: the same rows in each split, the same scalers, the same float32 numbers."""
    whole = read_tracks(
        tracks, features=SMALL.features, optional=SMALL.optional, categoricals=SMALL.categoricals
    )
    before = prepare(whole.frame, whole.features, seed=0, categoricals=whole.categoricals)
    same_splits(load(tracks, 1_000).prepared, before)


@pytest.mark.parametrize("chunk_rows", [1_000, 7_777, 100_000])
def test_a_model_is_the_same_whatever_the_chunk_size(tracks: Path, chunk_rows: int) -> None:
    """The same split and a model equal to the bit to reading the file whole."""
    task = TableRegression()
    whole, chunked = load(tracks, None), load(tracks, chunk_rows)
    same_splits(whole.prepared, chunked.prepared)
    assert said(whole) == said(chunked)
    models = [task.fit(data, SMALL, 0) for data in (whole, chunked)]
    for a, b in zip(models[0].estimator.networks_, models[1].estimator.networks_, strict=True):
        np.testing.assert_array_equal(a.params.flat, b.params.flat)
    assert models[0].history.val_loss == models[1].history.val_loss


def test_out_of_core_maps_the_splits_and_trains_the_same_model(
    tracks: Path, tmp_path: Path
) -> None:
    """Over the budget: the splits are memory-mapped from unlinked files in the budget's
    folder (nothing left there), the split and numbers are those in memory, so is the
    model, and the output says which path it took."""
    task = TableRegression()
    in_memory = load(tracks, 2_000)
    out_of_core = load(tracks, 2_000, MemoryBudget(1, "a test", tmp_path))
    assert isinstance(out_of_core.prepared.X_train, np.memmap)
    assert not isinstance(in_memory.prepared.X_train, np.memmap)
    same_splits(in_memory.prepared, out_of_core.prepared)
    assert any("out of core" in line for line in out_of_core.report())
    assert any("in memory" in line for line in in_memory.report())
    models = [task.fit(data, SMALL, 0) for data in (in_memory, out_of_core)]
    for a, b in zip(models[0].estimator.networks_, models[1].estimator.networks_, strict=True):
        np.testing.assert_array_equal(a.params.flat, b.params.flat)
    assert list(tmp_path.iterdir()) == []


def test_bad_rows_in_the_middle_are_counted_and_skipped_as_today(tmp_path: Path) -> None:
    """Rows with junk half-way through a file: dropped and counted as reading it whole
    does; a file that breaks half-way: an error naming it, and nothing written."""
    frame = make_tracks(3_000, seed=9)
    already = int(pd.to_numeric(frame["tempo"], errors="coerce").iloc[1_500:1_521].notna().sum())
    missing = int(pd.to_numeric(frame["tempo"], errors="coerce").isna().sum())
    frame.loc[1_500:1_520, "tempo"] = "fast"
    frame.loc[1_600:1_610, "energy"] = 7.5  # out of range
    path = tmp_path / "bad_rows.csv"
    frame.to_csv(path, index=False)
    report = load(path, 500).prepared.report
    assert report.missing["tempo"] == missing + already
    assert report.out_of_range["energy"] == 11
    assert report == load(path, None).prepared.report

    lines = path.read_text().splitlines()
    lines[2_000] += "," * 40 + '"unterminated'
    broken = tmp_path / "broken.csv"
    broken.write_text("\n".join(lines) + "\n")
    out = tmp_path / "runs" / "first"
    out.parent.mkdir()
    result = run("train", "--data", str(broken), "--out", str(out), "--epochs", "1", "--quiet")
    assert result.returncode == 2 and str(broken) in result.stderr, result.stderr
    assert list(out.parent.iterdir()) == []  # no run directory, no staging, no rows


def test_train_reads_what_predict_reads_parquet_parts_and_globs(tmp_path: Path) -> None:
    """A folder of Parquet parts and a glob of CSV parts train as the one table they hold,
    out of core under a small budget; the output names the path taken."""
    pytest.importorskip("pyarrow")
    frame = make_tracks(1_500, seed=4, junk_fraction=0.0)
    parts = tmp_path / "parts"
    parts.mkdir()
    for k, start in enumerate(range(0, 1_500, 500)):
        frame.iloc[start : start + 500].to_parquet(parts / f"part-{k}.parquet", index=False)
        frame.iloc[start : start + 500].to_csv(tmp_path / f"rows-{k}.csv", index=False)
    (parts / "_SUCCESS").write_text("")
    common = ("--epochs", "1", "--k", "2", "--quiet")
    said = {}
    for name, source in (("parquet", parts), ("csv", tmp_path / "rows-*.csv")):
        out = tmp_path / name
        result = run(
            "train", "--data", str(source), "--out", str(out), *common, "--memory-budget", "1MB"
        )
        assert result.returncode == 0, result.stderr
        assert "rows read 1,500" in result.stdout and "out of core" in result.stdout
        said[name] = [line for line in result.stdout.splitlines() if "split (seed" in line]
    assert said["parquet"] == said["csv"]


def test_memory_sizes_read_as_people_write_them() -> None:
    assert parse_size("256MB") == 256 * 2**20
    assert parse_size("2GB") == parse_size("2g") == 2 * 2**30
    assert parse_size("1.5GiB") == 3 * 2**29
    for wrong in ("", "lots", "-1GB", "0"):
        with pytest.raises(DataError, match="not a memory size"):
            parse_size(wrong)
    assert MemoryBudget.default().limit > 0


def test_the_in_memory_table_holds_only_the_compact_rows(tracks: Path) -> None:
    """No encoded table and no raw frame are kept: the splits have the 27 scaled columns
    (not the 200-odd network inputs), float32, and the file's rows are dropped."""
    data = load(tracks, 3_000)
    assert data.prepared.X_train.shape[1] == len(data.prepared.column_names) == 27
    assert data.prepared.X_train.dtype == np.float32
    assert len(data.tracks.frame) == 0
    assert isinstance(data.tracks.frame, pd.DataFrame)


def test_encoding_a_batch_at_a_time_trains_the_model_of_the_encoded_rows(tracks: Path) -> None:
    """The piecewise-linear encoding made per batch in the loop (and for validation and
    prediction a batch at a time) against the encoded table given whole, as training ran
    before: the same weights, validation losses and predictions, to the bit."""
    data = load(tracks, None).prepared
    pre = SMALL.preprocessing(data)
    assert pre.expansion is not None and pre.expansion.width == pre.n_inputs > 27
    whole = SMALL.build_for(data, 0).fit(
        pre.encode(data.X_train), data.y_train, eval_set=(pre.encode(data.X_val), data.y_val)
    )
    batched = SMALL.build_for(data, 0).fit(
        data.X_train, data.y_train, eval_set=(data.X_val, data.y_val), expand=pre.expansion
    )
    for a, b in zip(whole.networks_, batched.networks_, strict=True):
        np.testing.assert_array_equal(a.params.flat, b.params.flat)
    assert whole.history_.val_loss == batched.history_.val_loss
    assert batched.n_features_in_ == pre.n_inputs
    expected = whole.predict(pre.encode(data.X_test))
    got = batched.predict_outputs(data.X_test, expand=pre.expansion)[:, 0]
    np.testing.assert_array_equal(got, expected)


def test_baselines_of_a_large_split_fit_a_seeded_sample_and_predict_in_blocks(
    tracks: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above ``BASELINE_ROWS`` training rows the baselines fit a sorted seeded sample of
    that many (the same for the same seed), and they predict a block at a time."""
    from sklearn.linear_model import LinearRegression

    from nnscratch.models.metrics import split_metrics
    from nnscratch.tasks import baselines

    assert baselines.baseline_rows(1_000, 0, limit=1_000) is None
    sample = baselines.baseline_rows(5_000, 3, limit=1_000)
    assert sample is not None and len(sample) == len(np.unique(sample)) == 1_000
    assert np.all(np.diff(sample) > 0) and sample[-1] < 5_000
    np.testing.assert_array_equal(sample, baselines.baseline_rows(5_000, 3, limit=1_000))

    monkeypatch.setattr(baselines, "PREDICT_ROWS", 333)
    X = np.arange(3_000.0).reshape(1_000, 3)
    calls = []
    row_sums = baselines.in_blocks(lambda block: calls.append(len(block)) or block.sum(axis=1))
    np.testing.assert_array_equal(row_sums(X), X.sum(axis=1))
    assert calls == [333, 333, 333, 1]

    data = load(tracks, None).prepared
    monkeypatch.setattr(baselines, "BASELINE_ROWS", 2_000)
    rows = baselines.regression_baselines(data, seed=0)
    picked = baselines.baseline_rows(len(data.y_train), 0, limit=2_000)
    by_hand = LinearRegression().fit(data.X_train[picked], data.y_train[picked])
    expected = split_metrics(data, by_hand.predict)
    for split in ("validation", "test"):  # predicted 333 rows at a time: the last bits move
        assert rows["LinearRegression"][split] == pytest.approx(expected[split], rel=1e-9)
    mean = float(np.mean(data.y_train))  # the mean of every training row
    assert rows["training mean"] == split_metrics(data, lambda X: np.full(len(X), mean))
