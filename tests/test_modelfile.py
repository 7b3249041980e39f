"""Model files: hostile members are refused from their headers; older files still load."""

from __future__ import annotations

import io
import json
import resource
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nnscratch.data.cleaning import clean
from nnscratch.data.features import RECIPE_FEATURES
from nnscratch.data.synthetic import make_tracks
from nnscratch.data.tracks import tracks_from_frame
from nnscratch.errors import ModelFileError
from nnscratch.models.persistence import ArraySpec, read_model_file, write_model_file
from nnscratch.models.popularity_model import PopularityModel
from nnscratch.models.regressor import MLPRegressor

HERE = Path(__file__).resolve().parent
MODELS = HERE / "data" / "models"
SCRIPT = Path(sys.executable).with_name("nnscratch")
CLAIMED_VALUES = 1_000_000_000  # 4 GB of float32


class _RepeatedDeflate:
    """A stand-in compressor for zipfile: each 16 MiB chunk of zeros deflates to the
    same bytes after a full flush, so one real compression serves them all."""

    def __init__(self, header: bytes, chunk: int) -> None:
        self.real = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.header = header
        self.chunk = chunk
        self.block = b""

    def compress(self, data: bytes) -> bytes:
        if data.startswith(self.header[:6]) and len(data) == len(self.header):
            return self.real.compress(data) + self.real.flush(zlib.Z_FULL_FLUSH)
        if len(data) == self.chunk:
            if not self.block:
                self.block = self.real.compress(data) + self.real.flush(zlib.Z_FULL_FLUSH)
            return self.block
        return self.real.compress(data) + self.real.flush(zlib.Z_FULL_FLUSH)

    def flush(self) -> bytes:
        return self.real.flush(zlib.Z_FINISH)


def write_hostile_model(good: Path, out: Path, member: str = "W1") -> Path:
    """``good`` with ``member`` replaced by a deflated .npy declaring 10⁹ float32 zeros."""
    header = np.lib.format.header_data_from_array_1_0(np.zeros(1, dtype=np.float32))
    header["shape"] = (CLAIMED_VALUES,)
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    npy_header = buffer.getvalue()
    chunk = 1 << 24
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(out, "w") as archive:
        for info in source.infolist():
            if info.filename != f"{member}.npy":
                archive.writestr(info, source.read(info))
                continue
            target = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            target.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(target, "w", force_zip64=True) as fh:
                fh._compressor = _RepeatedDeflate(npy_header, chunk)  # see the class
                fh.write(npy_header)
                zeros = bytes(chunk)
                left = CLAIMED_VALUES * 4
                while left:
                    piece = zeros if left >= chunk else bytes(left)
                    fh.write(piece)
                    left -= len(piece)
    return out


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("hostile")
    frame = tracks_from_frame(make_tracks(300, seed=1), features=RECIPE_FEATURES)
    frame.to_csv(folder / "tracks.csv", index=False)
    good = PopularityModel.load(MODELS / "format1-popularity.npz").save(folder / "good.npz")
    return write_hostile_model(good, folder / "hostile.npz"), folder / "tracks.csv"


def test_hostile_member_is_a_real_deflated_4_gb_claim(hostile: tuple[Path, Path]) -> None:
    path, _ = hostile
    assert path.stat().st_size < 8_000_000  # a few MB on disk
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo("W1.npy").file_size > 4 * CLAIMED_VALUES
        with archive.open("W1.npy") as fh:
            np.lib.format.read_magic(fh)
            shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
    assert shape == (CLAIMED_VALUES,) and dtype == np.float32


def test_hostile_member_refused_from_its_header(hostile: tuple[Path, Path]) -> None:
    path, _ = hostile
    with pytest.raises(ModelFileError) as caught:
        PopularityModel.load(path)
    message = str(caught.value)
    assert "hostile.npz" in message and "array W1 declares shape (1000000000,)" in message
    assert "1,000,000,000 values, 4,000,000,000 bytes" in message
    assert "\n" not in message


