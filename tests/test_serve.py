"""``nnscratch serve``: the JSON API, its limits and errors, and a load test on loopback."""

from __future__ import annotations

import http.client
import io
import json
import math
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from serving import ARTIFACTS, request, running_server
from test_cli import run

from nnscratch.app.serve.server import ServedModel
from nnscratch.data.images import png_pixels
from nnscratch.data.reading import read_csv
from nnscratch.data.synthetic import make_tracks
from nnscratch.errors import RequestError

pytest.importorskip("fastapi", reason="nnscratch[serve] not installed (fastapi, uvicorn)")
pytest.importorskip("httpx", reason="FastAPI's test client needs httpx")
from fastapi.testclient import TestClient

from nnscratch.app.serve.server import create_app


@pytest.fixture(scope="module")
def tracks_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("serve") / "tracks.csv"
    make_tracks(300, seed=5, junk_fraction=0.05).to_csv(path, index=False)
    return path


def client(model: Path, **limits: int) -> TestClient:
    return TestClient(create_app(model, **limits))


def test_health_model_and_page(tracks_model: Path, digits_model: Path) -> None:
    api = client(tracks_model)
    assert api.get("/health").json() == {"status": "ok"}
    info = api.get("/model").json()
    assert info["task"] == "regression" and info["target"] == "popularity"
    assert info["nnscratch_version"] and info["test_scores"]["rmse"] > 0
    assert info["k"] == 16 and info["n_members"] == 2  # the default: two TabM networks of k=16
    assert info["layer_sizes"][1:] == [64, 32, 16, 1]
    numbers = {i["name"]: i for i in info["inputs"] if i["kind"] == "number"}
    assert numbers["danceability"]["min"] >= 0 and numbers["danceability"]["max"] <= 1
    assert {"release_date", "name", "artists"} <= {i["name"] for i in info["inputs"]}
    page = api.get("/")
    assert page.status_code == 200 and "<script>" in page.text
    assert "src=" not in page.text and "https://" not in page.text  # nothing from elsewhere
    digits = client(digits_model).get("/model").json()
    assert digits["image_shape"] == [8, 8] and digits["classes"] == list(range(10))
    assert digits["k"] == 1
    assert "canvas" in client(digits_model).get("/").text
    paths = api.get("/openapi.json").json()["paths"]  # FastAPI's /docs lists every route
    assert {"/health", "/model", "/predict", "/v2/models/{model_name}/infer"} <= set(paths)
    assert set(paths["/predict"]) == {"post"}
    assert api.get("/predict").status_code == 405


def examples_answered(model: Path) -> dict[str, dict]:
    """Each JSON body ``model``'s OpenAPI document gives as an example (what /docs's "Try
    it out" sends), sent to its route: the answers, by path (each a 200)."""
    api = TestClient(create_app(model, name="m"))
    answered = {}
    for path, operations in api.get("/openapi.json").json()["paths"].items():
        body = operations.get("post", {}).get("requestBody", {})
        example = body.get("content", {}).get("application/json", {}).get("example")
        if example is not None:
            url = path.replace("{model_name}", "m").replace("{model_version}", "1")
            answer = api.post(url, json=example)
            assert answer.status_code == 200, (path, answer.text)
            answered[path] = answer.json()
    return answered


def test_the_openapi_documents_examples_are_answered(
    tracks_model: Path, digits_model: Path
) -> None:
    """A table model's examples: /predict's row, and inference requests of that row (the
    same number); a digits model's: inference requests of a blank image."""
    table = examples_answered(tracks_model)
    infer = [
        "/v2/models/{model_name}/infer",
        "/v2/models/{model_name}/versions/{model_version}/infer",
    ]
    assert set(table) == {"/predict", *infer}
    for path in infer:
        assert table[path]["outputs"][0]["data"] == table["/predict"]["predictions"]
    digits = examples_answered(digits_model)
    assert set(digits) == set(infer)
    assert [o["shape"] for o in digits[infer[0]]["outputs"]] == [[1], [1, 10]]


