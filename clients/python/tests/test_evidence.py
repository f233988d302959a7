"""Evidence upload (PROTOCOL § HTTP, 'Evidence checks, in order')."""
import hashlib
import io

import pytest

from conftest import full_settings, jpeg_bytes, uid
from vigil_client import ApiError, HttpClient, StudentApi, now_ms, schema

MIN = 60_000


def refused(fn, status, reason):
    with pytest.raises(ApiError) as e:
        fn()
    assert e.value.status == status and e.value.reason == reason, \
        f"expected {status} {reason}, got {e.value.status}: {e.value.text}"
    schema.check(e.value.body, "ErrorBody")
    return e.value


def open_incident(s, started_at=None, **kw):
    iid = uid("inc")
    started_at = started_at if started_at is not None else now_ms()
    assert s.send_incident(iid, "no_face", started_at, **kw)["status"] == "accepted"
    return iid, started_at


def test_upload_retry_and_download(exam):
    p = exam.proctor()
    s = exam.student()
    iid, t = open_incident(s)
    jpg = jpeg_bytes(320, 240)
    api = exam.student_http()
    r = api.upload_evidence(iid, jpg, t + 10)
    assert r.status == 201
    body = schema.check(r.body, "EvidenceAccepted")
    sha = hashlib.sha256(jpg).hexdigest()
    assert body == {"incident_id": iid, "sha256": sha, "media": "jpeg", "width": 320, "height": 240,
                    "bytes": len(jpg)}
    # the same student's same upload for the same incident: 200 as a retry
    r2 = api.upload_evidence(iid, jpg, t + 10)
    assert r2.status == 200 and r2.body == body
    # the incident notice is re-sent with the evidence
    rec = p.wait_for("incident", lambda r: r["id"] == iid and "evidence_sha256" in r)
    assert schema.check(rec, "IncidentRecord")["evidence_sha256"] == sha
    recs = exam.proctor_http().incidents(exam.id, "ada")
    assert [r["evidence_sha256"] for r in recs if r["id"] == iid] == [sha]
    got = exam.proctor_http().evidence(exam.id, sha)
    assert got.status == 200
    assert got.headers["content-type"] == "image/jpeg"
    assert got.headers["cache-control"] == "private, no-store"
    assert got.content == jpg


def test_evidence_at_bounds_of_window(exam):
    s = exam.student()
    n = now_ms()
    iid, t = open_incident(s, n - 10_000, ended_at=n - 8000)
    api = exam.student_http()
    # [started_at − 5 s, ended_at + 5 s]
    assert api.upload_evidence(iid, jpeg_bytes(), t - 5000).status == 201
    iid2, t2 = open_incident(s, n - 10_000, ended_at=n - 8000)
    assert api.upload_evidence(iid2, jpeg_bytes(), n - 8000 + 5000).status == 201


def test_not_a_jpeg(exam):
    s = exam.student()
    iid, t = open_incident(s)
    api = exam.student_http()
    png = io.BytesIO()
    from PIL import Image
    Image.new("RGB", (100, 100), (1, 2, 3)).save(png, "PNG")
    refused(lambda: api.upload_evidence(iid, png.getvalue(), t), 415, "not_jpeg")
    refused(lambda: api.upload_evidence(iid, b"hello", t), 415, "not_jpeg")


def test_unknown_incident(exam):
    s = exam.student()
    other = exam.student("bo")
    api = exam.student_http()
    refused(lambda: api.upload_evidence(uid("nope"), jpeg_bytes(), now_ms()), 404,
            "unknown_incident")
    # another student's incident is not one of this student's own
    iid, t = open_incident(other)
    refused(lambda: api.upload_evidence(iid, jpeg_bytes(), t), 404, "unknown_incident")


def test_server_incident_reads_as_unknown(exam):
    p = exam.proctor()
    s = exam.student()
    s.heartbeat(worker_ok=True)
    s.heartbeat(worker_ok=False)
    srv = p.wait_for("incident", lambda r: r["source"] == "server")
    api = exam.student_http()
    a = refused(lambda: api.upload_evidence(srv["id"], jpeg_bytes(), srv["started_at"]), 404,
                "unknown_incident")
    ghost = "srv-worker_stalled-0123456789abcdef"
    b = refused(lambda: api.upload_evidence(ghost, jpeg_bytes(), srv["started_at"]), 404,
                "unknown_incident")
    assert a.message.replace(srv["id"], "ID") == b.message.replace(ghost, "ID")


