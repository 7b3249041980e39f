"""``nnscratch playground``'s server: settings, sessions, the event stream, the model.

The page itself is driven in a real browser in ``tests/test_playground_browser.py``.
"""

from __future__ import annotations

import dataclasses
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
from serving import (
    launched,
    playground_in_thread,
    raw_status,
    request,
    running_command,
)
from test_cli import SCRIPT, run

from nnscratch.data.toys import TOY_SETS, make_toy

pytest.importorskip("fastapi", reason="nnscratch[serve] not installed (fastapi, uvicorn)")
pytest.importorskip("sse_starlette", reason="nnscratch[serve] not installed (sse-starlette)")
from starlette.testclient import TestClient

from nnscratch.app.playground.server import Sessions, Settings, build_playground
from nnscratch.app.playground.sessions import Caps

#: every setting the page's address holds, in the settings' order
SETTING_NAMES = [f.name for f in dataclasses.fields(Settings)]


def open_stream(url: str, session_id: str) -> tuple[http.client.HTTPConnection, object]:
    connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=30)
    connection.request("GET", f"/api/sessions/{session_id}/events")
    answer = connection.getresponse()
    assert answer.status == 200 and answer.headers["content-type"].startswith("text/event-stream")
    return connection, answer


def next_event(answer: object, skip: tuple[str, ...] = ("state",)) -> dict:
    """The next event's data (comments, blank lines and events of the types ``skip``ped
    left out), with its number as ``"_id"``."""
    number = None
    while True:
        line = answer.fp.readline().decode()  # type: ignore[attr-defined]
        assert line, "the stream ended"
        if line.startswith("id: "):
            number = int(line[4:])
        if line.startswith("data: "):
            event = json.loads(line[6:])
            if event["type"] not in skip:
                return event | {"_id": number}


def started(url: str, body: bytes) -> tuple[str, http.client.HTTPConnection, object]:
    """A session opened with ``body``, its stream (its hello read) and ``start`` sent."""
    status, opened = request(url, "POST", "/api/sessions", body)
    assert status == 201, opened
    connection, answer = open_stream(url, opened["id"])
    assert next_event(answer)["type"] == "hello"
    assert request(url, "POST", f"/api/sessions/{opened['id']}/start")[0] == 200
    return opened["id"], connection, answer


def until_done(answer: object) -> tuple[list[dict], dict]:
    """The epoch events up to the end of the stream, and its ``done`` event."""
    epochs = []
    while (event := next_event(answer))["type"] != "done":
        epochs.append(event)
    return epochs, event


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
        "hidden": {"hidden": [8] * 9},
        "lr": {"lr": -1},
        "data": {"data": "mnist"},
        "batch": {"batch": 2.5},
        "activation": {"activation": "softmax"},
        "nonsense": {"nonsense": 1},
        "epochs": {"epochs": True},
    }
    for field, body in cases.items():
        answer = client.post("/api/sessions", json=body)
        assert answer.status_code == 422 and answer.json()["detail"].startswith(f"{field}:"), body
    assert client.post("/api/sessions", content=b"{").status_code == 400
    assert client.post("/api/sessions", json=[1]).status_code == 422


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.dictionaries(
        st.sampled_from([*SETTING_NAMES, "x"]),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(-(10**12), 10**12),
            st.floats(allow_nan=True, allow_infinity=True),
            st.text(max_size=12),
            st.lists(st.integers(-5, 300), max_size=10),
        ),
        max_size=6,
    )
)
def test_fuzzed_settings_never_get_a_5xx(body: dict) -> None:
    sessions = Sessions(limit=1000)
    client = TestClient(build_playground(sessions), raise_server_exceptions=False)
    answer = client.post("/api/sessions", content=json.dumps(body).encode())
    assert answer.status_code in (201, 400, 422), (body, answer.text)
    if answer.status_code == 201:
        sessions.close(answer.json()["id"])