def limit_address_space(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def test_hostile_member_refused_by_the_cli_without_allocating_it(
    hostile: tuple[Path, Path], tmp_path: Path
) -> None:
    """Under a 1.5 GB address-space limit the 4 GB array cannot even be allocated."""
    path, data = hostile
    out = tmp_path / "pred.csv"
    result = subprocess.run(
        [str(SCRIPT), "predict", "--model", str(path), "--data", str(data), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lambda: limit_address_space(1_500_000_000),
        env={"OPENBLAS_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "array W1 declares shape (1000000000,)" in lines[0]
    assert "MemoryError" not in result.stderr and not out.exists()


def test_a_model_claiming_too_many_parameters_is_refused(tmp_path: Path) -> None:
    arrays = {"W1": np.zeros((2, 2), dtype=np.float32)}
    path = write_model_file(tmp_path / "big.npz", arrays, {"kind": "test"})

    def expect(meta: dict) -> dict[str, ArraySpec]:
        return {"W1": ArraySpec((100_000, 100_000), np.dtype(np.float32))}  # 40 GB

    with pytest.raises(ModelFileError, match="40,000,000,000 bytes of arrays, more than"):
        read_model_file(path, expect)


def test_metadata_member_size_is_capped(tmp_path: Path) -> None:
    path = tmp_path / "meta.npz"
    with zipfile.ZipFile(path, "w") as archive, archive.open("metadata.npy", "w") as fh:
        header = {"descr": "<U100000000", "fortran_order": False, "shape": ()}
        np.lib.format.write_array_header_1_0(fh, header)
    with pytest.raises(ModelFileError, match="metadata declares 400,000,000 bytes"):
        MLPRegressor.load(path)


# --------------------------------------------------------------------------- older files


def expected() -> dict:
    return json.loads((MODELS / "format1-expected.json").read_text())


#: How far float32 predictions may lie from the recorded ones, in the target's units.
#: The recorded values were computed in float32 on one machine's BLAS kernels; another
#: kernel sums each dot product in another order. Each of the ≤ 100-term products of
#: the format-1 networks then moves by at most γ_100 = 100·2⁻²⁴ ≈ 6e-6 of Σ|w·a| (≲ 2 here)
#: per layer, and popularity multiplies the scaled output by its range (67 points):
#: 3 layers × 6e-6 × 2 × 67 ≈ 2.4e-3 points in the worst case. Measured between OpenBLAS's
#: Haswell and SkylakeX kernels: 2.8e-5 points. 1e-3 sits between the two, ten times
#: below the 0.01 points ``nnscratch predict`` writes.
FLOAT32_POINTS = 1e-3


def reference_outputs(path: Path, X: np.ndarray) -> np.ndarray:
    """The members' mean output for already-encoded inputs ``X`` ``(n, n[0])``, computed
    in float64 straight from the file's arrays, as the format defines them (``W{l}``
    ``(n[l], n[l-1])``, ``b{l}`` ``(n[l], 1)``, ``m{k}.`` for member k ≥ 2; ReLU hidden
    layers, identity output): independent of the package's network and of BLAS kernels."""
    with np.load(path, allow_pickle=False) as arrays:
        meta = json.loads(str(arrays["metadata"]))
        n_layers = len(meta["architecture"]["layer_sizes"]) - 1
        outputs = []
        for member in range(meta.get("n_members", 1)):
            prefix = f"m{member + 1}." if member else ""
            A = np.asarray(X, dtype=np.float64).T
            for l in range(1, n_layers + 1):
                W = arrays[f"{prefix}W{l}"].astype(np.float64)
                b = arrays[f"{prefix}b{l}"].astype(np.float64)
                Z = W @ A + b
                A = np.maximum(Z, 0.0) if l < n_layers else Z
            outputs.append(A[0])
    return np.mean(outputs, axis=0)


def reference_points(path: Path, cleaned: pd.DataFrame) -> np.ndarray:
    """Popularity points for cleaned rows, from the file's metadata and arrays alone:
    Min-Max scaling, piecewise-linear encoding (plus each scaled value), the network,
    the target's scale back, the clip to 0–100; float64 throughout."""
    with np.load(path, allow_pickle=False) as arrays:
        pre = json.loads(str(arrays["metadata"]))["preprocessing"]
    low = np.asarray(pre["x_scaler"]["data_min"])
    width = np.asarray(pre["x_scaler"]["data_max"]) - low
    scaled = (cleaned[pre["features"]].to_numpy(np.float64) - low) / np.where(width, width, 1)
    encoded = []
    for j, edges in enumerate(pre["encoding"]["edges"]):
        edges = np.asarray(edges)
        for t in range(1, len(edges)):
            bin_width = edges[t] - edges[t - 1]
            encoded.append(np.clip((scaled[:, j] - edges[t - 1]) / bin_width, 0, 1))
    X = np.column_stack([*encoded, scaled])
    y_low, y_high = pre["y_scaler"]["data_min"][0], pre["y_scaler"]["data_max"][0]
    return np.clip(y_low + reference_outputs(path, X) * (y_high - y_low), 0, 100)


@pytest.mark.portable
def test_format_1_popularity_model_written_before_the_architecture_change_loads() -> None:
    """Written by the code before PopularityModel existed. Its float32 predictions equal
    the recorded ones within float32 rounding (the kernels may differ from the recording
    machine's), and both agree with an independent float64 reading of the file."""
    path = MODELS / "format1-popularity.npz"
    model = PopularityModel.load(path)
    frame = tracks_from_frame(make_tracks(400, seed=3), features=RECIPE_FEATURES)
    cleaned, _ = clean(frame, RECIPE_FEATURES)
    points = model.predict_points(cleaned.iloc[:20])
    want = np.asarray(expected()["popularity_first_20_rows_of_make_tracks_400_seed_3"])
    reference = reference_points(path, cleaned.iloc[:20])
    np.testing.assert_allclose(points, want, rtol=0, atol=FLOAT32_POINTS)
    np.testing.assert_allclose(points, reference, rtol=0, atol=FLOAT32_POINTS)
    np.testing.assert_allclose(want, reference, rtol=0, atol=FLOAT32_POINTS)
    assert np.ptp(points) > 10  # a real spread of predictions, not a constant
    assert model.n_members == 2 and model.preprocessing.target_mean is not None


@pytest.mark.portable
def test_format_1_regressor_loads() -> None:
    """Scaled outputs of a 5-6-1 float32 network: within float32 rounding of the recorded
    values and of the file read independently in float64 (γ_6 ≈ 4e-7 per layer; 1e-6)."""
    path = MODELS / "format1-regressor.npz"
    model = MLPRegressor.load(path)
    X = np.array(expected()["regressor_X_seed_1"])
    predicted = model.predict(X)
    np.testing.assert_allclose(predicted, expected()["regressor_predictions"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(predicted, reference_outputs(path, X), rtol=0, atol=1e-6)


def test_a_plain_regressor_file_is_not_a_popularity_model() -> None:
    with pytest.raises(ModelFileError, match=r"no data preprocessing.*MLPRegressor\.load"):
        PopularityModel.load(MODELS / "format1-regressor.npz")


@pytest.mark.portable
def test_popularity_model_file_round_trip(tmp_path: Path) -> None:
    model = PopularityModel.load(MODELS / "format1-popularity.npz")
    again = PopularityModel.load(model.save(tmp_path / "again.npz"))
    rows = pd.DataFrame(make_tracks(50, seed=9))
    frame = tracks_from_frame(rows, features=RECIPE_FEATURES)
    cleaned, _ = clean(frame, RECIPE_FEATURES)
    np.testing.assert_array_equal(again.predict_points(cleaned), model.predict_points(cleaned))
    assert again.preprocessing.to_dict() == model.preprocessing.to_dict()
