"""Socket.IO v4 connections to `/student` and `/proctor` (PROTOCOL.md § Socket.IO)."""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

import socketio


class HandshakeRefused(Exception):
    """The namespace CONNECT was refused; `message` starts with the reason."""

    def __init__(self, data: Any):
        self.data = data
        self.message = data.get("message") if isinstance(data, dict) else data
        self.reason = (self.message or "").split(":", 1)[0] if isinstance(self.message, str) else None
        super().__init__(f"handshake refused: {data!r}")


class Connection:
    namespace = "/"

    def __init__(self, base_url: str, token: str | None, *, auth: Any = ...,
                 transports: list[str] | None = None, timeout: float = 15.0):
        self.base_url = base_url
        self.auth = {"token": token} if auth is ... else auth
        self.transports = transports or ["websocket"]
        self.timeout = timeout
        self.sio = socketio.Client(reconnection=False)
        self._cond = threading.Condition()
        self.events: list[tuple[str, Any]] = []  # (event, payload) in arrival order
        self.connect_error: Any = None
        self.disconnected = threading.Event()
        ns = self.namespace
        self.sio.on("*", self._on_any, namespace=ns)
        self.sio.on("connect_error", self._on_connect_error, namespace=ns)
        self.sio.on("disconnect", self._on_disconnect, namespace=ns)

    # --- handlers -------------------------------------------------------------------------------
    def _on_any(self, event, *args):
        with self._cond:
            self.events.append((event, args[0] if len(args) == 1 else list(args)))
            self._cond.notify_all()

    def _on_connect_error(self, data=None):
        with self._cond:
            self.connect_error = data
            self._cond.notify_all()

    def _on_disconnect(self, *args):
        self.disconnected.set()
        with self._cond:
            self._cond.notify_all()

    # --- lifecycle ------------------------------------------------------------------------------
    def connect(self) -> "Connection":
        kw = {} if self.auth is None else {"auth": self.auth}
        try:
            self.sio.connect(self.base_url, namespaces=[self.namespace],
                             transports=self.transports, wait_timeout=self.timeout, **kw)
        except socketio.exceptions.ConnectionError as e:
            if self.connect_error is not None:
                raise HandshakeRefused(self.connect_error) from e
            raise
        return self

    def close(self) -> None:
        try:
            self.sio.disconnect()
        except Exception:
            pass

    def __enter__(self):
        return self.connect()

    def __exit__(self, *exc):
        self.close()

    # --- messages -------------------------------------------------------------------------------
    def call(self, event: str, data: Any = None, timeout: float | None = None) -> Any:
        return self.sio.call(event, data, namespace=self.namespace,
                             timeout=timeout or self.timeout)

    def emit(self, event: str, data: Any = None, callback: Callable | None = None) -> None:
        self.sio.emit(event, data, namespace=self.namespace, callback=callback)

    def mark(self) -> int:
        """Index into `events`; pass to `wait_for(since=…)` to only see later events."""
        with self._cond:
            return len(self.events)

    def received(self, event: str, since: int = 0,
                 pred: Callable[[Any], bool] | None = None) -> list:
        with self._cond:
            return [p for (e, p) in self.events[since:] if e == event and (pred is None or pred(p))]

    def wait_for(self, event: str, pred: Callable[[Any], bool] | None = None, since: int = 0,
                 timeout: float | None = None) -> Any:
        deadline = time.monotonic() + (timeout or self.timeout)
        with self._cond:
            while True:
                for (e, p) in self.events[since:]:
                    if e == event and (pred is None or pred(p)):
                        return p
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [e for (e, _) in self.events[since:]]
                    raise TimeoutError(f"no {event!r} matching on {self.namespace}; saw {seen}")
                self._cond.wait(left)


class StudentConnection(Connection):
    namespace = "/student"

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.seq: int | None = None

    def connect(self) -> "StudentConnection":
        super().connect()
        return self

    def welcome(self) -> dict:
        w = self.wait_for("welcome")
        if self.seq is None:
            self.seq = w["next_seq"]
        return w

    def next_seq(self) -> int:
        """Take the next sequence number (call `consumed()` only once it was accepted)."""
        if self.seq is None:
            self.welcome()
        return self.seq

    def report(self, payload: dict, timeout: float | None = None) -> dict:
        return self.call("incident", payload, timeout)

    def end(self, payload: dict, timeout: float | None = None) -> dict:
        return self.call("incident_end", payload, timeout)

    def send_incident(self, id: str, kind: str, started_at: int, **extra) -> dict:
        """Report with the client's own counter: a number is used up only by an `accepted` ack."""
        seq = self.next_seq()
        ack = self.report({"id": id, "seq": seq, "kind": kind, "started_at": started_at, **extra})
        if ack.get("status") == "accepted":
            self.seq = seq + 1
        return ack

    def send_end(self, id: str, ended_at: int) -> dict:
        seq = self.next_seq()
        ack = self.end({"id": id, "seq": seq, "ended_at": ended_at})
        if ack.get("status") == "accepted":
            self.seq = seq + 1
        return ack

    def heartbeat(self, worker_ok: bool = True, inference_fps: float = 12.0,
                  camera_live: bool = True, worker_restarts: int = 0, at: int | None = None):
        self.emit("heartbeat", {"at": at if at is not None else now_ms(),
                                "inference_fps": inference_fps, "worker_ok": worker_ok,
                                "worker_restarts": worker_restarts, "camera_live": camera_live})

    def signals(self, **fields):
        self.emit("signals", {"at": now_ms(), **fields})


class ProctorConnection(Connection):
    namespace = "/proctor"

    def snapshot(self) -> dict:
        return self.call("snapshot")

    def action(self, student_id: str, kind: str, text: str | None = None, **extra) -> dict:
        body = {"student_id": student_id, "kind": kind, **extra}
        if text is not None:
            body["text"] = text
        return self.call("action", body)


def now_ms() -> int:
    return int(time.time() * 1000)
