"""Server-sent events for the live pages, the playground's and ``train --watch``'s: one
event log, one encoding, one response.

A live page must survive a dropped connection and a reload without losing or
repeating an epoch. So every event is numbered (``id: 1, 2, …``) and kept in an
:class:`EventLog`: the newest :data:`REPLAY_EVENTS` whole, for the browser's
``EventSource``, which reconnects by itself and sends the last number it had
(``Last-Event-ID``): it gets exactly the events after it. Every event is also
kept *light* (without the figures drawn only from the newest: weights, boundary,
histograms…), so a page that starts over (a reload, or one too far behind for the
window) gets one ``hello`` event holding the whole run so far (``catchup``: the
light events in order; ``figures``: the newest event that had figures), numbered
as the newest event it covers, and goes on from there.

Events are JSON; a number that is not finite (a run diverging) goes out as
``null``, named in the event's ``non_finite`` and logged as a warning: ``NaN`` is
not JSON, and a page's ``JSON.parse`` would fail on it.

The response is sse-starlette's ``EventSourceResponse``: it pings, ends the
stream when the client goes, and, under ``uvicorn`` (which it hooks at import),
ends every open stream when the server is told to stop, so Ctrl-C returns at
once instead of waiting for pages that never close. A stream also ends after
its log's last event (``done``); the page then closes its ``EventSource``, and a
reconnection that has seen everything is answered 204, which tells a browser to
stop reconnecting.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

from nnscratch.errors import NNScratchError

#: Events kept whole for a reconnecting page; one further behind starts over.
REPLAY_EVENTS = 256
#: How long a browser waits before it reconnects a dropped stream, in milliseconds.
RETRY_MS = 1000
#: How often a stream looks for new events, and pings an idle page, in seconds.
POLL_SECONDS = 0.05
PING_SECONDS = 10
#: The keys of an event that are drawn from the newest event only, left out of the
#: light copy kept for a page that starts over (and, in each layer, its histogram).
FIGURES = ("weights", "boundary", "units", "confusion", "pred_actual", "curve", "warnings")

logger = logging.getLogger(__name__)


def light(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` without what is drawn from the newest event only (see :data:`FIGURES`)."""
    kept = {key: value for key, value in event.items() if key not in FIGURES}
    if "layers" in event:
        kept["layers"] = [
            {key: value for key, value in layer.items() if key != "hist"}
            for layer in event["layers"]
        ]
    return kept


class EventLog:
    """A live page's events in order, numbered from 1: the newest ``replay`` whole, every
    one light, and the newest with figures. Appended from a training thread, read from the
    server's event loop (its own lock). ``ended`` once an event of type ``done``."""

    def __init__(self, replay: int = REPLAY_EVENTS) -> None:
        if replay < 1:
            raise ValueError(f"replay must be at least 1, got {replay}")
        self._lock = threading.Lock()
        self._recent: deque[tuple[int, dict[str, Any]]] = deque(maxlen=replay)
        self._light: list[dict[str, Any]] = []
        self._figures: dict[str, Any] | None = None
        self.ended = False

    @property
    def newest(self) -> int:
        """The newest event's number (0: none yet)."""
        with self._lock:
            return len(self._light)

    def append(self, event: dict[str, Any]) -> int:
        """Add ``event`` (a dict with a ``type``); its number."""
        with self._lock:
            if self.ended:
                raise RuntimeError(f"the log has ended; {event['type']!r} came after 'done'")
            number = len(self._light) + 1
            self._recent.append((number, event))
            self._light.append(light(event))
            if any(key in event for key in FIGURES):
                self._figures = event
            self.ended = event["type"] == "done"
            return number

    def after(self, number: int) -> list[tuple[int, dict[str, Any]]] | None:
        """The events after ``number``, numbered; None where some of them are no longer
        kept whole (or ``number`` was never given out): the page must start over."""
        with self._lock:
            newest = len(self._light)
            oldest = self._recent[0][0] if self._recent else newest + 1
            if not 0 <= number <= newest or number + 1 < oldest:
                return None
            return [(n, event) for n, event in self._recent if n > number]

    def catchup(self) -> tuple[int, dict[str, Any]]:
        """For a page that starts over: the newest number, and ``{"catchup": every event
        light, in order, "figures": the newest event with figures (or None)}``."""
        with self._lock:
            return len(self._light), {"catchup": list(self._light), "figures": self._figures}


