"""``nnscratch playground``'s server: settings, sessions, the event stream, the model.

The page itself is driven in a real browser in ``tests/test_playground_browser.py``.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serving import app_in_thread, raw_status, request, running_command
from test_cli import SCRIPT, run

from nnscratch.data.toys import TOY_SETS, make_toy

pytest.importorskip("fastapi", reason="nnscratch[serve] not installed (fastapi, uvicorn)")
from starlette.testclient import TestClient

from nnscratch.app.playground.server import Sessions, Settings, build_playground


def open_stream(url: str, session_id: str) -> tuple[http.client.HTTPConnection, object]:
    connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=30)
    connection.request("GET", f"/api/sessions/{session_id}/events")
    answer = connection.getresponse()
    assert answer.status == 200 and answer.headers["content-type"].startswith("text/event-stream")
    return connection, answer


def next_event(answer: object) -> dict:
    """The next event's data (comments and blank lines skipped)."""
    while True:
        line = answer.fp.readline().decode()  # type: ignore[attr-defined]
        assert line, "the stream ended"
        if line.startswith("data: "):
            return json.loads(line[6:])


@pytest.mark.parametrize("name", TOY_SETS)
def test_toy_sets_are_seeded_and_split_in_halves(name: str) -> None:
    a, b = make_toy(name, 0.1, seed=3), make_toy(name, 0.1, seed=3)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert abs(len(a.y_train) - len(a.y_val)) <= 1
    assert a.classification == (name != "curve")
    if name != "digits":
        assert not np.array_equal(a.X_train, make_toy(name, 0.1, seed=4).X_train)
        assert np.abs(a.X_train).max() < 2


def test_bad_settings_are_a_422_naming_the_field() -> None:
    client = TestClient(build_playground(Sessions(limit=50)))
    cases = {
        "hidden": {"hidden": [8] * 9}, "lr": {"lr": -1}, "data": {"data": "mnist"},
        "batch": {"batch": 2.5}, "activation": {"activation": "softmax"},
        "nonsense": {"nonsense": 1}, "epochs": {"epochs": True},
    }  # fmt: skip
    for field, body in cases.items():
        answer = client.post("/api/sessions", json=body)
        assert answer.status_code == 422 and answer.json()["detail"].startswith(f"{field}:"), body
    assert client.post("/api/sessions", content=b"{").status_code == 400
    assert client.post("/api/sessions", json=[1]).status_code == 422


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.dictionaries(
    st.sampled_from(["data", "noise", "hidden", "activation", "init", "optimizer", "lr", "batch",
                     "l2", "dropout", "epochs", "target_loss", "seed", "x"]),
    st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
              st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
              st.lists(st.integers(-5, 300), max_size=10)),
    max_size=6))  # fmt: skip
def test_fuzzed_settings_never_get_a_5xx(body: dict) -> None:
    sessions = Sessions(limit=1000)
    client = TestClient(build_playground(sessions), raise_server_exceptions=False)
    answer = client.post("/api/sessions", content=json.dumps(body).encode())
    assert answer.status_code in (201, 400, 422), (body, answer.text)
    if answer.status_code == 201:
        sessions.close(answer.json()["id"])


def test_four_sessions_train_at_once_a_fifth_gets_429_and_a_closed_page_stops_its_training() -> (
    None
):
    sessions = Sessions(limit=4, max_seconds=60)
    app = build_playground(sessions)
    body = json.dumps({"data": "spirals", "hidden": [32, 32], "batch": 8, "epochs": 5000}).encode()
    with app_in_thread(app) as url:
        streams, ids = [], []
        for _ in range(4):
            status, answer = request(url, "POST", "/api/sessions", body)
            assert status == 201
            ids.append(answer["id"])
            streams.append(open_stream(url, answer["id"]))
            assert next_event(streams[-1][1])["type"] == "hello"
            assert request(url, "POST", f"/api/sessions/{ids[-1]}/start")[0] == 200
        for _, answer in streams:  # all four are training
            assert next_event(answer)["type"] == "epoch"
        status, refused = request(url, "POST", "/api/sessions", body)
        assert status == 429 and "4 sessions are training already" in refused["detail"]
        first = sessions.get(ids[0])
        streams[0][0].close()  # the page closes
        closed = time.monotonic()
        assert first.join(timeout=2.0), "training went on after its page closed"
        assert time.monotonic() - closed < 2.0
        assert all(not sessions.get(i).finished for i in ids[1:])  # the others go on
        assert request(url, "POST", "/api/sessions", body)[0] == 201  # a place is free
        for connection, _ in streams[1:]:
            connection.close()