def test_four_sessions_train_at_once_a_fifth_waits_and_a_closed_page_stops_its_training() -> None:
    """Slots count training threads: four sessions train, a fifth opens (201) but its
    start is a 429 naming the limit; a page that closes (its stream gone for the detached
    cap) stops its training within an epoch, and the fifth starts."""
    sessions = Sessions(limit=4, caps=Caps(running=60, detached=0.5))
    body = json.dumps({"data": "spirals", "hidden": [32, 32], "batch": 8, "epochs": 5000}).encode()
    with playground_in_thread(sessions) as url:
        streams, ids = [], []
        for _ in range(5):
            status, answer = request(url, "POST", "/api/sessions", body)
            assert status == 201 and answer["state"] == "created"
            ids.append(answer["id"])
            streams.append(open_stream(url, answer["id"]))
            assert next_event(streams[-1][1])["type"] == "hello"
        for sid in ids[:4]:
            assert request(url, "POST", f"/api/sessions/{sid}/start")[0] == 200
        for _, answer in streams[:4]:  # all four are training
            assert next_event(answer)["type"] == "epoch"
        status, refused = request(url, "POST", f"/api/sessions/{ids[4]}/start")
        assert status == 429 and "4 sessions are training already" in refused["detail"]
        assert sessions.slots_used == 4
        first = sessions.get(ids[0])
        streams[0][0].close()  # the page closes
        closed = time.monotonic()
        while first.holds_slot:
            assert time.monotonic() - closed < 10, "training went on after its page closed"
            time.sleep(0.05)
        assert first.state == "closed" and raw_status(url, f"/api/sessions/{ids[0]}") == 404
        assert all(sessions.get(i).state == "running" for i in ids[1:4])  # the others go on
        assert request(url, "POST", f"/api/sessions/{ids[4]}/start")[0] == 200  # a slot is free
        for sid in ids[1:]:
            assert request(url, "DELETE", f"/api/sessions/{sid}")[0] == 204
        for connection, _ in streams[1:]:
            connection.close()


def test_start_pause_step_and_the_events_an_epoch_carries() -> None:
    sessions = Sessions(limit=4)
    body = json.dumps({"data": "xor", "hidden": [6, 6], "epochs": 40}).encode()
    with playground_in_thread(sessions) as url:
        _, opened = request(url, "POST", "/api/sessions", body)
        sid = opened["id"]
        connection, answer = open_stream(url, sid)
        hello = next_event(answer)
        assert hello["settings"]["hidden"] == [6, 6] and len(hello["points"]["X"]) == 300
        assert hello["_id"] == 0 and hello["catchup"] == [] and hello["state"] == "created"
        status, stepped = request(url, "POST", f"/api/sessions/{sid}/step")
        assert status == 200 and stepped["state"] == "running" and stepped["pausing"]
        assert next_event(answer, skip=())["state"] == "running"
        event = next_event(answer)
        assert event["epoch"] == 1 and [h["epoch"] for h in event["history"]] == [1]
        assert {"train_loss", "val_loss", "val_accuracy"} <= set(event["history"][0])
        assert len(event["boundary"]) == 48 * 48 and np.array(event["confusion"]).sum() == 300
        assert [len(w) for w in event["weights"]] == [6, 6, 1]
        assert [layer["layer"] for layer in event["layers"]] == [1, 2, 3]
        paused = next_event(answer, skip=())
        assert paused["type"] == "state" and paused["state"] == "paused" and paused["epoch"] == 1
        assert request(url, "GET", f"/api/sessions/{sid}")[1]["state"] == "paused"
        assert sessions.get(sid).log.newest == paused["_id"]  # nothing more while paused
        assert request(url, "POST", f"/api/sessions/{sid}/start")[0] == 200
        epochs, done = until_done(answer)
        assert [h["epoch"] for e in epochs for h in e["history"]] == list(range(2, 41))
        assert done["reason"] == "reached the 40 epochs asked for" and done["epoch"] == 40
        assert [e["_id"] for e in epochs] == sorted({e["_id"] for e in epochs})
        status, error = request(url, "POST", f"/api/sessions/{sid}/start")
        assert status == 409 and "finished" in error["detail"]
        assert request(url, "POST", f"/api/sessions/{sid}/jump")[0] == 404
        connection.close()


