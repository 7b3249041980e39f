"""``GET /metrics``: the server's counters in Prometheus's text format.

::

    nnscratch_requests_total{route, status}      requests answered, by route and status
    nnscratch_request_seconds{route}             latency histogram, by route
    nnscratch_batch_rows, nnscratch_batch_requests
                                                 rows and requests per network call
    nnscratch_rows_predicted_total               rows the network answered
    nnscratch_model_info{model, version, task, nnscratch_version}   1

Counted by a plain ASGI middleware around the whole app, so every answer
(a 4xx, a 413 refused before the route, a 500) is counted by its status.
With ``--workers N`` each worker process writes its figures to files in
``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` adds them up
(prometheus_client's multiprocess mode), so a scrape sees the whole server.
prometheus_client is part of the ``serve`` extra: it is imported when a server
starts, not when the command line does.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]
]

#: Latency buckets in seconds: 1 ms to 5 s.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
#: Rows (and requests) per network call.
SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
#: The routes counted by name; any other path is counted as "other".
ROUTES = (
    "/",
    "/health",
    "/model",
    "/predict",
    "/metrics",
    "/v2/health/live",
    "/v2/health/ready",
    "/v2",
    "/docs",
    "/openapi.json",
)


def route_of(path: str) -> str:
    """A request path as the metrics name it: the route, not the request's own values (a
    model's route with and without ``/versions/{version}`` alike)."""
    if path in ROUTES:
        return path
    if path.startswith("/v2/models/"):
        for action in ("infer", "ready"):
            if path.endswith("/" + action):
                return "/v2/models/{name}/" + action
        return "/v2/models/{name}"
    if path.startswith("/docs/"):
        return "/docs"
    return "other"


class ServerMetrics:
    """The server's metrics, in a registry of their own (or the multiprocess files)."""

    def __init__(self, model: str, version: str, task: str, nnscratch_version: str) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.registry = None if self.multiprocess else CollectorRegistry()
        options = {"registry": self.registry}
        self.requests = Counter(
            "nnscratch_requests",
            "Requests answered, by route and status",
            ["route", "status"],
            **options,
        )
        self.latency = Histogram(
            "nnscratch_request_seconds",
            "Request latency, by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            **options,
        )
        self.batch_rows = Histogram(
            "nnscratch_batch_rows", "Rows per network call", buckets=SIZE_BUCKETS, **options
        )
        self.batch_requests = Histogram(
            "nnscratch_batch_requests", "Requests per network call", buckets=SIZE_BUCKETS, **options
        )
        self.rows = Counter("nnscratch_rows_predicted", "Rows the network answered", **options)
        info = Gauge(
            "nnscratch_model_info",
            "The model served",
            ["model", "version", "task", "nnscratch_version"],
            multiprocess_mode="max",
            **options,
        )
        info.labels(model, version, task, nnscratch_version).set(1)

    def batch(self, requests: int, rows: int) -> None:
        """One network call of ``requests`` requests, ``rows`` rows."""
        self.batch_requests.observe(requests)
        self.batch_rows.observe(rows)
        self.rows.inc(rows)

    def exposition(self) -> tuple[bytes, str]:
        """The text a scrape gets, and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
        from prometheus_client.multiprocess import MultiProcessCollector

        if self.multiprocess:
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        assert self.registry is not None
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class CountRequests:
    """ASGI middleware: every HTTP answer counted by route and status, and timed."""

    def __init__(self, app: ASGIApp, metrics: ServerMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        route = route_of(scope["path"])
        counted = False

        def count(status: int) -> None:
            nonlocal counted
            counted = True
            self.metrics.requests.labels(route, str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - started)

        async def send_counting(message: Message) -> None:
            # counted before the answer leaves: a client that scrapes /metrics next (from
            # another worker, in multiprocess mode) already sees this request
            if message["type"] == "http.response.start":
                count(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_counting)
        finally:
            if not counted:  # the app failed before answering: the client gets a 500
                count(500)
