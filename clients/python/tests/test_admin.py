"""Admin REST (PROTOCOL § HTTP): exams, rosters, join links; strict admin bodies; error bodies."""
import json
import os
import stat
from pathlib import Path

import pytest

from conftest import ADMIN_TOKEN, b64decode, full_settings, uid
from vigil_client import AdminApi, ApiError, HttpClient, now_ms, schema

HOUR = 3600_000


def err(e: ApiError, status: int, reason: str):
    assert e.status == status, f"expected HTTP {status} {reason}, got {e.status}: {e.text}"
    schema.check(e.body, "ErrorBody")
    assert e.reason == reason, f"expected reason {reason}, got {e.body}"


def test_create_exam_defaults(admin):
    before = now_ms()
    exam = admin.create_exam("Algebra final")
    after = now_ms()
    schema.check(exam, "Exam")
    assert exam["title"] == "Algebra final"
    # "Chosen by the server when absent."
    assert exam["id"]
    s = exam["settings"]
    # "Defaults: open now for 3 hours, default scoring, flagged frames kept 30 days."
    assert before - 1000 <= s["window"]["opens_at"] <= after + 1000
    assert s["window"]["closes_at"] - s["window"]["opens_at"] == 3 * HOUR
    assert s["privacy"] == "flagged_frames"
    assert s["evidence_retention_days"] == 30
    # SCORING.md defaults
    sc = s["scoring"]
    assert (sc["half_life_s"], sc["watch_at"], sc["alert_at"]) == (300, 4, 8)
    assert sc["weights"] == {"no_face": 3, "multiple_faces": 5, "looking_away": 2,
                             "tab_hidden": 3, "window_blur": 1, "fullscreen_exit": 2,
                             "copy_paste": 2, "second_screen": 4, "camera_ended": 4,
                             "worker_stalled": 1, "inference_rate_low": 0, "heartbeat_lost": 1,
                             "media_stalled": 3, "frame_rate_collapsed": 0.5,
                             "keyframes_missing": 0.5, "phone_visible": 5, "voice_detected": 3,
                             "camera_suspect": 2, "devtools_open": 1}


def test_create_list_roster(admin):
    eid = uid("exam")
    settings = full_settings(stall_after_s=7, disabled_detectors=["copy_paste"])
    exam = admin.create_exam("Geometry", id=eid, settings=settings)
    assert exam["id"] == eid and exam["settings"]["stall_after_s"] == 7
    assert exam["settings"]["disabled_detectors"] == ["copy_paste"]
    listed = admin.list_exams()
    for e in listed:
        schema.check(e, "Exam")
    assert eid in [e["id"] for e in listed]

    st = admin.add_student(eid, "Ada Lovelace", id="ada")
    schema.check(st, "Student")
    assert st == {"id": "ada", "name": "Ada Lovelace"}
    auto = admin.add_student(eid, "No Id")
    schema.check(auto, "Student")
    assert auto["id"] and auto["id"] != "ada"
    pr = admin.add_proctor(eid, "Pat", id="pat")
    schema.check(pr, "Proctor")

    roster = admin.roster(eid)
    schema.check(roster, "ExamRoster")
    assert roster["exam"]["id"] == eid
    assert sorted(s["id"] for s in roster["students"]) == sorted(["ada", auto["id"]])
    assert roster["proctors"] == [{"id": "pat", "name": "Pat"}]


def test_created_status_codes(admin):
    eid = uid("exam")
    r = admin.post("/api/v1/exams", json={"id": eid, "title": "x"})
    assert r.status == 201
    r = admin.post(f"/api/v1/exams/{eid}/students", json={"id": "s1", "name": "S"})
    assert r.status == 201
    r = admin.post(f"/api/v1/exams/{eid}/proctors", json={"id": "p1", "name": "P"})
    assert r.status == 201
    r = admin.post(f"/api/v1/exams/{eid}/links", json={"role": "student", "subject": "s1"})
    assert r.status == 201


