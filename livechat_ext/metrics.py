"""Prometheus metrics of one `LiveChat` (its own registry: two instances in one
process never share counters)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5)
_LINE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def frame_type(frame: str) -> str:
    """The `type` of a frame serialized by `protocol.server.encode` (it comes first)."""
    end = frame.find('"', 9)
    return frame[9:end] if frame.startswith('{"type":"') and end > 9 else "unknown"


class Metrics:
    """Counters and gauges; `render()` gives the text exposition format."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.connections = Gauge("livechat_connections", "Open WebSocket connections", registry=r)
        self.operators = Gauge(
            "livechat_operators",
            "Operators with an authenticated connection on this node",
            registry=r,
        )
        self.rooms = Gauge("livechat_rooms", "Rooms with a member on this node", registry=r)
        self.frames_in = Counter(
            "livechat_frames_in", "Frames received, by type", ["type"], registry=r
        )
        self.frames_out = Counter(
            "livechat_frames_out", "Frames queued to sockets, by type", ["type"], registry=r
        )
        self.fanout_seconds = Histogram(
            "livechat_fanout_seconds",
            "Time to queue one event on every local member",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.line_calls = Counter(
            "livechat_line_api_calls", "LINE API calls by outcome", ["call", "outcome"], registry=r
        )
        self.line_seconds = Histogram(
            "livechat_line_api_seconds",
            "LINE API call latency",
            ["call"],
            buckets=_LINE_BUCKETS,
            registry=r,
        )
        self.broker_failures = Gauge(
            "livechat_broker_publish_failures",
            "Broker publishes that failed (retried or dropped)",
            registry=r,
        )
        self.webhook_events = Counter(
            "livechat_webhook_events", "Webhook events by outcome", ["outcome"], registry=r
        )
        self.closes = Counter(
            "livechat_connection_closes", "Connections closed, by code", ["code"], registry=r
        )
        self._in: dict[str, Counter] = {}
        self._out: dict[str, Counter] = {}

    def bind(
        self,
        *,
        connections: Callable[[], float],
        operators: Callable[[], float],
        rooms: Callable[[], float],
        broker_failures: Callable[[], float],
    ) -> None:
        """Gauges read on scrape, so the hot path pays nothing for them."""
        self.connections.set_function(connections)
        self.operators.set_function(operators)
        self.rooms.set_function(rooms)
        self.broker_failures.set_function(broker_failures)

    def frame_in(self, type_: str) -> None:
        child = self._in.get(type_)
        if child is None:
            child = self._in[type_] = self.frames_in.labels(type_)
        child.inc()

    def frames_sent(self, frame: str, count: int = 1) -> None:
        type_ = frame_type(frame)
        child = self._out.get(type_)
        if child is None:
            child = self._out[type_] = self.frames_out.labels(type_)
        child.inc(count)

    @contextmanager
    def line_call(self, call: str) -> Iterator[None]:
        start = time.perf_counter()
        outcome = "ok"
        try:
            yield
        except BaseException as exc:
            outcome = "transient" if getattr(exc, "transient", False) else "error"
            raise
        finally:
            self.line_seconds.labels(call).observe(time.perf_counter() - start)
            self.line_calls.labels(call, outcome).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
