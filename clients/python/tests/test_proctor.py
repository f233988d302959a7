"""/proctor: snapshot, score, incident notices, presence, actions (PROTOCOL § /proctor)."""
import threading

import pytest

from conftest import full_settings, metric, uid, wait_until
from vigil_client import ProctorConnection, StudentConnection, now_ms, schema


def expected_score(incidents, t, weights, half_life_s):
    """SCORING.md: Σ_{s_i ≤ t} w(k_i) · 2^(−(t − s_i)/(1000·h))"""
    return sum(weights.get(k, 0) * 2 ** (-(t - s) / (1000 * half_life_s))
               for k, s in incidents if s <= t)


def level_of(score, rules):
    return "alert" if score >= rules["alert_at"] else "watch" if score >= rules["watch_at"] else "ok"


def test_snapshot_event_and_http_agree(exam):
    p = exam.proctor()
    snap = schema.check(p.snapshot(), "ExamSnapshot")
    assert snap["exam"] == exam.exam
    assert sorted(v["student"]["id"] for v in snap["students"]) == ["ada", "bo"]
    for v in snap["students"]:
        assert v["score"]["seq"] == 0 and v["score"]["score"] == 0
        assert v["presence"] == "offline" and "last_incident" not in v
    http = schema.check(exam.proctor_http().snapshot(exam.id), "ExamSnapshot")
    strip = lambda s: [{k: v for k, v in sv.items() if k != "score"} for sv in s["students"]]
    assert sorted(strip(http), key=str) == sorted(strip(snap), key=str)


def test_score_update_leading_edge_and_value(exam):
    p = exam.proctor()
    s = exam.student()
    rules = exam.exam["settings"]["scoring"]
    n = now_ms()
    ack = s.send_incident(uid("i"), "multiple_faces", n - 1000)
    ack_at = now_ms()
    assert ack["status"] == "accepted"
    u = schema.check(p.wait_for("score", lambda u: u["student_id"] == "ada"), "ScoreUpdate")
    assert u["seq"] == 1
    # "The accepted ack means ... the proctors' score update has already been emitted" (a first
    # update of a quiet student is not held by the coalescer)
    assert u["emitted_at"] <= ack_at + 1, (u, ack_at)
    assert u["emitted_at"] >= u["as_of"]
    exp = expected_score([("multiple_faces", n - 1000)], u["as_of"], rules["weights"],
                         rules["half_life_s"])
    assert u["score"] == pytest.approx(exp, rel=1e-9, abs=1e-9)
    assert u["level"] == level_of(u["score"], rules) == "watch"
    snap = p.snapshot()
    view = [v for v in snap["students"] if v["student"]["id"] == "ada"][0]
    assert view["score"]["seq"] == 1
    assert view["last_incident"]["kind"] == "multiple_faces"


def test_score_coalescing(exam):
    """'coalesced per student, at most one per 100 ms, the first of a burst at once'."""
    p = exam.proctor()
    s = exam.student()
    rules = exam.exam["settings"]["scoring"]
    seq = s.next_seq()
    n = now_ms()
    msgs = [{"id": uid("i"), "seq": seq + k, "kind": "no_face", "started_at": n - k}
            for k in range(12)]
    acks = []
    done = threading.Event()
    for m in msgs:
        s.emit("incident", m, callback=lambda a: (acks.append(a),
                                                  len(acks) == len(msgs) and done.set()))
    assert done.wait(30)
    assert all(a["status"] == "accepted" for a in acks), acks
    last = p.wait_for("score", lambda u: u["student_id"] == "ada" and u["seq"] == 12)
    ups = p.received("score", pred=lambda u: u["student_id"] == "ada")
    for u in ups:
        schema.check(u, "ScoreUpdate")
    seqs = [u["seq"] for u in ups]
    assert seqs[0] == 1, f"the first of a burst is sent at once: {seqs}"
    assert seqs == sorted(set(seqs)), f"updates leave in commit order: {seqs}"
    assert ups[-1] is last, "the latest state is delivered (trailing edge)"
    gaps = [b["emitted_at"] - a["emitted_at"] for a, b in zip(ups, ups[1:])]
    assert all(g >= 100 for g in gaps), f"more than one update per 100 ms: {gaps}"
    exp = expected_score([("no_face", m["started_at"]) for m in msgs], last["as_of"],
                         rules["weights"], rules["half_life_s"])
    assert last["score"] == pytest.approx(exp, rel=1e-9)
    assert last["level"] == "alert"


