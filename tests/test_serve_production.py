"""``nnscratch serve`` under load: micro-batching to the bit, /metrics, the Open Inference
Protocol, workers, and no 5xx on any body."""

from __future__ import annotations

import asyncio
import functools
import http.client
import json
import re
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from serving import request, running_server
from test_cli import run

from nnscratch.data.synthetic import make_tracks
from nnscratch.errors import RequestError
from nnscratch.tasks.registry import load_model

pytest.importorskip("fastapi", reason="nnscratch[serve] not installed (fastapi, uvicorn)")
pytest.importorskip("prometheus_client", reason="nnscratch[serve] not installed")
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnscratch.app.serve.server import create_app


@pytest.fixture(scope="module")
def models(tracks_model: Path, digits_model: Path) -> dict[str, Path]:
    """A popularity model (the default recipe, briefly) and a digits model."""
    return {"popularity": tracks_model, "digits": digits_model}


@pytest.fixture(scope="module")
def rows(models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """120 usable rows as JSON gives them, in a CSV the command line scores too."""
    frame = make_tracks(120, seed=21, junk_fraction=0.0)
    path = tmp_path_factory.mktemp("rows") / "rows.csv"
    frame.to_csv(path, index=False)
    return json.loads(pd.read_csv(path).to_json(orient="records"))


def scrape(url: str) -> str:
    with urllib.request.urlopen(url + "/metrics", timeout=30) as answer:
        return answer.read().decode()


def counter(text: str, name: str, **labels: str) -> float:
    """The value of one sample of a Prometheus text exposition."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{re.escape(name)}(?:\{{{re.escape(wanted)}\}})? (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def post_json(url: str, path: str, payload: object) -> dict:
    status, answer = request(url, "POST", path, json.dumps(payload).encode())
    assert status == 200, answer
    return answer


def test_a_rows_answer_is_the_same_bits_alone_in_a_batch_and_in_a_file(
    models: dict[str, Path], rows: list[dict], tmp_path: Path
) -> None:
    """32 clients at once send single rows and mixed groups; each row's prediction equals
    the same row sent alone, and ``nnscratch predict`` on a file, to the last bit. Every
    tenth body has an unusable row: it gets its own 422, the bodies beside it their answers."""
    csv = tmp_path / "rows.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    out = tmp_path / "pred.csv"
    assert (
        run(
            "predict", "--model", str(models["popularity"]), "--data", str(csv), "--out", str(out)
        ).returncode
        == 0
    )
    from_file = pd.read_csv(out)["predicted_popularity"].tolist()
    rng = np.random.default_rng(3)
    groups = [rng.choice(len(rows), size=rng.integers(1, 8)).tolist() for _ in range(400)]
    with running_server(models["popularity"], "--max-wait-ms", "5") as url:
        alone = [post_json(url, "/predict", {"rows": [r]})["predictions"][0] for r in rows]
        answers: dict[int, list[float]] = {}

        def client(c: int) -> None:
            connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=60)
            for g in range(c, len(groups), 32):
                chosen = [rows[i] for i in groups[g]]
                if g % 10 == 9:
                    chosen[-1] = chosen[-1] | {"tempo": "fast"}
                connection.request(
                    "POST",
                    "/predict",
                    body=json.dumps({"rows": chosen}),
                    headers={"content-type": "application/json"},
                )
                response = connection.getresponse()
                answer = json.loads(response.read())
                answers[g] = answer["predictions"] if response.status == 200 else answer
            connection.close()

        threads = [threading.Thread(target=client, args=(c,)) for c in range(32)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        metrics = scrape(url)
    assert alone == from_file  # one row alone = the same row in a 120-row file
    for g, indices in enumerate(groups):
        if g % 10 == 9:
            bad = len(indices) - 1
            assert answers[g] == {"detail": f"row {bad}: 'tempo' = 'fast' is not a number"}
        else:
            assert answers[g] == [alone[i] for i in indices], g
    answered = [g for g in range(len(groups)) if g % 10 != 9]
    batched = counter(metrics, "nnscratch_batch_requests_count")
    assert batched < len(rows) + len(answered)  # some network calls served several requests
    assert counter(metrics, "nnscratch_batch_requests_sum") == len(rows) + len(answered)
    assert counter(metrics, "nnscratch_rows_predicted_total") == len(rows) + sum(
        len(groups[g]) for g in answered
    )


@functools.cache
def loaded(path: Path) -> Any:
    return load_model(path)


def spoiled(row: dict, how: str) -> object:
    """``row`` as a body may send it: unchanged, or with one kind of problem."""
    changed = dict(row)
    if how == "text number":
        changed["energy"] = str(row["energy"])  # read as the number it spells
    elif how == "not a number":
        changed["tempo"] = "fast"
    elif how == "out of range":
        changed["danceability"] = 7.5
    elif how == "missing":
        del changed["loudness"]
    elif how == "extra column":
        changed["comment"] = "ignored"
    elif how == "not an object":
        return [row["energy"]]
    return changed


SPOILS = [
    "none",
    "none",
    "none",
    "text number",
    "not a number",
    "out of range",
    "missing",
    "extra column",
    "not an object",
]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    bodies=st.lists(
        st.tuples(
            st.lists(
                st.tuples(st.integers(0, 119), st.sampled_from(SPOILS)), min_size=1, max_size=5
            ),
            st.booleans(),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_bodies_read_together_get_what_each_gets_alone(
    models: dict[str, Path], rows: list[dict], bodies: list[tuple[list[tuple[int, str]], bool]]
) -> None:
    """The server reads a batch's JSON bodies together (``json_requests``): each body's
    network inputs are the bits it gets alone, and a body with a problem gets its own
    error (status and message) while the others are answered. A body is ``{"rows": [...]}``
    or the list of records alone."""
    model = loaded(models["popularity"]).serving
    payloads = []
    for body, as_list in bodies:
        records = [spoiled(rows[i], how) for i, how in body]
        payloads.append(records if as_list else {"rows": records})
    together = model.json_requests(payloads, 5)
    assert len(together) == len(payloads)
    for payload, result in zip(payloads, together, strict=True):
        try:
            alone = model.json_request(payload, 5)
        except RequestError as exc:
            assert isinstance(result, RequestError), payload
            assert (result.status, result.message) == (exc.status, exc.message)
            continue
        assert not isinstance(result, RequestError), (payload, result)
        assert result.X.dtype == alone.X.dtype and np.array_equal(result.X, alone.X)
        outputs = model.network_outputs(alone.X)
        assert result.answer(outputs) == alone.answer(outputs)


def test_small_batches_run_on_the_event_loop_and_large_ones_in_the_worker_thread() -> None:
    """A batch of a few rows costs less than handing it to a thread; a large one would
    hold the event loop up, so it goes to the worker thread. Each request gets its rows."""
    from nnscratch.app.serve.batching import INLINE_ROWS, MicroBatcher
    from nnscratch.models.values import Request

    threads: list[str] = []

    def network(X: np.ndarray) -> np.ndarray:
        threads.append(threading.current_thread().name)
        return X * 2

    def job(n: int, first: float) -> Request:
        X = first + np.arange(n, dtype=float)[:, None]
        return Request(X, lambda outputs: {"predictions": outputs[:, 0].tolist()})

    async def main() -> list[dict]:
        batcher = MicroBatcher(network)
        try:
            small = await asyncio.gather(*(batcher.answer(job(2, 10 * i), 2) for i in range(3)))
            large = await batcher.answer(job(INLINE_ROWS + 1, 0.0), INLINE_ROWS + 1)
        finally:
            batcher.close()
        return [*small, large]

    answers = asyncio.run(main())
    assert threads[0] == threading.current_thread().name  # the loop's own thread
    assert threads[-1].startswith("nnscratch-batch")
    assert answers[:3] == [{"predictions": [20.0 * i, 20.0 * i + 2]} for i in range(3)]
    assert answers[3]["predictions"] == [2.0 * r for r in range(INLINE_ROWS + 1)]


def test_a_batch_takes_requests_already_sent_and_waits_no_longer() -> None:
    """A request already sent when a batch forms reaches the queue a couple of turns of
    the event loop later: it joins the batch. Nothing else coming, the batch does not
    wait out ``max_wait_s`` (5 s here)."""
    from nnscratch.app.serve.batching import SETTLE_TURNS, MicroBatcher
    from nnscratch.models.values import Request

    calls: list[int] = []

    def network(X: np.ndarray) -> np.ndarray:
        calls.append(len(X))
        return X * 2

    def job(value: float) -> Request:
        return Request(np.array([[value]]), lambda outputs: {"predictions": [outputs[0, 0]]})

    async def after_turns(batcher: MicroBatcher, turns: int, value: float) -> dict:
        for _ in range(turns):
            await asyncio.sleep(0)
        return await batcher.answer(job(value))

    async def main() -> tuple[list[dict], float]:
        batcher = MicroBatcher(network, max_wait_s=5.0)
        started = time.perf_counter()
        try:
            together = await asyncio.gather(batcher.answer(job(1.0)), after_turns(batcher, 2, 2.0))
            apart = await asyncio.gather(
                batcher.answer(job(3.0)), after_turns(batcher, SETTLE_TURNS + 3, 4.0)
            )
        finally:
            batcher.close()
        return [*together, *apart], time.perf_counter() - started

    answers, seconds = asyncio.run(main())
    assert calls == [2, 1, 1]
    assert [a["predictions"] for a in answers] == [[2.0], [4.0], [6.0], [8.0]]
    assert seconds < 2.5  # every batch closed long before max_wait_s


def test_metrics_count_every_request_by_route_and_status(
    models: dict[str, Path], rows: list[dict]
) -> None:
    with running_server(models["popularity"]) as url:
        before = scrape(url)  # the start waited on /health
        for r in rows[:25]:
            post_json(url, "/predict", {"rows": [r]})
        for _ in range(3):
            request(url, "POST", "/predict", b'{"rows": 1}')
        request(url, "GET", "/health")
        text = scrape(url)
    assert counter(text, "nnscratch_requests_total", route="/predict", status="200") == 25
    assert counter(text, "nnscratch_requests_total", route="/predict", status="422") == 3
    health = {"route": "/health", "status": "200"}
    assert (
        counter(text, "nnscratch_requests_total", **health)
        == counter(before, "nnscratch_requests_total", **health) + 1
    )
    assert counter(text, "nnscratch_requests_total", route="/metrics", status="200") == 1
    assert counter(text, "nnscratch_request_seconds_count", route="/predict") == 28
    assert counter(text, "nnscratch_rows_predicted_total") == 25
    info = re.search(r"^nnscratch_model_info\{(.*)\} 1\.0$", text, re.MULTILINE)
    assert info and 'task="regression"' in info.group(1) and 'model="popularity"' in info.group(1)


def test_two_workers_serve_and_metrics_add_them_up(
    models: dict[str, Path], rows: list[dict]
) -> None:
    with running_server(models["popularity"], "--workers", "2") as url:
        expected = [post_json(url, "/predict", {"rows": [r]})["predictions"] for r in rows[:4]]
        for _ in range(5):  # many connections: both workers answer some
            for r, want in zip(rows[:4], expected, strict=True):
                assert post_json(url, "/predict", {"rows": [r]})["predictions"] == want
        text = scrape(url)
    assert counter(text, "nnscratch_requests_total", route="/predict", status="200") == 24


# --------------------------------------------------------------------------- the V2 protocol


def test_open_inference_protocol_metadata_and_health(models: dict[str, Path]) -> None:
    api = TestClient(create_app(models["popularity"]))
    assert api.get("/v2/health/live").json() == {"live": True}
    assert api.get("/v2/health/ready").json() == {"ready": True}
    assert api.get("/v2").json()["name"] == "nnscratch"
    meta = api.get("/v2/models/popularity").json()
    assert meta["name"] == "popularity" and meta["versions"] == ["1"]
    inputs = {i["name"]: i for i in meta["inputs"]}
    assert inputs["danceability"] == {"name": "danceability", "datatype": "FP64", "shape": [-1]}
    assert inputs["release_date"]["datatype"] == "BYTES"
    assert meta["outputs"] == [{"name": "predictions", "datatype": "FP64", "shape": [-1]}]
    missing = api.get("/v2/models/other")
    assert missing.status_code == 404 and "serves 'popularity'" in missing.json()["error"]


def test_open_inference_protocol_infer_gives_the_numbers_of_predict(
    models: dict[str, Path], rows: list[dict]
) -> None:
    api = TestClient(create_app(models["popularity"]))
    chosen = rows[:6]
    predicted = api.post("/predict", json={"rows": chosen}).json()["predictions"]
    meta = api.get("/v2/models/popularity").json()
    inputs = []
    for spec in meta["inputs"]:
        data = [r[spec["name"]] for r in chosen]
        if spec["datatype"] == "BYTES":
            data = [str(v) for v in data]
        inputs.append(
            {
                "name": spec["name"],
                "shape": [len(chosen)],
                "datatype": spec["datatype"],
                "data": data,
            }
        )
    answer = api.post("/v2/models/popularity/infer", json={"id": "42", "inputs": inputs})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["id"] == "42" and body["model_name"] == "popularity"
    [output] = body["outputs"]
    assert output == {"name": "predictions", "shape": [6], "datatype": "FP64", "data": predicted}


def test_open_inference_protocol_takes_the_features_as_one_tensor(
    models: dict[str, Path], rows: list[dict]
) -> None:
    """The model's numeric inputs as one ``features`` tensor ``[rows, inputs]`` (FP32) and
    each categorical column as a BYTES tensor: the numbers of ``/predict``."""
    from nnscratch.data.features import DERIVED_FEATURES, add_derived_features
    from nnscratch.data.tracks import year_from_release_date

    api = TestClient(create_app(models["popularity"]))
    chosen = rows[:5]
    predicted = api.post("/predict", json={"rows": chosen}).json()["predictions"]
    features = api.get("/model").json()["features"]
    frame = add_derived_features(
        pd.DataFrame(chosen), [f for f in features if f in DERIVED_FEATURES]
    )
    if "year" not in frame:  # a file gives the year by its release date
        frame["year"] = year_from_release_date(frame["release_date"])
    X = frame[features].astype(float).to_numpy()
    categorical = [
        i["name"]
        for i in api.get("/v2/models/popularity").json()["inputs"]
        if i["datatype"] == "BYTES"
        and i["name"] in frame
        and i["name"] not in ("release_date", "name", "artists")
    ]
    inputs = [{"name": "features", "shape": list(X.shape), "datatype": "FP32", "data": X.tolist()}]
    inputs += [
        {"name": c, "shape": [len(chosen)], "datatype": "BYTES", "data": [str(v) for v in frame[c]]}
        for c in categorical
    ]
    answer = api.post("/v2/models/popularity/infer", json={"inputs": inputs})
    assert answer.status_code == 200, answer.text
    # FP32 rounds the features (a relative 6e-8), which may move a 2-decimal answer by 0.01
    assert answer.json()["outputs"][0]["data"] == pytest.approx(predicted, abs=0.011)
    wrong = [{"name": "features", "shape": [5, 2], "datatype": "FP32", "data": [0.0] * 10}]
    refused = api.post("/v2/models/popularity/infer", json={"inputs": wrong})
    assert (
        refused.status_code == 400
        and f"features must be (rows, {len(features)})" in (refused.json()["error"])
    )


def test_open_inference_protocol_on_digits_with_the_specs_request_forms(
    models: dict[str, Path],
) -> None:
    """The protocol's own forms: data flat (row-major) or nested, an ``id`` echoed, a
    ``parameters`` field ignored; errors as ``{"error": ...}``."""
    api = TestClient(create_app(models["digits"]))
    from sklearn.datasets import load_digits

    images = (load_digits().images[:3] / 16).astype(float)
    flat = {
        "name": "pixels",
        "shape": [3, 64],
        "datatype": "FP32",
        "data": images.ravel().tolist(),
        "parameters": {"content_type": "np"},
    }
    nested = dict(flat, shape=[3, 8, 8], data=images.tolist())
    by_predict = api.post("/predict", json={"images": images.reshape(3, -1).tolist()}).json()
    for tensor in (flat, nested):
        answer = api.post("/v2/models/digits/infer", json={"id": "a", "inputs": [tensor]})
        assert answer.status_code == 200, answer.text
        outputs = {o["name"]: o for o in answer.json()["outputs"]}
        assert outputs["predictions"]["data"] == by_predict["predictions"]
        assert outputs["predictions"]["datatype"] == "INT64"
        assert outputs["probabilities"]["shape"] == [3, 10]
        assert (
            np.reshape(outputs["probabilities"]["data"], (3, 10)).tolist()
            == by_predict["probabilities"]
        )
    for bad, fragment in (
        ({"inputs": [dict(flat, shape=[3, 60])]}, "needs 180 values, data has 192"),
        ({"inputs": [dict(flat, datatype="FP128")]}, "datatype 'FP128'"),
        ({"inputs": [dict(flat, name="input0")]}, "the input is 'pixels'"),
        ({"input": []}, "an inference request is"),
    ):
        answer = api.post("/v2/models/digits/infer", json=bad)
        assert 400 <= answer.status_code < 500 and fragment in answer.json()["error"], bad


def test_binary_tensor_data_both_ways_versions_and_the_protocols_errors(
    models: dict[str, Path],
) -> None:
    """Triton's binary tensor data extension as the bytes go (the Triton client's own
    session is tests/test_serve_clients.py): pixels as FP32 bytes after the JSON, the
    outputs back as bytes; the routes under /versions/1; every malformed framing, another
    version, route or method gets the protocol's {"error"} naming it."""
    from sklearn.datasets import load_digits

    api = TestClient(create_app(models["digits"]))
    pixels = (load_digits().images[:3] / 16).reshape(3, 64).astype(np.float32)
    by_predict = api.post("/predict", json={"images": pixels.astype(float).tolist()}).json()

    def infer(head: dict, data: bytes, path: str = "/v2/models/digits/infer", **headers: str):
        text = json.dumps(head).encode()
        headers = {"Inference-Header-Content-Length": str(len(text))} | headers
        return api.post(path, content=text + data, headers=headers)

    tensor = {
        "name": "pixels",
        "shape": [3, 64],
        "datatype": "FP32",
        "parameters": {"binary_data_size": pixels.nbytes},
    }
    request = {"inputs": [tensor], "parameters": {"binary_data_output": True}}
    answer = infer(request, pixels.tobytes(), "/v2/models/digits/versions/1/infer")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/octet-stream"
    length = int(answer.headers["inference-header-content-length"])
    head, data = json.loads(answer.content[:length]), answer.content[length:]
    labels, probabilities = head["outputs"]
    assert labels["parameters"]["binary_data_size"] == 3 * 8 and labels["datatype"] == "INT64"
    assert np.frombuffer(data[:24], "<i8").tolist() == by_predict["predictions"]
    got = np.frombuffer(data[24:], "<f8").reshape(3, 10).tolist()
    assert got == by_predict["probabilities"] and probabilities["shape"] == [3, 10]
    one = dict(request, outputs=[{"name": "probabilities", "parameters": {"binary_data": False}}])
    [only] = infer(one, pixels.tobytes()).json()["outputs"]
    assert only["name"] == "probabilities" and "parameters" not in only

    assert api.get("/v2/models/digits/versions/1/ready").json() == {"name": "digits", "ready": True}
    assert api.get("/v2/models/digits/versions/1").json()["versions"] == ["1"]
    short = dict(tensor, parameters={"binary_data_size": 12})
    for status, response, fragment in [
        (
            400,
            infer(request, pixels.tobytes(), **{"Inference-Header-Content-Length": "x1"}),
            "the Inference-Header-Content-Length header must be the length",
        ),
        (
            400,
            infer(request, b"", **{"Inference-Header-Content-Length": "99999"}),
            "says the JSON part is 99,999 bytes, but the body is",
        ),
        (
            400,
            infer(request, pixels.tobytes() + b"!"),
            "769 bytes after its JSON part; the inputs' binary_data_size add up to 768",
        ),
        (
            400,
            infer(dict(request, inputs=[short]), pixels.tobytes()[:12]),
            "192 FP32 values are 768 bytes, its binary_data_size is 12",
        ),
        (
            400,
            infer(dict(request, inputs=[dict(tensor, data=[0])]), pixels.tobytes()),
            "has both data and a binary_data_size",
        ),
        (
            400,
            infer(dict(request, outputs=[{"name": "logits"}]), pixels.tobytes()),
            "outputs[0]: no output 'logits'; the model's are predictions, probabilities",
        ),
        (
            404,
            infer(request, pixels.tobytes(), "/v2/models/digits/versions/2/infer"),
            "model 'digits' has no version '2'; it serves version '1'",
        ),
        (404, api.get("/v2/models/digits/versions/7/ready"), "has no version '7'"),
        (404, api.get("/v2/models/digits/versions"), "Not Found: GET /v2/models/digits/versions"),
        (405, api.delete("/v2/models/digits/infer"), "Method Not Allowed"),
    ]:
        assert response.status_code == status, response.text
        assert fragment in response.json()["error"], response.json()
    assert api.delete("/v2/models/digits/infer").headers["allow"] == "POST"