def test_start_pause_step_and_the_events_an_epoch_carries() -> None:
    sessions = Sessions(limit=4)
    app = build_playground(sessions)
    body = json.dumps({"data": "xor", "hidden": [6, 6], "epochs": 40}).encode()
    with app_in_thread(app) as url:
        _, opened = request(url, "POST", "/api/sessions", body)
        sid = opened["id"]
        connection, answer = open_stream(url, sid)
        hello = next_event(answer)
        assert hello["settings"]["hidden"] == [6, 6] and len(hello["points"]["X"]) == 300
        assert request(url, "POST", f"/api/sessions/{sid}/step")[0] == 200
        event = next_event(answer)
        assert event["epoch"] == 1 and [h["epoch"] for h in event["history"]] == [1]
        assert {"train_loss", "val_loss", "val_accuracy"} <= set(event["history"][0])
        assert len(event["boundary"]) == 48 * 48 and np.array(event["confusion"]).sum() == 300
        assert [len(w) for w in event["weights"]] == [6, 6, 1]
        assert [layer["layer"] for layer in event["layers"]] == [1, 2, 3]
        time.sleep(0.3)
        assert sessions.get(sid).state == "paused" and sessions.get(sid).events.empty()
        assert request(url, "POST", f"/api/sessions/{sid}/start")[0] == 200
        epochs = []
        while True:
            event = next_event(answer)
            if event["type"] == "done":
                break
            epochs += [h["epoch"] for h in event["history"]]
        assert epochs == list(range(2, 41)) and event["reason"] == "reached the epochs asked for"
        status, error = request(url, "POST", f"/api/sessions/{sid}/start")
        assert status == 409 and "finished" in error["detail"]
        assert request(url, "POST", f"/api/sessions/{sid}/jump")[0] == 404
        connection.close()