def test_refused_incidents_do_not_change_the_score(exam):
    p = exam.proctor()
    s = exam.student()
    seq = s.next_seq()
    bad = uid("bad")
    assert s.report({"id": bad, "seq": seq, "kind": "no_face", "started_at": now_ms(),
                     "confidence": 9})["status"] == "rejected"
    good = uid("good")
    assert s.send_incident(good, "no_face", now_ms())["status"] == "accepted"
    p.wait_for("incident", lambda r: r["id"] == good)
    u = p.wait_for("score", lambda u: u["student_id"] == "ada")
    assert u["seq"] == 1
    assert not p.received("incident", pred=lambda r: r["id"] == bad)


def test_snapshot_then_updates(exam):
    """A reconnecting dashboard applies updates whose seq is greater than the snapshot's."""
    s = exam.student()
    for _ in range(3):
        assert s.send_incident(uid("i"), "window_blur", now_ms())["status"] == "accepted"
    p = exam.proctor()
    snap = p.snapshot()
    view = [v for v in snap["students"] if v["student"]["id"] == "ada"][0]
    assert view["score"]["seq"] == 3
    assert s.send_incident(uid("i"), "window_blur", now_ms())["status"] == "accepted"
    u = p.wait_for("score", lambda u: u["student_id"] == "ada")
    assert u["seq"] == 4 > view["score"]["seq"]


def test_incident_notice_resent_when_older_incident_ends(exam):
    p = exam.proctor()
    s = exam.student()
    n = now_ms()
    a, b = uid("a"), uid("b")
    assert s.send_incident(a, "looking_away", n - 5000)["status"] == "accepted"
    assert s.send_incident(b, "tab_hidden", n - 1000)["status"] == "accepted"
    p.wait_for("incident", lambda r: r["id"] == b)
    mark = p.mark()
    assert s.send_end(a, n - 500)["status"] == "accepted"
    rec = schema.check(p.wait_for("incident", lambda r: r["id"] == a, since=mark),
                       "IncidentRecord")
    assert rec["ended_at"] == n - 500 and rec["kind"] == "looking_away"


def test_presence_live_and_offline(exam):
    p = exam.proctor()
    mark = p.mark()
    s = exam.student("bo")
    up = schema.check(p.wait_for("presence", lambda u: u["student_id"] == "bo", since=mark),
                      "PresenceUpdate")
    assert up["presence"] == "live"
    view = [v for v in p.snapshot()["students"] if v["student"]["id"] == "bo"][0]
    assert view["presence"] == "live"
    s.close()
    off = p.wait_for("presence", lambda u: u["student_id"] == "bo" and u["presence"] == "offline",
                     since=mark)
    assert off["at"] >= up["at"]
    view = [v for v in p.snapshot()["students"] if v["student"]["id"] == "bo"][0]
    assert view["presence"] == "offline"


def test_second_tab_keeps_student_present(fresh_server, make_exam, admin):
    from vigil_client import AdminApi
    from conftest import ADMIN_TOKEN
    ex = make_exam(full_settings(), srv=fresh_server,
                   adm=AdminApi(fresh_server.base_url, ADMIN_TOKEN))
    p = ex.proctor()
    tab1 = ex.student()
    p.wait_for("presence", lambda u: u["presence"] == "live")
    tab2 = ex.student()
    wait_until(lambda: metric(fresh_server, "vigil_students_connected") == 2,
               what="two student sockets")
    tab1.close()
    # proof that the server processed the first tab's disconnect
    wait_until(lambda: metric(fresh_server, "vigil_students_connected") == 1,
               what="the first tab's disconnect")
    assert [u["presence"] for u in p.received("presence")] == ["live"]
    view = p.snapshot()["students"][0]
    assert view["presence"] == "live"
    tab2.close()
    p.wait_for("presence", lambda u: u["presence"] == "offline")
    assert [u["presence"] for u in p.received("presence")] == ["live", "offline"]