# --------------------------------------------------------------------------- hostile bodies


def test_the_four_bodies_that_once_got_a_5xx(models: dict[str, Path]) -> None:
    api = TestClient(create_app(models["popularity"]))
    nested = api.post(
        "/predict", content=b"[" * 200_000, headers={"content-type": "application/json"}
    )
    assert nested.status_code == 400 and "nested too deeply" in nested.json()["detail"]
    digits = api.post(
        "/predict",
        content=b'{"rows": [{"tempo": ' + b"9" * 5000 + b"}]}",
        headers={"content-type": "application/json"},
    )
    assert digits.status_code == 400 and "not valid JSON" in digits.json()["detail"]
    header = ",".join(f"c{i}" for i in range(50_000)) + "\n" + ",".join("1" * 50_000) + "\n"
    started = time.perf_counter()
    wide = api.post("/predict", content=header.encode(), headers={"content-type": "text/csv"})
    assert time.perf_counter() - started < 1.0
    assert wide.status_code == 422 and "50,000 columns; the limit is 1,000" in wide.json()["detail"]
    assert api.get("/health").status_code == 200


def test_a_value_far_outside_the_training_range_is_refused_by_name(
    models: dict[str, Path], rows: list[dict]
) -> None:
    """A tempo of 1e300 overflowed the float32 network (no finite answer: a 500). A value
    further than FAR_OUTSIDE_TRAINING training ranges out is refused by name, as JSON rows
    and as a tensor, and skipped with the reason in a CSV; one at the bound is answered."""
    from nnscratch.models.requests import value_bounds

    api = TestClient(create_app(models["popularity"]))
    pre = loaded(models["popularity"]).serving.preprocessing
    highest = float(value_bounds(pre)[1][pre.features.index("tempo")])
    far = dict(rows[0], tempo=1e300)
    refused = api.post("/predict", json=[far])
    assert refused.status_code == 422
    assert (
        "row 0: 'tempo' = 1e+300 is too far outside the training range ("
        in (refused.json()["detail"])
    )
    at_bound = api.post("/predict", json=[dict(rows[0], tempo=highest)])
    assert at_bound.status_code == 200, at_bound.text
    assert 0 <= at_bound.json()["predictions"][0] <= 100
    tensor = [{"name": "tempo", "shape": [1], "datatype": "FP64", "data": [1e300]}]
    tensors = tensor + [
        {
            "name": name,
            "shape": [1],
            "datatype": "BYTES" if isinstance(v, str) else "FP64",
            "data": [v],
        }
        for name, v in rows[0].items()
        if name in {i["name"] for i in pre_inputs(api)} - {"tempo"}
    ]
    v2 = api.post("/v2/models/popularity/infer", json={"inputs": tensors})
    assert v2.status_code == 422 and "'tempo' = 1e+300 is too far outside" in v2.json()["error"]
    csv = pd.DataFrame([rows[1], far]).to_csv(index=False)
    answer = api.post("/predict", content=csv, headers={"content-type": "text/csv"}).json()
    assert answer["rows"] == [0] and answer["skipped"][0]["row"] == 1
    assert "is too far outside the training range" in answer["skipped"][0]["reason"]


