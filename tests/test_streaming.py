"""``nnscratch predict`` a chunk at a time: the same rows to the bit, CSV and Parquet, parts,
whole-file errors, and nothing half-written."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_cli import run

from nnscratch.data.cleaning import CleaningReport
from nnscratch.data.synthetic import make_tracks
from nnscratch.data.tables import table_parts
from nnscratch.errors import DataError


@pytest.fixture(scope="module")
def model(tracks_model: Path) -> Path:
    return tracks_model


@pytest.fixture(scope="module")
def tracks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2,500 rows in the 600k schema, some of them junk (rows predict skips)."""
    path = tmp_path_factory.mktemp("tracks") / "tracks.csv"
    make_tracks(2_500, seed=21, junk_fraction=0.08).to_csv(path, index=False)
    return path


def predict(model: Path, data: str | Path, out: Path, *chunk: str) -> tuple[str, Path]:
    result = run("predict", "--model", str(model), "--data", str(data), "--out", str(out), *chunk)
    assert result.returncode == 0, result.stderr
    return result.stdout, out


@pytest.fixture(scope="module")
def first_tracks(tracks: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 400 rows of :func:`tracks` (some of them junk): a file that chunks of 3
    and 7 rows cut into a hundred pieces and more, in a second rather than ten."""
    path = tmp_path_factory.mktemp("first-tracks") / "tracks.csv"
    with tracks.open() as lines:
        path.write_text("".join(next(lines) for _ in range(401)))  # the header and 400 rows
    return path


@pytest.mark.parametrize(
    ("chunk_rows", "rows"), [("3", 400), ("7", 400), ("999", 2_500), ("100000", 2_500)]
)
def test_chunks_give_the_rows_and_the_report_of_the_whole_file(
    model: Path, tracks: Path, first_tracks: Path, tmp_path: Path, chunk_rows: str, rows: int
) -> None:
    """Byte for byte the same CSV, and the same lines said, whatever the chunk size: the
    skipped rows and their reasons counted over the whole file, the scores on the target."""
    source = tracks if rows == 2_500 else first_tracks
    whole, whole_out = predict(model, source, tmp_path / "whole.csv", "--chunk-rows", "1000000")
    said, out = predict(model, source, tmp_path / "chunks.csv", "--chunk-rows", chunk_rows)
    assert out.read_bytes() == whole_out.read_bytes()
    assert said.replace("chunks.csv", "whole.csv") == whole
    assert "skipped" in said and "RMSE" in said and f"of {rows:,} rows" in said


def test_the_in_memory_path_gives_the_same_rows_and_notes(model: Path, tracks: Path) -> None:
    """``predict_file`` (the whole file in memory) against ``predict_chunks``: the same
    frame to the bit, the same rows read, the same notes."""
    from nnscratch.tasks.registry import load_model

    loaded = load_model(model)
    whole = loaded.predict_file(str(tracks))
    streamed = loaded.predict_chunks(str(tracks), 97)
    frame = pd.concat(list(streamed), ignore_index=True)
    pd.testing.assert_frame_equal(frame, whole.frame, check_exact=True)
    assert streamed.read == whole.read == 2_500
    assert streamed.notes == whole.notes and streamed.format_note == whole.report


def test_parquet_in_and_out_and_parts_read_as_one_table(
    model: Path, tracks: Path, tmp_path: Path
) -> None:
    pytest.importorskip("pyarrow", reason="Parquet needs pyarrow (the parquet extra)")
    frame = pd.read_csv(tracks)
    frame.to_parquet(tmp_path / "tracks.parquet", index=False)
    parts = tmp_path / "parts"
    parts.mkdir()
    for k, start in enumerate(range(0, len(frame), 700)):
        frame.iloc[start : start + 700].to_parquet(parts / f"part-{k:03d}.parquet", index=False)
        frame.iloc[start : start + 700].to_csv(tmp_path / f"csv-part-{k:03d}.csv", index=False)
    assert [p.name for p in table_parts(parts)][:2] == ["part-000.parquet", "part-001.parquet"]
    _, reference = predict(model, tracks, tmp_path / "ref.csv")
    expected = pd.read_csv(reference)
    for source in (tmp_path / "tracks.parquet", parts, str(tmp_path / "csv-part-*.csv")):
        _, out = predict(model, source, tmp_path / "out.parquet", "--chunk-rows", "333")
        back = pd.read_parquet(out)
        assert list(back.columns) == list(expected.columns)
        np.testing.assert_array_equal(back.iloc[:, 1].to_numpy(), expected.iloc[:, 1].to_numpy())
        assert back["id"].tolist() == expected["id"].astype(str).tolist()


def test_a_folder_of_parquet_parts_out_reads_back_as_the_table(
    model: Path, tracks: Path, tmp_path: Path
) -> None:
    pytest.importorskip("pyarrow", reason="Parquet needs pyarrow (the parquet extra)")
    _, reference = predict(model, tracks, tmp_path / "ref.csv")
    folder = tmp_path / "scores"
    for _ in range(2):  # the second run replaces the first folder whole
        result = run(
            "predict",
            "--model",
            str(model),
            "--data",
            str(tracks),
            "--out",
            f"{folder}/",
            "--chunk-rows",
            "1000",
        )
        assert result.returncode == 0 and f"→ {folder}/" in result.stdout, result.stderr
    assert sorted(p.name for p in folder.iterdir()) == [f"part-{k:05d}.parquet" for k in range(3)]
    back = pd.read_parquet(folder)
    expected = pd.read_csv(reference)
    np.testing.assert_array_equal(back.iloc[:, 1].to_numpy(), expected.iloc[:, 1].to_numpy())
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_fault_in_the_middle_writes_nothing(model: Path, tracks: Path, tmp_path: Path) -> None:
    """A malformed chunk half-way: the error names the file, and the output (an earlier
    one at the same path included) is not touched."""
    text = tracks.read_text().splitlines()
    broken = tmp_path / "broken.csv"
    text[1_800] = text[1_800] + "," * 40 + '"unterminated'
    broken.write_text("\n".join(text) + "\n")
    out = tmp_path / "pred.csv"
    out.write_text("earlier predictions\n")
    result = run(
        "predict",
        "--model",
        str(model),
        "--data",
        str(broken),
        "--out",
        str(out),
        "--chunk-rows",
        "500",
    )
    assert result.returncode == 2 and str(broken) in result.stderr
    assert out.read_text() == "earlier predictions\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_whole_file_errors_are_raised_once_the_file_is_read(model: Path, tmp_path: Path) -> None:
    frame = make_tracks(300, seed=3)
    frame["danceability"] = "lively"  # no number anywhere in the file
    frame.to_csv(tmp_path / "no-numbers.csv", index=False)
    for chunk in ("50", "100000"):
        result = run(
            "predict",
            "--model",
            str(model),
            "--data",
            str(tmp_path / "no-numbers.csv"),
            "--out",
            str(tmp_path / "p.csv"),
            "--chunk-rows",
            chunk,
        )
        assert result.returncode == 2
        assert "column 'danceability' has no usable numbers (e.g. 'lively')" in result.stderr
    assert not (tmp_path / "p.csv").exists()
    with pytest.raises(DataError, match="no file matches"):
        table_parts(tmp_path / "nothing-*.csv")


def test_a_columns_example_comes_from_the_first_chunk_with_a_value(
    model: Path, tmp_path: Path
) -> None:
    """A column empty in the first chunks and 'lively' later: the error a chunked read
    gives is the whole file's (its first value), not "all empty"."""
    frame = make_tracks(300, seed=3)
    frame["danceability"] = [""] * 120 + ["lively"] * 180
    frame.to_csv(tmp_path / "late.csv", index=False)
    for chunk in ("50", "100000"):
        result = run(
            "predict",
            "--model",
            str(model),
            "--data",
            str(tmp_path / "late.csv"),
            "--out",
            str(tmp_path / "p.csv"),
            "--chunk-rows",
            chunk,
        )
        assert result.returncode == 2
        assert "column 'danceability' has no usable numbers (e.g. 'lively')" in result.stderr


def test_cleaning_reports_merge_as_one_pass_counts() -> None:
    a = CleaningReport("f.csv", 10, 8, {"tempo": 1}, {"energy": 1})
    b = CleaningReport("f.csv", 5, 3, {"year": 2, "tempo": 1}, {})
    merged = a.merge(b, ["year", "tempo", "energy"])
    assert (merged.rows_read, merged.rows_kept, merged.rows_dropped) == (15, 11, 4)
    assert list(merged.missing.items()) == [("year", 2), ("tempo", 2)]
    assert merged.out_of_range == {"energy": 1}


def test_evaluate_in_chunks_equals_the_whole_file_on_the_shared_sample(
    real_tracks_path: Path, model: Path
) -> None:
    """``evaluate`` a chunk at a time (running sums) against the scores of every usable row
    at once (scikit-learn's metrics), on the real sample: float64 rounding apart, equal."""
    from nnscratch.models.metrics import regression_metrics
    from nnscratch.tasks.registry import load_model

    loaded = load_model(model)
    cleaned, report, _ = loaded.read_rows(str(real_tracks_path), with_target=True)
    target = loaded.preprocessing.target
    whole = regression_metrics(cleaned[target].to_numpy(), loaded.predict_points(cleaned))
    for chunk_rows in (1_000, 7_777, 10**6):
        from nnscratch.models.streaming import evaluate_chunks

        ours, _, chunks = evaluate_chunks(loaded, str(real_tracks_path), chunk_rows)
        scores = ours.scores()
        assert scores["n"] == whole["n"] == report.rows_kept
        for key in ("rmse", "mae", "r2"):
            assert scores[key] == pytest.approx(whole[key], rel=1e-12, abs=1e-12), key
        assert str(chunks.report) == str(report)
    result = run("evaluate", "--model", str(model), "--data", str(real_tracks_path))
    assert result.returncode == 0 and f"{whole['rmse']:8.2f}" in result.stdout


# ------------------------------------------------------------------------- parts and blocks


def test_parts_leave_out_hidden_and_underscore_files_and_refuse_a_mix(tmp_path: Path) -> None:
    """``_SUCCESS``, ``_metadata`` and hidden files (``.crc`` checksums) are not parts of a
    folder or a glob; parts whose names mix Parquet and CSV are refused, naming one of
    each."""
    for name in (
        "part-1.csv",
        "part-0.csv",
        "_SUCCESS",
        "_metadata",
        ".part-0.csv.crc",
        ".hidden.csv",
        "_part-9.csv",
    ):
        (tmp_path / name).write_text("a\n1\n")
    expected = ["part-0.csv", "part-1.csv"]
    assert [p.name for p in table_parts(tmp_path / "*")] == expected
    assert [p.name for p in table_parts(tmp_path)] == expected
    assert [p.name for p in table_parts(tmp_path / "_SUCCESS")] == ["_SUCCESS"]  # named: read
    (tmp_path / "part-2.parquet").write_bytes(b"PAR1")
    for source in (tmp_path / "part-*", tmp_path):
        with pytest.raises(
            DataError,
            match=r"mixes Parquet and CSV parts \(part-2.parquet, "
            r"part-0.csv\); name the parts of one format",
        ):
            table_parts(source)
    with pytest.raises(DataError, match="no file matches"):
        table_parts(tmp_path / "_*")


def _block_rows(source: Path, block_bytes: int) -> pd.DataFrame:
    from nnscratch.data.tables import read_block, table_blocks

    frames = [read_block(block).frame for block in table_blocks(source, block_bytes)]
    return pd.concat([f for f in frames if len(f)], ignore_index=True)  # an empty one: object


@settings(max_examples=60, deadline=None)
@given(
    words=st.lists(st.text(alphabet="xyz", min_size=1, max_size=9), min_size=1, max_size=40),
    newline=st.sampled_from(["\n", "\r\n"]),
    last_newline=st.booleans(),
    block_bytes=st.integers(1, 400),
)
def test_blocks_of_any_size_hold_every_row_once(
    words: list[str], newline: str, last_newline: bool, block_bytes: int
) -> None:
    """A CSV cut into blocks of any size (a line belongs to the block it starts in), each
    read on its own after the header: the rows of reading it whole, each once, in order."""
    from nnscratch.data.reading import read_delimited

    lines = ["k,word", *(f"{i},{w}" for i, w in enumerate(words))]
    text = newline.join(lines) + (newline if last_newline else "")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "words.csv"
        path.write_bytes(text.encode())
        whole, _, _ = read_delimited(path)
        pd.testing.assert_frame_equal(_block_rows(path, block_bytes), whole)


def test_parquet_blocks_are_row_groups_and_csv_blocks_check_as_reading_does(
    tmp_path: Path,
) -> None:
    pytest.importorskip("pyarrow", reason="Parquet needs pyarrow (the parquet extra)")
    from nnscratch.data.tables import read_block, table_blocks

    frame = make_tracks(1_000, seed=8, junk_fraction=0)
    frame.to_parquet(tmp_path / "t.parquet", index=False, row_group_size=300)
    assert [b.start for b in table_blocks(tmp_path / "t.parquet")] == [0, 1, 2, 3]
    pd.testing.assert_frame_equal(
        _block_rows(tmp_path / "t.parquet", 1), pd.read_parquet(tmp_path / "t.parquet")
    )
    (tmp_path / "header.csv").write_text("id,tempo\n")
    [block] = table_blocks(tmp_path / "header.csv")
    with pytest.raises(DataError, match=r"header.csv: has a header but no data rows"):
        read_block(block)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match=r"empty.csv: file is empty"):
        table_blocks(tmp_path / "empty.csv")