def test_a_reconnecting_page_gets_every_event_after_the_last_it_had_once() -> None:
    """``Last-Event-ID``: the events after it, none twice; a page that starts over gets one
    ``hello`` with the run so far; a page that had everything of a finished run, 204."""
    sessions = Sessions(limit=4)
    body = json.dumps({"data": "moons", "hidden": [4], "epochs": 30, "batch": 50}).encode()
    with playground_in_thread(sessions) as url:
        sid, connection, answer = started(url, body)
        first = next_event(answer)
        connection.close()  # dropped mid-run; the run goes on
        again = http.client.HTTPConnection(url.removeprefix("http://"), timeout=30)
        again.request(
            "GET", f"/api/sessions/{sid}/events", headers={"Last-Event-ID": str(first["_id"])}
        )
        rest, done = until_done(again.getresponse())
        history = [h["epoch"] for e in [first, *rest] for h in e["history"]]
        assert history == list(range(1, 31)) and done["reason"] == "reached the 30 epochs asked for"
        _, over = open_stream(url, sid)  # a reload: everything in one event
        hello = next_event(over)
        assert hello["type"] == "hello" and hello["_id"] == done["_id"]
        replayed = [
            h["epoch"] for e in hello["catchup"] if e["type"] == "epoch" for h in e["history"]
        ]
        assert replayed == list(range(1, 31)) and hello["catchup"][-1]["type"] == "done"
        assert "weights" not in hello["catchup"][-2] and "weights" in hello["figures"]
        seen = http.client.HTTPConnection(url.removeprefix("http://"), timeout=30)
        seen.request(
            "GET", f"/api/sessions/{sid}/events", headers={"Last-Event-ID": str(done["_id"])}
        )
        assert seen.getresponse().status == 204  # a browser stops reconnecting