def pre_inputs(api: TestClient) -> list[dict]:
    return api.get("/model").json()["inputs"]


def test_an_upload_over_the_limit_in_one_go_gets_its_413_every_time(
    models: dict[str, Path],
) -> None:
    """40 MB sent at once (Python's urllib), 20 times: each gets the 413, never a reset."""
    body = b"x" * 40_000_000
    with running_server(models["popularity"]) as url:
        for _ in range(20):
            try:
                urllib.request.urlopen(
                    urllib.request.Request(
                        url + "/predict", data=body, headers={"content-type": "text/csv"}
                    ),
                    timeout=60,
                )
                raise AssertionError("a 40 MB body was accepted")
            except urllib.error.HTTPError as error:  # the answer, read: not a reset
                assert error.code == 413
                assert "the limit is 4,194,304" in json.loads(error.read())["detail"]
        assert request(url, "GET", "/health")[0] == 200


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)


@pytest.fixture(scope="module")
def fuzz_client(models: dict[str, Path]) -> TestClient:
    return TestClient(create_app(models["popularity"]), raise_server_exceptions=False)


FUZZ = {"deadline": None, "suppress_health_check": [HealthCheck.function_scoped_fixture]}


@settings(max_examples=150, **FUZZ)
@given(payload=JSON | st.fixed_dictionaries({"rows": st.lists(JSON, max_size=4)}))
def test_arbitrary_json_never_gets_a_5xx(fuzz_client: TestClient, payload: object) -> None:
    answer = fuzz_client.post(
        "/predict",
        content=json.dumps(payload).encode(),
        headers={"content-type": "application/json"},
    )
    assert answer.status_code < 500, (payload, answer.text)
    v2 = fuzz_client.post("/v2/models/popularity/infer", content=json.dumps(payload).encode())
    assert v2.status_code < 500, (payload, v2.text)


@settings(max_examples=100, **FUZZ)
@given(
    body=st.binary(max_size=300),
    kind=st.sampled_from(
        ["application/json", "text/csv", "image/png", "text/plain", "application/octet-stream"]
    ),
)
def test_arbitrary_bytes_never_get_a_5xx(fuzz_client: TestClient, body: bytes, kind: str) -> None:
    answer = fuzz_client.post("/predict", content=body, headers={"content-type": kind})
    assert answer.status_code < 500, (body, answer.text)
    assert fuzz_client.get("/health").status_code == 200