def test_stalled_then_live(make_exam):
    ex = make_exam(full_settings(stall_after_s=1))
    p = ex.proctor()
    s = ex.student()
    s.heartbeat()
    st = p.wait_for("presence", lambda u: u["presence"] == "stalled", timeout=30)
    schema.check(st, "PresenceUpdate")
    lost = p.wait_for("incident", lambda r: r["kind"] == "heartbeat_lost")
    schema.check(lost, "IncidentRecord")
    assert lost["source"] == "server" and lost["id"].startswith("srv-heartbeat_lost-")
    i = [e for e in p.events if e == ("presence", st)]
    mark = p.events.index(i[0]) + 1
    s.heartbeat()
    back = p.wait_for("presence", lambda u: u["presence"] in ("live", "offline"), since=mark)
    assert back["presence"] == "live"
    snap = p.snapshot()
    assert snap["students"][0]["presence"] in ("live", "stalled")


def test_worker_stalled_once_per_episode(exam):
    p = exam.proctor()
    s = exam.student()
    stalled = lambda r: r["kind"] == "worker_stalled"
    s.heartbeat(worker_ok=False)   # before watching starts: not stalled (models loading)
    s.heartbeat(worker_ok=True)    # watching starts
    s.heartbeat(worker_ok=False)   # episode 1
    s.heartbeat(worker_ok=False)   # same episode
    s.heartbeat(worker_ok=True)    # episode ends
    s.heartbeat(worker_ok=False)   # episode 2
    first = p.wait_for("incident", stalled)
    second = p.wait_for("incident", lambda r: stalled(r) and r["id"] != first["id"])
    for r in (first, second):
        schema.check(r, "IncidentRecord")
        assert r["source"] == "server" and r["id"].startswith("srv-worker_stalled-")
    # both episodes were processed (heartbeats of one socket in order): exactly two incidents
    ids = {r["id"] for r in p.received("incident", pred=stalled)}
    assert len(ids) == 2, ids
    recs = exam.proctor_http().incidents(exam.id, "ada")
    assert len([r for r in recs if r["kind"] == "worker_stalled"]) == 2


def test_action_delivered_to_student(exam):
    p = exam.proctor()
    s = exam.student("ada")
    other = exam.student("bo")
    before = now_ms()
    ack = p.action("ada", "warn", "eyes on your screen, please", newer_field=True)
    schema.check(ack, "RequestAck")
    assert ack == {"status": "ok"}
    got = schema.check(s.wait_for("proctor_action"), "ProctorAction")
    assert got["kind"] == "warn" and got["text"] == "eyes on your screen, please"
    assert got["at"] >= before - 1000
    assert schema.check(p.action("bo", "pause"), "RequestAck")["status"] == "ok"
    got_b = other.wait_for("proctor_action")
    assert got_b["kind"] == "pause" and "text" not in got_b
    # bo's action was delivered after ada's: ada never got bo's
    assert s.received("proctor_action") == [got]
    # Pause, resume and terminate change the session, so they come in an order it allows.
    for kind in ("message", "pause", "resume", "flag_for_review", "terminate"):
        assert p.action("ada", kind, "t")["status"] == "ok"
        s.wait_for("proctor_action", lambda a, k=kind: a["kind"] == k)


def test_action_refusals(exam, make_exam):
    p = exam.proctor()
    other = make_exam(students=("zed",))
    for sid, kind, reason in (("nobody", "warn", "unknown_student"),
                              ("zed", "warn", "unknown_student"),  # on another exam
                              ("ada", "explode", "invalid_payload"),
                              ("bad id", "warn", "invalid_payload")):
        a = schema.check(p.action(sid, kind), "RequestAck")
        assert a["status"] == "rejected" and a["reason"] == reason, (sid, kind, a)
    a = p.call("action", {"kind": "warn"})
    assert a["status"] == "rejected" and a["reason"] == "invalid_payload"


