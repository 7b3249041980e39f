"""The live pages' server-sent events (``app/playground/stream.py``): numbered events, a
bounded replay window with a catch-up for a page that starts over, and JSON that a
browser can always parse."""

from __future__ import annotations

import json
import logging
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nnscratch.app.playground.stream import EventLog, last_event_id, next_messages, to_json


def epoch(n: int) -> dict:
    return {
        "type": "epoch",
        "epoch": n,
        "history": [{"epoch": n, "train_loss": 1 / n}],
        "layers": [{"layer": 1, "grad_rms": 0.1, "hist": [1, 2]}],
        "weights": [[[0.5]]],
    }


def hello() -> dict:
    return {"id": "s"}


def test_events_are_numbered_and_a_reconnection_gets_the_ones_after_its_last() -> None:
    log = EventLog(replay=4)
    assert [log.append(epoch(n)) for n in range(1, 4)] == [1, 2, 3]
    assert [n for n, _ in log.after(1)] == [2, 3] and log.after(3) == []
    for n in range(4, 7):
        log.append(epoch(n))
    assert [n for n, _ in log.after(2)] == [3, 4, 5, 6]  # the window keeps 3..6 whole
    assert log.after(1) is None  # 2 is no longer kept: start over
    assert log.after(7) is None and log.after(-1) is None  # never given out


def test_a_page_that_starts_over_gets_the_whole_run_light_and_the_newest_figures() -> None:
    log = EventLog(replay=2)
    for n in range(1, 6):
        log.append(epoch(n))
    log.append({"type": "state", "state": "paused"})
    messages, sent = next_messages(log, None, hello)
    assert sent == 6 and [n for n, _ in messages] == [6]
    first = messages[0][1]
    assert first["type"] == "hello" and first["id"] == "s"
    assert [e.get("epoch") for e in first["catchup"]] == [1, 2, 3, 4, 5, None]
    assert all("weights" not in e and "hist" not in e["layers"][0] for e in first["catchup"][:5])
    assert first["figures"]["epoch"] == 5 and first["figures"]["weights"] == [[[0.5]]]
    messages, _ = next_messages(log, 1, hello)  # too far behind the window: starts over too
    assert messages[0][1]["type"] == "hello"
    assert next_messages(log, 5, hello) == ([(6, {"type": "state", "state": "paused"})], 6)


@given(
    appended=st.integers(0, 30),
    replay=st.integers(1, 8),
    drops=st.lists(st.integers(0, 30), max_size=6),
)
def test_a_page_reconnecting_anywhere_has_every_epoch_once(
    appended: int, replay: int, drops: list[int]
) -> None:
    """However often the page drops and reconnects (with its last number), and however
    small the window, it ends with epochs 1..n, each once."""
    log = EventLog(replay=replay)
    epochs: list[int] = []
    last = None
    drops = sorted(set(drops))
    for n in range(1, appended + 1):
        log.append(epoch(n))
        if n in drops:
            continue  # the page was away for this one
        messages, last = next_messages(log, last, hello)
        for _, event in messages:
            if event["type"] == "hello":
                epochs = [e["epoch"] for e in event["catchup"]]
            else:
                epochs.append(event["epoch"])
    messages, last = next_messages(log, last, hello)
    for _, event in messages:
        epochs = (
            [e["epoch"] for e in event["catchup"]]
            if event["type"] == "hello"
            else [
                *epochs,
                event["epoch"],
            ]
        )
    assert epochs == list(range(1, appended + 1)) and last == appended


def test_the_log_ends_with_done() -> None:
    log = EventLog()
    log.append(epoch(1))
    log.append({"type": "done", "reason": "r"})
    assert log.ended
    with pytest.raises(RuntimeError, match="after 'done'"):
        log.append(epoch(2))
    with pytest.raises(ValueError, match="replay"):
        EventLog(replay=0)


def test_numbers_that_are_not_finite_go_out_as_null_with_a_warning(caplog) -> None:
    event = {"type": "epoch", "history": [{"val_loss": math.nan}], "layers": [{"z": -math.inf}]}
    with caplog.at_level(logging.WARNING, logger="nnscratch.app.playground.stream"):
        text = to_json(event)
    parsed = json.loads(text)  # strict JSON: no NaN, no Infinity
    assert "NaN" not in text and "Infinity" not in text
    assert parsed["history"][0]["val_loss"] is None and parsed["layers"][0]["z"] is None
    assert parsed["non_finite"] == ["history[0].val_loss", "layers[0].z"]
    assert "history[0].val_loss, layers[0].z" in caplog.text
    assert to_json({"type": "epoch", "x": 1.5}) == '{"type":"epoch","x":1.5}'


def test_last_event_id_is_read_as_ours_or_not_at_all() -> None:
    assert last_event_id("12") == 12 and last_event_id(" 3 ") == 3
    assert last_event_id(None) is None and last_event_id("x1") is None
    assert last_event_id("-1") is None