def to_json(event: dict[str, Any]) -> str:
    """``event`` as JSON; numbers that are not finite as ``null``, named in ``non_finite``
    (and logged as a warning)."""
    try:
        return json.dumps(event, allow_nan=False, separators=(",", ":"))
    except ValueError:
        where: list[str] = []
        clean = _finite(event, "", where)
        logger.warning(
            "a %r event had numbers that are not finite, sent as null: %s",
            event.get("type"),
            ", ".join(where),
        )
        return json.dumps(clean | {"non_finite": where}, allow_nan=False, separators=(",", ":"))


def _finite(value: Any, path: str, where: list[str]) -> Any:
    """``value`` with every non-finite float replaced by None; their paths into ``where``."""
    if isinstance(value, float) and not math.isfinite(value):
        where.append(path or "(the event)")
        return None
    if isinstance(value, dict):
        return {k: _finite(v, f"{path}.{k}" if path else str(k), where) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v, f"{path}[{i}]", where) for i, v in enumerate(value)]
    return value


def require_sse() -> None:
    """:class:`~nnscratch.errors.NNScratchError` in one line where sse-starlette is missing."""
    try:
        import sse_starlette  # noqa: F401 (imported first, it hooks uvicorn's exit)
    except ImportError:
        raise NNScratchError(
            "live pages need sse-starlette: pip install 'nnscratch[serve]'"
        ) from None


def message(number: int, event: dict[str, Any], retry: int | None = None) -> Any:
    """One SSE message: ``id``, ``event`` (the type) and the JSON ``data``."""
    from sse_starlette import ServerSentEvent

    return ServerSentEvent(to_json(event), event=event["type"], id=str(number), retry=retry)


def last_event_id(header: str | None) -> int | None:
    """The ``Last-Event-ID`` a reconnecting browser sent, or None (absent or not ours)."""
    if header is None or not header.strip().isdigit():
        return None
    return int(header)


def next_messages(
    log: EventLog, sent: int | None, hello: Callable[[], dict[str, Any]]
) -> tuple[list[tuple[int, dict[str, Any]]], int]:
    """What a stream that has sent up to number ``sent`` (None: nothing yet) sends now, and
    the number it has then sent: the events after ``sent`` where the log still has them
    whole, else one ``hello`` event (``hello()`` and the catch-up) numbered as the newest
    event it covers."""
    new = log.after(sent) if sent is not None else None
    if new is None:
        newest, caught_up = log.catchup()
        return [(newest, {"type": "hello", **hello(), **caught_up})], newest
    return new, new[-1][0] if new else sent  # type: ignore[return-value]


async def stream(
    log: EventLog,
    last: int | None,
    hello: Callable[[], dict[str, Any]],
    closed: Callable[[], bool] = lambda: False,
) -> AsyncIterator[Any]:
    """The page's messages (see :func:`next_messages`), as they come, until the log's
    ``done`` (or ``closed()``); the first also sets the browser's reconnection delay."""
    import anyio  # the serve extra's (Starlette's): the command line starts without it

    sent, retry = last, RETRY_MS
    while True:
        new, sent = next_messages(log, sent, hello)
        for number, event in new:
            yield message(number, event, retry)
            retry = None
            if event["type"] == "done":
                return
        if not new and (closed() or log.ended or stopping()):
            return
        await anyio.sleep(POLL_SECONDS)


def stopping() -> bool:
    """Whether the server has been told to stop (Ctrl-C, SIGTERM: sse-starlette's flag),
    so that a stream ends within a poll, before sse-starlette's own watch (every 0.5 s)."""
    from sse_starlette.sse import AppStatus

    return bool(AppStatus.should_exit)


def event_response(
    log: EventLog,
    last_event_id_header: str | None,
    hello: Callable[[], dict[str, Any]],
    closed: Callable[[], bool] = lambda: False,
    on_open: Callable[[], None] = lambda: None,
    on_close: Callable[[], None] = lambda: None,
) -> Any:
    """The SSE response for a page (sse-starlette); 204 for a page that has seen the whole
    ended log (a browser stops reconnecting). ``on_open`` and ``on_close`` are told when
    the stream starts and ends (the playground counts a session's pages by them)."""
    from sse_starlette import EventSourceResponse
    from starlette.responses import Response

    last = last_event_id(last_event_id_header)
    if log.ended and last is not None and last >= log.newest:
        return Response(status_code=204)

    async def watched() -> AsyncIterator[Any]:
        on_open()
        try:
            async for item in stream(log, last, hello, closed):
                yield item
        finally:
            on_close()

    return EventSourceResponse(watched(), ping=PING_SECONDS, headers={"Cache-Control": "no-store"})
