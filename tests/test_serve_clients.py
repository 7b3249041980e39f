"""``nnscratch serve`` as clients written elsewhere see it: Triton's Python client over the
Open Inference Protocol (binary and JSON tensors, a version in the path, errors), and
schemathesis against the OpenAPI document with all its checks.

Both are the ``serve-tests`` extra (``make extras`` installs it).
"""

from __future__ import annotations

import doctest
import http.client
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from serving import app_in_thread

from nnscratch.data.synthetic import make_tracks

pytest.importorskip("fastapi", reason="nnscratch[serve] not installed (fastapi, uvicorn)")
pytest.importorskip(
    "tritonclient.http", reason="the serve-tests extra is not installed (tritonclient[http])"
)
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from nnscratch.app.serve.server import create_app

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def rows_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tracks every model can score, as a CSV file."""
    path = tmp_path_factory.mktemp("clients") / "rows.csv"
    make_tracks(40, seed=8, junk_fraction=0.0).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def popularity(tracks_model: Path) -> str:
    """A popularity model served as ``pop`` in this process; its URL."""
    with app_in_thread(create_app(tracks_model, name="pop")) as url:
        yield url


@pytest.fixture(scope="module")
def digits(digits_model: Path) -> str:
    """A digits model served as ``digits``; its URL."""
    with app_in_thread(create_app(digits_model, name="digits")) as url:
        yield url


def triton(url: str) -> httpclient.InferenceServerClient:
    return httpclient.InferenceServerClient(url=url.removeprefix("http://"))


def predict(url: str, body: object) -> dict:
    connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=30)
    try:
        headers = {"content-type": "application/json"}
        connection.request("POST", "/predict", json.dumps(body), headers)
        answer = connection.getresponse()
        assert answer.status == 200
        return json.loads(answer.read())
    finally:
        connection.close()


def test_triton_client_finds_the_server_live_and_ready_and_the_model_ready(
    popularity: str,
) -> None:
    client = triton(popularity)
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("pop") and client.is_model_ready("pop", "1")
    assert not client.is_model_ready("other") and not client.is_model_ready("pop", "2")
    assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
    metadata = client.get_model_metadata("pop", "1")
    assert metadata["name"] == "pop" and metadata["versions"] == ["1"]
    assert metadata == client.get_model_metadata("pop")


def table_inputs(url: str, rows: pd.DataFrame, binary: bool) -> list:
    """The model's input tensors for ``rows``, as the metadata names and types them."""
    inputs = []
    for spec in triton(url).get_model_metadata("pop")["inputs"]:
        column = rows[spec["name"]]
        values = column.astype(str) if spec["datatype"] == "BYTES" else column.astype(float)
        tensor = httpclient.InferInput(spec["name"], [len(rows)], spec["datatype"])
        data = values.to_numpy(dtype=object if spec["datatype"] == "BYTES" else np.float64)
        tensor.set_data_from_numpy(data, binary_data=binary)
        inputs.append(tensor)
    return inputs


def test_triton_infer_binary_json_and_by_version_give_the_numbers_of_predict(
    popularity: str, rows_csv: Path
) -> None:
    """The client's defaults (binary inputs, binary outputs), JSON both ways, and the
    versioned route: each the bits ``/predict`` answers for the same rows."""
    rows = pd.read_csv(rows_csv).iloc[:7]
    expected = predict(popularity, json.loads(rows.to_json(orient="records")))["predictions"]
    client = triton(popularity)
    binary = client.infer("pop", table_inputs(popularity, rows, binary=True), request_id="b")
    assert binary.get_response()["id"] == "b"
    assert binary.get_response()["outputs"][0]["parameters"]["binary_data_size"] == 7 * 8
    assert binary.as_numpy("predictions").tolist() == expected
    as_json = [httpclient.InferRequestedOutput("predictions", binary_data=False)]
    answer = client.infer("pop", table_inputs(popularity, rows, binary=False), outputs=as_json)
    assert answer.get_response()["outputs"][0]["data"] == expected
    versioned = client.infer("pop", table_inputs(popularity, rows, True), model_version="1")
    assert versioned.get_response()["model_version"] == "1"
    assert versioned.as_numpy("predictions").tolist() == expected