def test_join_links_and_token_claims(server, admin):
    eid = uid("exam")
    exam = admin.create_exam("Links", id=eid)
    admin.add_student(eid, "Ada", id="ada")
    admin.add_proctor(eid, "Pat", id="pat")
    for role, sub, page in (("student", "ada", "/student/"), ("proctor", "pat", "/dashboard/")):
        link = admin.issue_link(eid, role, sub)
        schema.check(link, "JoinLink")
        assert (link["role"], link["exam_id"], link["subject"]) == (role, eid, sub)
        # "Links put the token in the URL fragment": https://host/student/#token=…
        assert link["url"] == f"{server.base_url}{page}#token={link['token']}"
        h, p, sig = link["token"].split(".")
        assert json.loads(b64decode(h))["alg"] == "HS256"
        claims = json.loads(b64decode(p))
        assert {"sub", "exam", "role", "iat", "exp"} <= set(claims)
        assert (claims["sub"], claims["exam"], claims["role"]) == (sub, eid, role)
        # "Lifetime in seconds; defaults to the end of the exam window plus one hour."
        closes = exam["settings"]["window"]["closes_at"]
        assert link["expires_at"] == closes + HOUR
        assert claims["exp"] == link["expires_at"] // 1000
    link = admin.issue_link(eid, "student", "ada", ttl_s=600)
    claims = json.loads(b64decode(link["token"].split(".")[1]))
    assert claims["exp"] - claims["iat"] == 600


