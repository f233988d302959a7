"""`signals` and `heartbeat` (no ack): unknown fields, malformed ones dropped and counted, quality."""
import time

from conftest import metric, uid, wait_until
from vigil_client import now_ms, schema


def test_heartbeat_with_unknown_fields_is_used(exam):
    p = exam.proctor()
    s = exam.student()
    hb = {"at": now_ms(), "inference_fps": 12.0, "worker_restarts": 0, "camera_live": True,
          "gpu": "webgl2", "battery": 0.5}
    s.emit("heartbeat", dict(hb, worker_ok=True))
    s.emit("heartbeat", dict(hb, worker_ok=False))
    r = p.wait_for("incident", lambda r: r["kind"] == "worker_stalled")
    assert r["source"] == "server"


def test_malformed_signals_dropped_and_counted(exam):
    s = exam.student()
    before = metric(exam.server, "vigil_signals_dropped_total")
    s.emit("signals", {"at": "yesterday", "faces": "two"})
    s.emit("signals", "nonsense")
    s.emit("heartbeat", {"at": now_ms()})  # lacks required fields
    wait_until(lambda: metric(exam.server, "vigil_signals_dropped_total") >= before + 3,
               what="three dropped signals/heartbeats to be counted")
    # the socket is still usable
    assert s.send_incident(uid("i"), "no_face", now_ms())["status"] == "accepted"


def test_quality_from_signals(exam):
    """QualityUpdate `low_light` for a dark camera, `good` for a normal one. The thresholds and
    how many signals it takes are not documented; this sends clearly dark / clearly good frames
    at ~4 per second (under the 5/s rate)."""
    p = exam.proctor()
    s = exam.student()

    def drive(brightness, want, limit=40):
        mark = p.mark()
        for _ in range(limit):
            s.signals(faces=1, yaw_deg=0.0, pitch_deg=0.0, confidence=0.98,
                      brightness=brightness, tab_visible=True, fullscreen=True)
            if p.received("quality", since=mark, pred=lambda q: q["quality"] == want):
                break
            time.sleep(0.25)
        q = p.wait_for("quality", lambda q: q["quality"] == want, since=mark, timeout=5)
        schema.check(q, "QualityUpdate")
        assert q["student_id"] == "ada"

    drive(0.0, "low_light")
    drive(0.55, "good")
    view = [v for v in p.snapshot()["students"] if v["student"]["id"] == "ada"][0]
    assert view["quality"] == "good"