def test_the_downloaded_digits_model_predicts_what_the_page_showed(tmp_path: Path) -> None:
    """The page's confusion matrix on the validation digits, against ``nnscratch predict``
    with the downloaded model on the same digits written as PNG files."""
    from PIL import Image

    sessions = Sessions(limit=4)
    body = json.dumps({"data": "digits", "hidden": [32], "batch": 64, "epochs": 15}).encode()
    with app_in_thread(build_playground(sessions)) as url:
        _, opened = request(url, "POST", "/api/sessions", body)
        sid = opened["id"]
        connection, answer = open_stream(url, sid)
        next_event(answer)
        request(url, "POST", f"/api/sessions/{sid}/start")
        shown = None
        while (event := next_event(answer))["type"] != "done":
            shown = event.get("confusion", shown)
        host = http.client.HTTPConnection(url.removeprefix("http://"), timeout=30)
        host.request("GET", f"/api/sessions/{sid}/model")
        download = host.getresponse()
        assert download.status == 200
        (tmp_path / "model.npz").write_bytes(download.read())
        connection.close()
    data = make_toy("digits", seed=0)
    folder = tmp_path / "digits"
    folder.mkdir()
    for i, pixels in enumerate(data.X_val):
        image = np.round(pixels.reshape(8, 8) * 255).astype(np.uint8)
        Image.fromarray(image, mode="L").save(folder / f"{i:04d}.png")
    out = tmp_path / "predicted.csv"
    result = run("predict", "--model", str(tmp_path / "model.npz"), "--data", str(folder),
                 "--out", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    predicted = pd.read_csv(out)["label"].to_numpy()
    matrix = np.zeros((10, 10), dtype=int)
    np.add.at(matrix, (data.y_val, predicted), 1)
    assert shown is not None and matrix.tolist() == shown
    assert np.trace(matrix) / matrix.sum() > 0.8  # and it learned something


def test_settings_defaults_are_what_the_page_starts_with() -> None:
    page = Path(__file__).resolve().parents[1] / "src/nnscratch/app/playground/page.html"
    text = page.read_text()
    defaults = Settings()
    assert f'["hidden", "hidden layers", "{",".join(map(str, defaults.hidden))}"]' in text
    assert f'["lr", "learning rate", "{defaults.lr}"]' in text
    assert f'["epochs", "epochs", "{defaults.epochs}"]' in text


def test_the_command_serves_the_page(tmp_path: Path) -> None:
    """``nnscratch playground``, as the README runs it: the page, its API, its docs links,
    and ``--data`` offered as the data set ``file``."""
    from nnscratch.data.synthetic import make_tracks

    make_tracks(400, seed=2).to_csv(tmp_path / "tracks.csv", index=False)
    args = ("playground", "--max-sessions", "2", "--data", str(tmp_path / "tracks.csv"))
    with running_command(*args, health="/") as url:
        host = http.client.HTTPConnection(url.removeprefix("http://"), timeout=10)
        host.request("GET", "/")
        page = host.getresponse().read().decode()
        assert "<title>nnscratch — playground</title>" in page and "EventSource" in page
        assert raw_status(url, "/docs/2-init.md") == 200
        assert raw_status(url, "/docs/../pyproject.toml") == 404
        status, opened = request(url, "POST", "/api/sessions", b'{"data": "circles"}')
        assert status == 201 and len(opened["id"]) == 32
        _, opened = request(url, "POST", "/api/sessions", b'{"data": "file", "epochs": 2}')
        _, answer = open_stream(url, opened["id"])
        assert next_event(answer)["source"] == str(tmp_path / "tracks.csv")
    result = run("playground", "--data", str(tmp_path / "missing.csv"))
    assert result.returncode == 2 and "missing.csv: no such file" in result.stderr


def test_train_watch_streams_the_run_to_a_read_only_page() -> None:
    """``nnscratch train --watch PORT``: the page in its read-only form, and the run's events
    (hello, one epoch event per epoch of the first member with its telemetry, done)."""
    from serving import free_port

    port = free_port()
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "nnscratch"]
    process = subprocess.Popen(
        [*command, "train", "--epochs", "12", "--telemetry", "10", "--watch", str(port),
         "--quiet", "--out", str(Path(tempfile.mkdtemp()) / "run")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if raw_status(url, "/health") == 200:
                    break
            except OSError:
                pass
            assert process.poll() is None, process.stdout.read()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the watch page did not come up"
            time.sleep(0.1)
        host = http.client.HTTPConnection(url.removeprefix("http://"), timeout=10)
        host.request("GET", "/")
        assert 'data-watch="1"' in host.getresponse().read().decode()
        _, answer = open_watch(url)
        events = []
        while not events or events[-1]["type"] != "done":
            events.append(next_event(answer))
    finally:
        output = process.communicate(timeout=120)[0]
    assert process.returncode == 0, output
    assert f"watch it at http://127.0.0.1:{port}/" in output
    assert events[0]["type"] == "hello" and events[0]["watch"] is True
    epochs = [e for e in events if e["type"] == "epoch"]
    assert [e["epoch"] for e in epochs] == list(range(1, 13))
    assert all("train_loss" in e["history"][0] and "val_loss" in e["history"][0] for e in epochs)
    with_layers = [e for e in epochs if e.get("layers")]
    assert with_layers and all(len(e["layers"]) == 4 for e in with_layers)
    assert all(layer["grad_rms"] > 0 for e in with_layers for layer in e["layers"])


def open_watch(url: str) -> tuple[http.client.HTTPConnection, object]:
    connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=60)
    connection.request("GET", "/api/watch/events")
    answer = connection.getresponse()
    assert answer.status == 200
    return connection, answer


def test_the_built_in_sample_trains_as_nnscratch_train_does(tmp_path: Path) -> None:
    """The tracks data trains through its task; its model, downloaded, is the file
    ``nnscratch predict`` reads, and its last validation RMSE is the one the page showed."""
    from nnscratch.data.synthetic import make_tracks
    from nnscratch.tasks.registry import load_model

    sessions = Sessions(limit=4)
    body = json.dumps({"data": "sample", "hidden": [16, 8], "batch": 128, "epochs": 4}).encode()
    with app_in_thread(build_playground(sessions)) as url:
        status, error = request(url, "POST", "/api/sessions", b'{"data": "file"}')
        assert status == 422 and "--data" in error["detail"]
        _, opened = request(url, "POST", "/api/sessions", body)
        sid = opened["id"]
        connection, answer = open_stream(url, sid)
        hello = next_event(answer)
        assert hello["source"] == "the built-in synthetic sample" and hello["points"] is None
        request(url, "POST", f"/api/sessions/{sid}/start")
        history = []
        while (event := next_event(answer))["type"] != "done":
            history += event["history"]
            assert all(layer["grad_rms"] > 0 for layer in event.get("layers", []))
        assert [h["epoch"] for h in history] == [1, 2, 3, 4], event
        host = http.client.HTTPConnection(url.removeprefix("http://"), timeout=30)
        host.request("GET", f"/api/sessions/{sid}/model")
        (tmp_path / "model.npz").write_bytes(host.getresponse().read())
        connection.close()
    model = load_model(tmp_path / "model.npz")
    assert model.history.val_rmse[-1] == history[-1]["val_rmse"]
    make_tracks(300, seed=8).to_csv(tmp_path / "new.csv", index=False)
    out = tmp_path / "predicted.csv"
    result = run("predict", "--model", str(tmp_path / "model.npz"), "--data",
                 str(tmp_path / "new.csv"), "--out", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    expected = model.predict_file(str(tmp_path / "new.csv")).frame
    pd.testing.assert_frame_equal(pd.read_csv(out), expected, check_dtype=False)