def test_server_key_file(server, admin):
    """`<data-dir>/server.key`, created with mode 0600 on first start, signs the tokens."""
    import base64, hashlib, hmac
    key_path = Path(server.data_dir) / "server.key"
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    eid = uid("exam")
    admin.create_exam("Key", id=eid)
    admin.add_student(eid, "Ada", id="ada")
    tok = admin.issue_link(eid, "student", "ada")["token"]
    h, p, sig = tok.split(".")
    mac = hmac.new(key_path.read_bytes(), f"{h}.{p}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64encode(mac).rstrip(b"=").decode() == sig, \
        "the token is not HMAC-SHA256 over the raw bytes of server.key (key format undocumented)"


def test_link_for_student_not_on_roster_is_unknown_student(admin):
    eid = uid("exam")
    admin.create_exam("Roster", id=eid)
    with pytest.raises(ApiError) as e:
        admin.issue_link(eid, "student", "nobody")
    # RejectReason table: unknown_exam / unknown_student = "the token's exam or subject is not on
    # the roster"; the exam exists here, the subject does not.
    assert e.value.status == 404
    assert e.value.reason == "unknown_student", \
        f"DOC MISMATCH: a link for a subject not on the roster of an existing exam was refused " \
        f"with {e.value.reason!r}, not 'unknown_student': {e.value.body}"


def test_unknown_exam(admin):
    with pytest.raises(ApiError) as e:
        admin.roster(uid("nope"))
    err(e.value, 404, "unknown_exam")
    with pytest.raises(ApiError) as e:
        admin.add_student(uid("nope"), "X")
    err(e.value, 404, "unknown_exam")


def test_admin_bodies_are_strict(admin):
    """'Admin bodies (CreateExam, AddPerson) are strict: an unknown field there is refused.'"""
    with pytest.raises(ApiError) as e:
        admin.post("/api/v1/exams", json={"title": "x", "titel": "typo"})
    err(e.value, 422, "invalid_payload")
    eid = uid("exam")
    admin.create_exam("Strict", id=eid)
    with pytest.raises(ApiError) as e:
        admin.post(f"/api/v1/exams/{eid}/students", json={"name": "A", "nmae": "typo"})
    err(e.value, 422, "invalid_payload")
    with pytest.raises(ApiError) as e:
        admin.post(f"/api/v1/exams/{eid}/proctors", json={"name": "A", "extra": 1})
    err(e.value, 422, "invalid_payload")


@pytest.mark.parametrize("where", ["settings", "settings.window", "settings.scoring"])
def test_typo_inside_exam_settings_is_refused(admin, where):
    """'an unknown field there is refused, so a typo in configuration is never silently ignored'."""
    settings = full_settings()
    target = {"settings": settings, "settings.window": settings["window"],
              "settings.scoring": settings["scoring"]}[where]
    target["stall_afer_s" if where == "settings" else "typo_field"] = 3
    try:
        exam = admin.create_exam("typo", settings=settings)
    except ApiError as e:
        err(e, 422, "invalid_payload")
        return
    pytest.fail(f"DOC MISMATCH: CreateExam with an unknown field in {where} was accepted "
                f"(201, field silently dropped): {exam['settings']}")


def test_admin_body_grammar(admin):
    eid = uid("exam")
    admin.create_exam("Grammar", id=eid)
    for path, body in [("/api/v1/exams", {"id": "bad id", "title": "x"}),
                       ("/api/v1/exams", {"id": "x" * 65, "title": "x"}),
                       (f"/api/v1/exams/{eid}/students", {"id": "a/b", "name": "A"}),
                       (f"/api/v1/exams/{eid}/students", {"name": ""}),  # 1 to 200 characters
                       (f"/api/v1/exams/{eid}/students", {"name": "n" * 201}),
                       (f"/api/v1/exams/{eid}/links", {"role": "admin", "subject": "a"})]:
        with pytest.raises(ApiError) as e:
            admin.post(path, json=body)
        err(e.value, 422, "invalid_payload")
    with pytest.raises(ApiError) as e:
        admin.post("/api/v1/exams", raw_json="{not json")
    err(e.value, 422, "invalid_payload")


def test_conflicts(admin):
    eid = uid("exam")
    admin.create_exam("Dup", id=eid)
    admin.add_student(eid, "Ada", id="ada")
    with pytest.raises(ApiError) as e:
        admin.create_exam("Dup again", id=eid)
    assert e.value.status == 409, e.value.text
    schema.check(e.value.body, "ErrorBody")
    with pytest.raises(ApiError) as e:
        admin.add_student(eid, "Ada 2", id="ada")
    assert e.value.status == 409, e.value.text
    schema.check(e.value.body, "ErrorBody")


def test_admin_auth(server):
    url = server.base_url
    with pytest.raises(ApiError) as e:
        HttpClient(url).get("/api/v1/exams")
    err(e.value, 401, "missing_token")
    with pytest.raises(ApiError) as e:
        HttpClient(url, "wrong-token").get("/api/v1/exams")
    err(e.value, 401, "invalid_token")
    # the scheme name is case-insensitive
    for scheme in ("bearer", "BEARER", "BeArEr"):
        assert AdminApi(url, ADMIN_TOKEN, scheme=scheme).get("/api/v1/exams").status == 200


def test_path_ids_follow_grammar(admin):
    with pytest.raises(ApiError) as e:
        admin.get("/api/v1/exams/bad%20id")
    err(e.value, 422, "invalid_payload")
    with pytest.raises(ApiError) as e:
        admin.get("/api/v1/exams/" + "x" * 65)
    err(e.value, 422, "invalid_payload")


def test_healthz_and_metrics(server, make_exam):
    r = HttpClient(server.base_url).get("/healthz")
    assert r.status == 200 and r.body["status"] == "ok"
    ex = make_exam()
    p = ex.proctor()
    st = ex.student()
    assert st.send_incident(uid("i"), "no_face", now_ms())["status"] == "accepted"
    p.wait_for("score")
    text = HttpClient(server.base_url).get("/metrics").content.decode()
    # OPERATIONS.md § Health, metrics, logs
    for name in ("vigil_students_connected", "vigil_proctors_connected",
                 "vigil_incidents_accepted_total", "vigil_scores_emitted_total",
                 "vigil_store_commits_total", "vigil_store_writes_total",
                 "vigil_fanout_latency_seconds"):
        assert name in text, f"{name} missing from /metrics"