def test_predictions_equal_the_command_line_to_the_bit(
    tracks_model: Path, tracks_csv: Path, tmp_path: Path
) -> None:
    out = tmp_path / "pred.csv"
    result = run(
        "predict", "--model", str(tracks_model), "--data", str(tracks_csv), "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    cli = pd.read_csv(out)
    api = client(tracks_model)

    as_csv = api.post(
        "/predict", content=tracks_csv.read_bytes(), headers={"content-type": "text/csv"}
    ).json()
    assert as_csv["ids"] == cli["id"].tolist()
    assert as_csv["predictions"] == cli["predicted_popularity"].tolist()  # exact floats
    assert len(as_csv["skipped"]) == 300 - len(cli) > 0
    assert all(s["reason"] for s in as_csv["skipped"])

    frame = read_csv(tracks_csv)  # the same parse the command line made, the same rows
    kept = frame[frame["id"].isin(cli["id"])]
    rows = json.loads(json.dumps(kept.to_dict(orient="records"), default=_plain))
    as_json = api.post("/predict", json={"rows": rows}).json()
    expected = cli.set_index("id").loc[kept["id"], "predicted_popularity"].tolist()
    assert as_json["predictions"] == expected
    records = kept.to_json(orient="records")  # the list alone, as pandas writes it
    as_records = api.post("/predict", content=records, headers={"content-type": "application/json"})
    assert as_records.json() == as_json


def test_digits_png_and_pixels_agree_with_the_command_line(
    digits_model: Path, tmp_path: Path
) -> None:
    """The same images in the same batch give the same bits. (float32 products round
    differently for other batch widths, by about 1e-7: that is not compared.)"""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    folder, single = tmp_path / "pngs", tmp_path / "one"
    folder.mkdir()
    single.mkdir()
    for k in range(5):
        image = Image.fromarray((digits.images[k] / 16 * 255).astype(np.uint8))
        image.resize((32, 32), Image.Resampling.NEAREST).save(folder / f"{k}.png")
    (single / "0.png").write_bytes((folder / "0.png").read_bytes())
    api = client(digits_model)
    columns = [f"p{c}" for c in range(10)]

    def command_line(source: Path) -> pd.DataFrame:
        out = tmp_path / f"{source.name}.csv"
        result = run(
            "predict", "--model", str(digits_model), "--data", str(source), "--out", str(out)
        )
        assert result.returncode == 0, result.stderr
        return pd.read_csv(out)

    cli = command_line(single)  # one image: as a PNG body
    answer = api.post(
        "/predict", content=(single / "0.png").read_bytes(), headers={"content-type": "image/png"}
    ).json()
    assert answer["predictions"] == cli["label"].tolist()
    assert answer["probabilities"] == cli[columns].to_numpy().tolist()

    cli = command_line(folder)  # five images: as JSON pixels, read the same way
    model = ServedModel.load(digits_model).model
    pixels = [png_pixels(folder / f"{k}.png", model.image_shape)[0].tolist() for k in range(5)]
    answer = api.post("/predict", json={"images": pixels}).json()
    assert answer["predictions"] == cli["label"].tolist()
    assert answer["probabilities"] == cli[columns].to_numpy().tolist()


def _malformed(row: dict) -> list[tuple[str, dict, int, str]]:
    """(what, request, status, a fragment the message must hold) for a table model."""

    def body(content: bytes | str, kind: str = "application/json") -> dict:
        return {"content": content, "headers": {"content-type": kind}}

    def rows(*values: dict) -> dict:
        return body(json.dumps({"rows": list(values)}))

    without_tempo = {k: v for k, v in row.items() if k != "tempo"}
    streamed = {**body(b""), "content": iter([b"x" * 40_000, b"x" * 40_000])}
    return [
        ("invalid JSON", body(b'{"rows": ['), 400, "not valid JSON"),
        ("a JSON string", body(b'"rows"'), 422, "a JSON object or list of records, got str"),
        ("a list of numbers", body(b"[1, 2]"), 422, "row 0 must be an object"),
        ("an empty list", body(b"[]"), 422, "the list of records is empty"),
        ("no rows field", body(b'{"row": []}'), 422, '"rows"'),
        ("empty rows", rows(), 422, "non-empty list"),
        ("a row that is a list", body(b'{"rows": [[1, 2]]}'), 422, "row 0 must be an object"),
        ("a missing column", rows(without_tempo), 422, "row 0: missing 'tempo'"),
        (
            "a non-numeric string",
            rows(row, dict(row, energy="loud")),
            422,
            "row 1: 'energy' = 'loud' is not a number",
        ),
        ("NaN", rows(dict(row, valence=math.nan)), 422, "'valence' = nan is not a number"),
        ("Infinity", rows(dict(row, tempo=math.inf)), 422, "'tempo' = inf is not finite"),
        (
            "out of range",
            rows(dict(row, danceability=1.5)),
            422,
            "'danceability' = 1.5 is outside the valid range (0 to 1)",
        ),
        (
            "a bad date",
            rows(dict(row, release_date="someday")),
            422,
            "'release_date' = 'someday' gives no 'year'",
        ),
        ("too many rows", rows(*[row] * 51), 413, "51 rows; the limit is 50"),
        ("a body over the limit", body(b"x" * 70_000), 413, "the limit is 65,536"),
        ("a streamed body over the limit", streamed, 413, "exceeds the limit"),
        ("an empty body", body(b""), 400, "body is empty"),
        (
            "an unsupported type",
            body(b"<rows/>", "text/xml"),
            415,
            "unsupported content type 'text/xml'",
        ),
        (
            "a binary CSV",
            body(b"\x00\x01\x02", "text/csv"),
            422,
            "the CSV body: looks like a binary file",
        ),
        (
            "a CSV without the columns",
            body(b"a,b\n1,2\n", "text/csv"),
            422,
            "missing required column(s)",
        ),
        (
            "a PNG for a table model",
            body(b"\x89PNG", "image/png"),
            415,
            "a table model takes JSON rows or a CSV body",
        ),
    ]


def test_malformed_requests_get_4xx_naming_the_problem(tracks_model: Path) -> None:
    api = client(tracks_model, max_rows=50, max_body_bytes=65_536)
    info = api.get("/model").json()
    row = {i["name"]: i["default"] for i in info["inputs"]}
    assert api.post("/predict", json={"rows": [row]}).status_code == 200
    cases = _malformed(row)
    assert len(cases) >= 12
    for what, kwargs, status, fragment in cases:
        answer = api.post("/predict", **kwargs)
        assert answer.status_code == status, (what, answer.status_code, answer.text)
        assert fragment in answer.json()["detail"], (what, answer.json())
    assert api.get("/health").json() == {"status": "ok"}  # still serving
    assert api.post("/predict", json={"rows": [row]}).status_code == 200


def test_malformed_digit_requests(digits_model: Path) -> None:
    api = client(digits_model)
    good = [0.0] * 64
    cases = [
        ({"json": {"pixels": good[:63]}}, 422, "pixels has 63 values; the model reads 8×8 = 64"),
        ({"json": {"pixels": [*good[:10], "x", *good[11:]]}}, 422, "pixels[10] is 'x'"),
        ({"json": {"pixels": [*good[:5], 3.0, *good[6:]]}}, 422, "pixels[5] is 3.0, outside"),
        ({"json": {"pixels": [*good[:5], True, *good[6:]]}}, 422, "pixels[5] is True, not a"),
        ({"json": {"pixels": [*good[:7], -1, *good[8:]]}}, 422, "pixels[7] is -1, outside"),
        (
            {
                "content": json.dumps({"pixels": [*good[:2], 10**400, *good[3:]]}),
                "headers": {"content-type": "application/json"},
            },
            422,
            "pixels[2] is an integer of about 401 digits, outside",
        ),
        (
            {
                "content": '{"pixels": [NaN' + ", 0" * 63 + "]}",
                "headers": {"content-type": "application/json"},
            },
            422,
            "pixels[0] is nan, not a finite",
        ),
        ({"json": {"images": [good, good[:2]]}}, 422, "images[1] has 2 values"),
        ({"json": {"picture": good}}, 422, 'missing field "pixels"'),
        (
            {"content": b"not a png", "headers": {"content-type": "image/png"}},
            422,
            "not a readable PNG image",
        ),
        (
            {"content": b"a,b\n1,2\n", "headers": {"content-type": "text/csv"}},
            415,
            "a digits model takes JSON pixels or a PNG image",
        ),
    ]
    for kwargs, status, fragment in cases:
        answer = api.post("/predict", **kwargs)
        assert answer.status_code == status, answer.text
        assert fragment in answer.json()["detail"], answer.json()
    assert api.post("/predict", json={"pixels": good}).status_code == 200
    assert api.get("/health").status_code == 200


def test_serve_without_the_extra_says_what_to_install(monkeypatch, capsys) -> None:
    import sys

    from nnscratch.app.cli.main import main

    monkeypatch.setitem(sys.modules, "fastapi", None)  # as if not installed
    assert main(["serve", "--model", "model.npz"]) == 2
    assert capsys.readouterr().err.strip() == (
        "nnscratch: error: serve needs FastAPI and uvicorn: pip install 'nnscratch[serve]'"
    )


def test_serve_without_a_model_file_fails_cleanly(tmp_path: Path) -> None:
    result = run("serve", "--model", str(tmp_path / "missing.npz"), "--port", "1")
    assert result.returncode == 2 and "missing.npz" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_load_on_a_real_server(tracks_model: Path) -> None:
    """≥ 2,000 requests from 16 concurrent clients; every answer equals the sequential one."""
    served = ServedModel.load(tracks_model)
    frame = read_csv_frame(make_tracks(400, seed=11, junk_fraction=0.0))
    records = json.loads(json.dumps(frame.to_dict(orient="records"), default=_plain))
    n_clients, per_client = 16, 125
    rng = np.random.default_rng(0)
    distinct, answers = [], []
    for _ in range(200):  # 1 to 5 rows each; the answer computed in-process, sequentially
        chosen = [records[i] for i in rng.choice(len(records), size=rng.integers(1, 6))]
        distinct.append(json.dumps({"rows": chosen}).encode())
        checked = served.serving.json_request({"rows": chosen}, 100)
        answers.append(checked.answer(served.serving.network_outputs(checked.X))["predictions"])
    picks = rng.integers(0, len(distinct), size=n_clients * per_client)
    bodies = [distinct[i] for i in picks]
    expected = [answers[i] for i in picks]
    latencies = np.zeros(len(bodies))
    wrong, failed = [], []

    with running_server(tracks_model) as url:
        host = url.removeprefix("http://")

        def client_loop(c: int) -> None:
            connection = http.client.HTTPConnection(host, timeout=30)  # keep-alive
            for k in range(c * per_client, (c + 1) * per_client):
                started = time.perf_counter()
                try:
                    connection.request(
                        "POST",
                        "/predict",
                        body=bodies[k],
                        headers={"content-type": "application/json"},
                    )
                    answer = connection.getresponse()
                    payload = json.loads(answer.read())
                except (OSError, http.client.HTTPException, ValueError) as exc:
                    failed.append((k, repr(exc)))
                    connection.close()
                    connection = http.client.HTTPConnection(host, timeout=30)
                    continue
                latencies[k] = time.perf_counter() - started
                if answer.status != 200:
                    failed.append((k, answer.status))
                elif payload["predictions"] != expected[k]:
                    wrong.append(k)
            connection.close()

        threads = [threading.Thread(target=client_loop, args=(c,)) for c in range(n_clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        seconds = time.perf_counter() - started
        assert not any(t.is_alive() for t in threads), "the load test did not finish in 300 s"
        status, _ = request(url, "GET", "/health")
        assert status == 200

    assert not failed, failed[:5]
    assert not wrong, wrong[:5]
    figures = {
        "requests": len(bodies),
        "clients": n_clients,
        "seconds": seconds,
        "requests_per_second": len(bodies) / seconds,
        "p50_ms": float(np.percentile(latencies, 50) * 1000),
        "p99_ms": float(np.percentile(latencies, 99) * 1000),
        "errors": len(failed),
        "wrong": len(wrong),
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "serve_load.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(
        f"\nload test: {figures['requests']} requests, {n_clients} clients, "
        f"{figures['requests_per_second']:.0f} requests/s, p50 {figures['p50_ms']:.1f} ms, "
        f"p99 {figures['p99_ms']:.1f} ms, 0 errors, 0 wrong"
    )


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else str(value)


def read_csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as the command line would read it back from a CSV file."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    path = ARTIFACTS / "load_rows.csv"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path.write_text(buffer.getvalue())
    return read_csv(path)


@pytest.mark.parametrize("seed", [5, 6])
def test_json_rows_and_a_csv_file_are_one_cleaning(
    tracks_model: Path, tmp_path: Path, seed: int
) -> None:
    """The JSON request path (no pandas) and the file path (``nnscratch predict``) are two
    implementations of one cleaning: each usable row gets the same network inputs and the
    same prediction to the bit, and each row the file skips is refused as JSON."""
    model = ServedModel.load(tracks_model).model
    path = tmp_path / "rows.csv"
    make_tracks(300, seed=seed, junk_fraction=0.15).to_csv(path, index=False)
    cleaned, report, _ = model.read_rows(str(path), with_target=False)
    assert report.rows_dropped > 10  # the junk the file path skips
    X_file = np.concatenate([X for _, X in model.inputs_in_chunks(cleaned)])
    predicted = model.predict_file(str(path)).frame["predicted_popularity"].to_numpy()

    raw = read_csv(path)
    kept = cleaned["id"].astype(str)
    usable = raw.set_index("id", drop=False).loc[kept]
    records = json.loads(json.dumps(usable.to_dict(orient="records"), default=_plain))
    as_json = model.serving.json_request({"rows": records}, 10_000)
    np.testing.assert_array_equal(as_json.X, X_file)
    answered = as_json.answer(model.network_outputs(as_json.X))["predictions"]
    np.testing.assert_array_equal(np.asarray(answered, dtype=np.float64), predicted)
    as_body = model.serving.body_request("text/csv", path.read_bytes(), 10_000)
    np.testing.assert_array_equal(as_body.X, X_file)

    skipped = raw[~raw["id"].isin(kept)]
    accepted = []
    for record in json.loads(json.dumps(skipped.to_dict(orient="records"), default=_plain)):
        try:
            model.serving.json_request({"rows": [record]}, 10)
            accepted.append(record["id"])
        except RequestError as exc:
            assert exc.status == 422 and "row 0:" in exc.message
    assert accepted == [] and len(skipped) == report.rows_dropped