def test_triton_infer_on_digits_gives_the_labels_and_probabilities_of_predict(
    digits: str,
) -> None:
    from sklearn.datasets import load_digits

    pixels = (load_digits().images[:5] / 16).reshape(5, 64).astype(np.float32)
    expected = predict(digits, {"images": pixels.astype(np.float64).tolist()})
    client = triton(digits)
    for binary in (True, False):
        tensor = httpclient.InferInput("pixels", list(pixels.shape), "FP32")
        tensor.set_data_from_numpy(pixels, binary_data=binary)
        outputs = [
            httpclient.InferRequestedOutput(n, binary_data=binary)
            for n in ("predictions", "probabilities")
        ]
        answer = client.infer("digits", [tensor], outputs=outputs, model_version="1")
        assert answer.as_numpy("predictions").tolist() == expected["predictions"]
        assert answer.as_numpy("probabilities").tolist() == expected["probabilities"]


def test_a_wrong_version_model_or_binary_header_gets_a_4xx_naming_it(
    popularity: str, rows_csv: Path
) -> None:
    rows = pd.read_csv(rows_csv).iloc[:2]
    client = triton(popularity)
    with pytest.raises(InferenceServerException) as wrong:
        client.infer("pop", table_inputs(popularity, rows, True), model_version="2")
    assert wrong.value.status() == "404"
    assert "no version '2'; it serves version '1'" in wrong.value.message()
    with pytest.raises(InferenceServerException) as wrong:
        client.infer("other", table_inputs(popularity, rows, True))
    assert wrong.value.status() == "404" and "no model 'other'" in wrong.value.message()
    for header, fragment in (
        ("9999999", "says the JSON part is 9,999,999 bytes, but the body"),
        ("12a", "must be the length of the body's JSON part"),
    ):
        with pytest.raises(InferenceServerException) as wrong:
            client.infer(
                "pop",
                table_inputs(popularity, rows, False),
                headers={"Inference-Header-Content-Length": header},
            )
        assert wrong.value.status() == "400" and fragment in wrong.value.message()


#: The Triton-client session docs/serve.md shows (its ``pycon`` block).
SESSION = re.compile(r"^```pycon\n(.*?)^```", re.DOTALL | re.MULTILINE)


def test_the_triton_session_in_the_docs_runs_as_written(
    tracks_model: Path, rows_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/serve.md's session, run by doctest against a popularity model served as
    ``first`` (its address put for the page's ``127.0.0.1:8000``): every line it shows."""
    page = (HERE.parent / "docs" / "serve.md").read_text(encoding="utf-8")
    (session,) = SESSION.findall(page)
    (tmp_path / "new_tracks.csv").write_bytes(rows_csv.read_bytes())
    monkeypatch.chdir(tmp_path)
    with app_in_thread(create_app(tracks_model, name="first")) as url:
        text = session.replace("127.0.0.1:8000", url.removeprefix("http://"))
        test = doctest.DocTestParser().get_doctest(text, {}, "docs/serve.md", "serve.md", 0)
        runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
        report = io.StringIO()
        runner.run(test, out=report.write)
    assert len(test.examples) > 15
    assert runner.failures == 0, report.getvalue()


# --------------------------------------------------------------------------- schemathesis


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["popularity", "digits"])
def test_schemathesis_with_all_checks_finds_nothing(
    request: pytest.FixtureRequest, kind: str, rows_csv: Path, tmp_path: Path
) -> None:
    """``st run --checks all`` (every phase: examples, coverage, fuzzing, stateful) against
    the OpenAPI document, with a fixed seed and a bounded number of examples: 0 failures.
    ``schemathesis.toml`` and ``schemathesis_hooks.py`` beside this file say what a JSON
    Schema cannot: which CSV bodies are files, and that an inference request's shape must
    agree with its data."""
    pytest.importorskip("schemathesis", reason="the serve-tests extra is not installed")
    url = request.getfixturevalue(kind)
    command = [
        str(Path(sys.executable).with_name("st")),
        "--config-file",
        str(HERE / "schemathesis.toml"),
        "run",
        f"{url}/openapi.json",
        "--checks",
        "all",
        "--seed",
        "1",
        "--max-examples",
        "10",
        "--workers",
        "1",
        "--no-color",
    ]
    env = os.environ | {
        "PYTHONPATH": str(HERE),
        "SCHEMATHESIS_HOOKS": "schemathesis_hooks",
        "NNSCRATCH_CSV_ROWS": str(rows_csv),
    }
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path
    )  # its .schemathesis/ folder
    summary = result.stdout[-3000:]
    assert result.returncode == 0, summary
    assert " passed" in summary and "failed" not in summary.split("SUMMARY")[-1], summary