def test_the_downloaded_digits_model_predicts_what_the_page_showed(tmp_path: Path) -> None:
    """The page's confusion matrix on the validation digits, against ``nnscratch predict``
    with the downloaded model on the same digits written as PNG files."""
    from PIL import Image

    sessions = Sessions(limit=4)
    body = json.dumps({"data": "digits", "hidden": [32], "batch": 64, "epochs": 15}).encode()
    with playground_in_thread(sessions) as url:
        sid, connection, answer = started(url, body)
        epochs, _ = until_done(answer)
        shown = [e["confusion"] for e in epochs if "confusion" in e][-1]
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
    result = run(
        "predict", "--model", str(tmp_path / "model.npz"), "--data", str(folder), "--out", str(out)
    )
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
        [
            *command,
            "train",
            "--epochs",
            "12",
            "--telemetry",
            "10",
            "--watch",
            str(port),
            "--quiet",
            "--out",
            str(Path(tempfile.mkdtemp()) / "run"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
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
    ``nnscratch predict`` reads, and its last validation RMSE is the one the page showed.
    Its telemetry probes a fixed, full batch: 128 rows, never the epoch's last 17."""
    from nnscratch.data.synthetic import make_tracks
    from nnscratch.tasks.registry import load_model

    sessions = Sessions(limit=4)
    body = json.dumps({"data": "sample", "hidden": [16, 8], "batch": 128, "epochs": 4}).encode()
    with playground_in_thread(sessions) as url:
        status, error = request(url, "POST", "/api/sessions", b'{"data": "file"}')
        assert status == 422 and "--data" in error["detail"]
        _, opened = request(url, "POST", "/api/sessions", body)
        sid = opened["id"]
        connection, answer = open_stream(url, sid)
        hello = next_event(answer)
        assert hello["source"] == "the built-in synthetic sample" and hello["points"] is None
        request(url, "POST", f"/api/sessions/{sid}/start")
        epochs, done = until_done(answer)
        history = [h for event in epochs for h in event["history"]]
        assert all(layer["grad_rms"] > 0 for e in epochs for layer in e.get("layers", []))
        assert [h["epoch"] for h in history] == [1, 2, 3, 4], done
        drawn = [e["layers"] for e in epochs if "layers" in e]
        assert drawn and all(  # a histogram counts units × probe rows; 3,473 = 27 × 128 + 17
            [sum(layer["hist"]) for layer in layers] == [16 * 128, 8 * 128, 1 * 128]
            for layers in drawn
        )
        host = http.client.HTTPConnection(url.removeprefix("http://"), timeout=30)
        host.request("GET", f"/api/sessions/{sid}/model")
        (tmp_path / "model.npz").write_bytes(host.getresponse().read())
        connection.close()
    model = load_model(tmp_path / "model.npz")
    assert model.history.val_rmse[-1] == history[-1]["val_rmse"]
    make_tracks(300, seed=8).to_csv(tmp_path / "new.csv", index=False)
    out = tmp_path / "predicted.csv"
    result = run(
        "predict",
        "--model",
        str(tmp_path / "model.npz"),
        "--data",
        str(tmp_path / "new.csv"),
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    expected = model.predict_file(str(tmp_path / "new.csv")).frame
    pd.testing.assert_frame_equal(pd.read_csv(out), expected, check_dtype=False)


def test_ctrl_c_with_two_open_streams_stops_the_playground_at_once() -> None:
    """``nnscratch playground`` with two pages listening, one of them training: one Ctrl-C
    ends both streams cleanly and the command exits by itself (exit 0, no traceback).
    The issue's bound is 2 s; the time is printed, not asserted (a loaded machine)."""
    import signal

    process, url = launched("playground", health="/")
    try:
        streams = []
        for epochs in (5000, 300):
            body = json.dumps({"data": "spirals", "epochs": epochs}).encode()
            _, opened = request(url, "POST", "/api/sessions", body)
            streams.append(open_stream(url, opened["id"]))
            assert next_event(streams[-1][1])["type"] == "hello"
        request(url, "POST", f"/api/sessions/{opened['id']}/start")
        assert next_event(streams[-1][1])["type"] == "epoch"
        process.send_signal(signal.SIGINT)
        interrupted = time.monotonic()
        output = process.communicate(timeout=30)[0]
        took = time.monotonic() - interrupted
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    for _, answer in streams:  # both streams ended: what is left reads to its end
        while answer.fp.readline():  # type: ignore[attr-defined]
            pass
    assert process.returncode == 0, output
    assert "playground stopped" in output and "Traceback" not in output
    print(f"nnscratch playground stopped {took:.2f} s after Ctrl-C, two streams open")


def test_a_run_says_how_it_ended(tmp_path: Path) -> None:
    """Early stopping is said as such (when, after how many epochs without improvement,
    which weights are kept), never as "reached the epochs asked for"; a tracks run trains
    with ``nnscratch train``'s early stopping and says it stopped."""
    from nnscratch.app.playground.sources import TracksSource, how_it_ended
    from nnscratch.core.training import History
    from nnscratch.data.synthetic import make_tracks

    early = History(train_loss=[1.0] * 49, stopped_early=True, best_epoch=33)
    assert how_it_ended(early, 15, 300) == (
        "stopped early at epoch 49: validation loss had not improved for 15 epochs "
        "(the weights of epoch 34, its best, are kept)"
    )
    assert how_it_ended(History(train_loss=[1.0] * 300), 15, 300) == (
        "reached the 300 epochs asked for"
    )
    make_tracks(400, seed=2).to_csv(tmp_path / "tracks.csv", index=False)
    source = TracksSource(
        Settings(data="file", hidden=(8,), lr=0.05, epochs=500), str(tmp_path / "tracks.csv")
    )
    source.load()
    source.fit(())
    n = source.model.history.n_epochs
    assert n < 500 and source.ended().startswith(f"stopped early at epoch {n}: validation loss")


def test_a_digits_model_from_the_page_is_evaluated_on_images_it_never_saw(
    tmp_path: Path,
) -> None:
    """The page's digits are the command line's split for the same seed: the model it
    downloads, scored by ``nnscratch evaluate --data digits``, is scored on the test images
    of its own seed, none of which is among the page's training (or validation) images."""
    from nnscratch.app.playground.sources import ToySource
    from nnscratch.data.images import load_images
    from nnscratch.tasks.registry import load_model

    source = ToySource(Settings(data="digits", hidden=(16,), epochs=3, seed=3))
    source.fit(())
    source.save(tmp_path / "model.npz")
    model = load_model(tmp_path / "model.npz")
    assert model.seed == 3
    test = load_images("digits", model.seed).X_test
    seen = {row.tobytes() for row in np.round(np.r_[source.data.X_train, source.data.X_val] * 16)}
    assert len(seen) == 1797 - len(test)
    assert not seen & {row.tobytes() for row in np.round(test * 16)}
    result = run("evaluate", "--model", str(tmp_path / "model.npz"), "--data", "digits")
    assert result.returncode == 0, result.stderr
    assert "the test images of scikit-learn's bundled 8×8 digits" in result.stdout