def test_proctor_sees_only_its_exam(exam, make_exam):
    other = make_exam()
    p = exam.proctor()
    q = other.proctor()
    so = other.student()
    hidden = uid("other")
    assert so.send_incident(hidden, "no_face", now_ms())["status"] == "accepted"
    q.wait_for("incident", lambda r: r["id"] == hidden)
    mine = uid("mine")
    s = exam.student()
    assert s.send_incident(mine, "no_face", now_ms())["status"] == "accepted"
    p.wait_for("incident", lambda r: r["id"] == mine)
    p.wait_for("score")
    assert not p.received("incident", pred=lambda r: r["id"] == hidden)
    assert all(u["student_id"] in ("ada", "bo") for _, u in p.events if isinstance(u, dict)
               and "student_id" in u)


def test_student_namespace_refuses_proctor_events(exam):
    s = exam.student()
    for ev, payload in (("watch", {"slot": 0, "student_id": "ada", "quality": "full"}),
                        ("unwatch", {"slot": 0}), ("rtc_subscribe", {"sdp": "v=0"})):
        a = s.call(ev, payload)
        assert a["status"] == "rejected" and a["reason"] == "forbidden", (ev, a)


def test_accepted_ack_and_the_score_update(exam):
    """PROTOCOL: 'The accepted ack means the incident is committed ..., and the proctors' score
    update has left or is scheduled: the first change after a quiet spell is emitted before the
    ack, later changes within 100 ms of it follow at the end of that interval.'"""
    p = exam.proctor()
    s = exam.student()
    assert s.send_incident(uid("i"), "no_face", now_ms())["status"] == "accepted"
    first_acked_at = now_ms()
    assert s.send_incident(uid("i"), "no_face", now_ms())["status"] == "accepted"
    u1 = p.wait_for("score", lambda u: u["seq"] == 1)
    u2 = p.wait_for("score", lambda u: u["seq"] == 2)
    assert u1["emitted_at"] <= first_acked_at, "DOC MISMATCH: the first change was not emitted before its ack"
    # Whether the second change came inside the interval (held to its end)
    # or after it (a new leading edge), no two updates are closer than 100 ms.
    assert u2["emitted_at"] >= u1["emitted_at"] + 100, \
        f"DOC MISMATCH: the second update left {u2['emitted_at'] - u1['emitted_at']} ms after the first, " \
        "inside the 100 ms interval"


def test_restart_after_kill_keeps_accepted_incidents(fresh_server, make_exam):
    """'The accepted ack means the incident is committed to the database (it survives kill -9)';
    SCORING: the score and its seq are rebuilt identically after a restart."""
    from conftest import ADMIN_TOKEN
    from vigil_client import AdminApi, ProctorApi, VigilServer
    ex = make_exam(full_settings(), srv=fresh_server,
                   adm=AdminApi(fresh_server.base_url, ADMIN_TOKEN))
    s = ex.student()
    ids = [uid("i") for _ in range(3)]
    for iid in ids:
        assert s.send_incident(iid, "tab_hidden", now_ms())["status"] == "accepted"
    before = ex.proctor_http().snapshot(ex.id)["students"][0]["score"]
    s.close()
    fresh_server.proc.kill()  # SIGKILL of the process this test started
    fresh_server.proc.wait()
    again = VigilServer(fresh_server.binary, admin_token=ADMIN_TOKEN,
                        data_dir=fresh_server.data_dir).start()
    try:
        api = ProctorApi(again.base_url, ex.proctor_token())
        after = api.snapshot(ex.id)["students"][0]["score"]
        assert after["seq"] == before["seq"] == 3
        assert after["as_of"] >= before["as_of"]
        assert {r["id"] for r in api.incidents(ex.id, "ada")} == set(ids)
        c = StudentConnection(again.base_url, ex.student_token()).connect()
        try:
            assert c.welcome()["next_seq"] == s.seq
        finally:
            c.close()
    finally:
        again.stop()