def test_outside_incident_window(exam):
    s = exam.student()
    n = now_ms()
    api = exam.student_http()
    iid, t = open_incident(s, n - 20_000, ended_at=n - 15_000)
    refused(lambda: api.upload_evidence(iid, jpeg_bytes(), t - 5001), 422,
            "outside_incident_window")
    refused(lambda: api.upload_evidence(iid, jpeg_bytes(), n - 15_000 + 5001), 422,
            "outside_incident_window")
    # open incident: up to now + 5 s
    iid2, t2 = open_incident(s)
    refused(lambda: api.upload_evidence(iid2, jpeg_bytes(), now_ms() + 60_000), 422,
            "outside_incident_window")


def test_upload_deadline(exam):
    """'the upload arrives by (ended_at, or started_at while open) + 30 minutes' (the reason is
    not named; outside_incident_window is the closest)."""
    s = exam.student()
    n = now_ms()
    api = exam.student_http()
    iid, _ = open_incident(s, n - 40 * MIN, ended_at=n - 31 * MIN)
    e = refused(lambda: api.upload_evidence(iid, jpeg_bytes(), n - 35 * MIN), 422,
                "outside_incident_window")
    iid2, t2 = open_incident(s, n - 31 * MIN)  # still open, started 31 min ago
    refused(lambda: api.upload_evidence(iid2, jpeg_bytes(), t2 + 1000), 422,
            "outside_incident_window")
    iid3, _ = open_incident(s, n - 40 * MIN, ended_at=n - 29 * MIN)
    assert api.upload_evidence(iid3, jpeg_bytes(), n - 35 * MIN).status == 201


def test_body_checks(exam):
    s = exam.student()
    api = exam.student_http()
    iid, t = open_incident(s)
    big = b"\xff\xd8\xff\xe0" + bytes(512 * 1024)
    refused(lambda: api.upload_evidence(iid, big, t), 413, "too_large")
    refused(lambda: api.upload_evidence(iid, jpeg_bytes(63, 100), t), 422,
            "dimensions_out_of_range")
    refused(lambda: api.upload_evidence(iid, jpeg_bytes(1921, 64), t), 422,
            "dimensions_out_of_range")
    jpg = jpeg_bytes(320, 240, quality=95)
    sos = jpg.index(b"\xff\xda")
    refused(lambda: api.upload_evidence(iid, jpg[:sos + 40], t), 422, "undecodable")
    refused(lambda: api.upload_evidence(iid, b"\xff\xd8\xff\xe0garbage-header", t), 422,
            "undecodable")
    # the bounds themselves are fine
    assert api.upload_evidence(iid, jpeg_bytes(64, 1920), t).status == 201


def test_at_most_512_kib(exam):
    s = exam.student()
    api = exam.student_http()
    iid, t = open_incident(s)
    import os
    from PIL import Image
    img = Image.frombytes("RGB", (1000, 1000), os.urandom(3_000_000))
    b = io.BytesIO()
    img.save(b, "JPEG", quality=95)
    assert len(b.getvalue()) > 512 * 1024
    refused(lambda: api.upload_evidence(iid, b.getvalue(), t), 413, "too_large")


def test_replays_and_second_frame(exam):
    s = exam.student()
    api = exam.student_http()
    a, ta = open_incident(s)
    b, tb = open_incident(s)
    jpg = jpeg_bytes()
    assert api.upload_evidence(a, jpg, ta).status == 201
    # the same frame as evidence of another incident
    refused(lambda: api.upload_evidence(b, jpg, tb), 409, "replayed_frame")
    # another frame for an incident that has one
    refused(lambda: api.upload_evidence(a, jpeg_bytes(), ta), 409,
            "evidence_already_attached")
    assert api.upload_evidence(b, jpeg_bytes(), tb).status == 201


def test_captured_at_header(exam):
    s = exam.student()
    api = exam.student_http()
    iid, t = open_incident(s)
    for bad in (None, "soon", "1.5e12", ""):
        refused(lambda: api.upload_evidence(iid, jpeg_bytes(), bad), 422, "invalid_payload")


def test_tokens(exam):
    s = exam.student()
    iid, t = open_incident(s)
    path = f"/api/v1/evidence/{iid}"
    hdr = {"x-vigil-captured-at": str(t), "Content-Type": "image/jpeg"}
    refused(lambda: HttpClient(exam.url).post(path, data=jpeg_bytes(), headers=hdr), 401,
            "missing_token")
    refused(lambda: HttpClient(exam.url, exam.proctor_token()).post(path, data=jpeg_bytes(),
                                                                     headers=hdr),
            403, "wrong_scope")
    assert StudentApi(exam.url, exam.student_token(), scheme="bearer").upload_evidence(
        iid, jpeg_bytes(), t).status == 201
    refused(lambda: exam.proctor_http().get(f"/api/v1/exams/{exam.id}/evidence/{'0' * 64}"),
            404, "unknown_incident")


