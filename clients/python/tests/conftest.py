from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import os
import sys
import time
import uuid
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent.parent  # clients/python
sys.path.insert(0, str(HERE))

from vigil_client import (AdminApi, ProctorApi, ProctorConnection, StudentApi,  # noqa: E402
                          StudentConnection, VigilServer, now_ms)

REPO = HERE.parent.parent
DEFAULT_BIN = HERE / ".." / ".." / "target" / "debug" / "vigil"
ADMIN_TOKEN = "py-admin-" + uuid.uuid4().hex


def vigil_bin() -> Path:
    return Path(os.environ.get("VIGIL_BIN") or DEFAULT_BIN).resolve()


def start_server() -> VigilServer:
    return VigilServer(vigil_bin(), admin_token=ADMIN_TOKEN).start()


@pytest.fixture(scope="session")
def server():
    srv = start_server()
    yield srv
    srv.cleanup()


@pytest.fixture
def fresh_server():
    """A server of this test's own, for checks that read process-wide metrics."""
    srv = start_server()
    yield srv
    srv.cleanup()


@pytest.fixture(scope="session")
def admin(server) -> AdminApi:
    return AdminApi(server.base_url, ADMIN_TOKEN)


def uid(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def full_settings(**overrides) -> dict:
    """A complete ExamSettings (CreateExam.settings has no optional fields): open since 2 h, for 1 h more."""
    n = now_ms()
    s = {"window": {"opens_at": n - 2 * 3600_000, "closes_at": n + 3600_000},
         "scoring": {"half_life_s": 300, "weights": {"no_face": 3, "multiple_faces": 5,
                                                       "looking_away": 2, "tab_hidden": 3,
                                                       "window_blur": 1, "worker_stalled": 1,
                                                       "heartbeat_lost": 1},
                     "watch_at": 4, "alert_at": 8},
         "privacy": "flagged_frames", "evidence_retention_days": 30, "stall_after_s": 10,
         "disabled_detectors": []}
    s.update(overrides)
    return s


class ExamCtx:
    def __init__(self, server: VigilServer, admin: AdminApi, exam: dict, tracker: list):
        self.server = server
        self.url = server.base_url
        self.admin = admin
        self.exam = exam
        self.id = exam["id"]
        self.tokens: dict[tuple[str, str], str] = {}
        self.links: dict[tuple[str, str], dict] = {}
        self._tracker = tracker

    def add_student(self, sid: str, name: str | None = None) -> str:
        self.admin.add_student(self.id, name or sid.title(), id=sid)
        link = self.admin.issue_link(self.id, "student", sid)
        self.links[("student", sid)] = link
        self.tokens[("student", sid)] = link["token"]
        return link["token"]

    def add_proctor(self, pid: str, name: str | None = None) -> str:
        self.admin.add_proctor(self.id, name or pid.title(), id=pid)
        link = self.admin.issue_link(self.id, "proctor", pid)
        self.links[("proctor", pid)] = link
        self.tokens[("proctor", pid)] = link["token"]
        return link["token"]

    def student_token(self, sid: str = "ada") -> str:
        return self.tokens[("student", sid)]

    def proctor_token(self, pid: str = "pat") -> str:
        return self.tokens[("proctor", pid)]

    def student(self, sid: str = "ada", **kw) -> StudentConnection:
        c = StudentConnection(self.url, self.student_token(sid), **kw)
        self._tracker.append(c)
        c.connect()
        c.welcome()
        return c

    def proctor(self, pid: str = "pat", **kw) -> ProctorConnection:
        c = ProctorConnection(self.url, self.proctor_token(pid), **kw)
        self._tracker.append(c)
        return c.connect()

    def student_http(self, sid: str = "ada") -> StudentApi:
        return StudentApi(self.url, self.student_token(sid))

    def proctor_http(self, pid: str = "pat", **kw) -> ProctorApi:
        return ProctorApi(self.url, self.proctor_token(pid), **kw)


@pytest.fixture
def make_exam(server, admin):
    tracker: list = []

    def make(settings: dict | None = None, students=("ada",), proctors=("pat",), srv=None,
             adm=None) -> ExamCtx:
        s = srv or server
        a = adm or admin
        exam = a.create_exam("Exam " + uid(), id=uid("exam"), settings=settings)
        ctx = ExamCtx(s, a, exam, tracker)
        for sid in students:
            ctx.add_student(sid)
        for pid in proctors:
            ctx.add_proctor(pid)
        return ctx

    yield make
    for c in tracker:
        c.close()


@pytest.fixture
def exam(make_exam) -> ExamCtx:
    """An exam open since 2 h for another hour, students ada and bo, proctor pat."""
    return make_exam(full_settings(), students=("ada", "bo"))


def jpeg_bytes(w: int = 320, h: int = 240, quality: int = 85) -> bytes:
    """A real JPEG (Pillow), different on every call: a random block pattern."""
    import random
    from PIL import Image, ImageDraw
    rnd = random.Random(uuid.uuid4().int)
    img = Image.new("RGB", (w, h), tuple(rnd.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(img)
    for _ in range(24):
        x, y = rnd.randrange(w), rnd.randrange(h)
        draw.rectangle([x, y, x + rnd.randrange(8, 48), y + rnd.randrange(8, 48)],
                       fill=tuple(rnd.randrange(256) for _ in range(3)))
    b = io.BytesIO()
    img.save(b, "JPEG", quality=quality)
    return b.getvalue()


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def b64decode(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def forge_token(server: VigilServer, claims: dict) -> str:
    """PROTOCOL: tokens are HS256 JWTs signed with `<data-dir>/server.key`."""
    key = (Path(server.data_dir) / "server.key").read_bytes()
    h = _b64(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())
    p = _b64(json.dumps(claims).encode())
    sig = hmac.new(key, f"{h}.{p}".encode(), hashlib.sha256).digest()
    return f"{h}.{p}.{_b64(sig)}"


def wait_until(pred, timeout: float = 15.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)


def metric(server: VigilServer, name: str) -> float:
    from vigil_client import HttpClient
    text = HttpClient(server.base_url).get("/metrics").content.decode()
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            if line.split(" ")[0] == name:
                return float(line.split()[-1])
    return 0.0