def test_check_order(exam):
    """Everything that needs no body comes first: header, then incident, then window; then the
    body."""
    s = exam.student()
    api = exam.student_http()
    iid, t = open_incident(s)
    refused(lambda: api.upload_evidence(uid("nope"), b"not a jpeg", None), 422,
            "invalid_payload")
    refused(lambda: api.upload_evidence(uid("nope"), b"not a jpeg", t), 404, "unknown_incident")
    refused(lambda: api.upload_evidence(iid, b"not a jpeg", t - 60_000), 422,
            "outside_incident_window")
    refused(lambda: api.upload_evidence(iid, b"x" * (600 * 1024), t), 413, "too_large")


def test_events_only_exam_collects_no_frames(make_exam):
    ex = make_exam(full_settings(privacy="events_only"))
    s = ex.student()
    iid, t = open_incident(s)
    api = ex.student_http()
    e = refused(lambda: api.upload_evidence(iid, jpeg_bytes(), t), 403,
                "evidence_not_collected")
    # "the privacy tier collects frames" is checked before "the x-vigil-captured-at header is
    # an integer" and before the incident
    for captured_at, inc in ((None, iid), ("x", iid), (t, uid("nope"))):
        with pytest.raises(ApiError) as e:
            api.upload_evidence(inc, jpeg_bytes(), captured_at)
        assert e.value.reason == "evidence_not_collected", \
            f"DOC MISMATCH (check order): events_only exam, captured-at={captured_at!r}, " \
            f"incident={inc}: got {e.value.status} {e.value.body}"


def wav_bytes(seconds: float, rate: int = 16_000, channels: int = 1) -> bytes:
    """A WAV clip (the standard library's wave module): PCM 16-bit, a tone, different on every call."""
    import math
    import random
    import struct
    import wave
    phase = random.random()
    frames = b"".join(struct.pack("<h", int(6000 * math.sin(phase + i * 0.07))) * channels
                      for i in range(int(seconds * rate)))
    b = io.BytesIO()
    with wave.open(b, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return b.getvalue()


def test_a_voice_clip_at_the_recording_tier(make_exam):
    exam = make_exam(full_settings(privacy="recording", microphone=True))
    s = exam.student()
    api = exam.student_http()
    voice = uid("inc")
    t = now_ms() - 2000
    assert s.send_incident(voice, "voice_detected", t)["status"] == "accepted"
    face, _ = open_incident(s, t)
    # a clip is evidence of a voice only; only WAV; 0.5-10 s; whole
    refused(lambda: api.upload_evidence(face, wav_bytes(3), t, "audio/wav"), 415, "unsupported_media")
    refused(lambda: api.upload_evidence(voice, b"OggS", t, "audio/ogg"), 415, "unsupported_media")
    refused(lambda: api.upload_evidence(voice, wav_bytes(0.2), t, "audio/wav"), 422, "duration_out_of_range")
    refused(lambda: api.upload_evidence(voice, wav_bytes(11), t, "audio/wav"), 422, "duration_out_of_range")
    refused(lambda: api.upload_evidence(voice, wav_bytes(2, channels=2), t, "audio/wav"), 422, "undecodable")
    refused(lambda: api.upload_evidence(voice, wav_bytes(3)[:30_000], t, "audio/wav"), 422, "undecodable")
    clip = wav_bytes(3)
    r = api.upload_evidence(voice, clip, t, "audio/wav")
    assert r.status == 201
    body = schema.check(r.body, "EvidenceAccepted")
    assert body == {"incident_id": voice, "sha256": hashlib.sha256(clip).hexdigest(), "media": "wav",
                    "width": 0, "height": 0, "bytes": len(clip), "duration_ms": 3000}
    got = exam.proctor_http().evidence(exam.id, body["sha256"])
    assert got.status == 200 and got.headers["content-type"] == "audio/wav" and got.content == clip


def test_no_clip_below_the_recording_tier(make_exam):
    exam = make_exam(full_settings(microphone=True))
    s = exam.student()
    api = exam.student_http()
    voice = uid("inc")
    t = now_ms() - 2000
    assert s.send_incident(voice, "voice_detected", t)["status"] == "accepted"
    refused(lambda: api.upload_evidence(voice, wav_bytes(3), t, "audio/wav"), 403, "evidence_not_collected")
    # the frame is still kept
    assert api.upload_evidence(voice, jpeg_bytes(), t, "image/jpeg").status == 201
