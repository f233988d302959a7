"""/student `incident` and `incident_end`: acks, dedupe, validation (PROTOCOL § /student)."""
import pytest

from conftest import full_settings, uid
from vigil_client import now_ms, schema


def ack_of(a, status, id=None, reason=None):
    schema.check(a, "IncidentAck")
    assert a["status"] == status, f"expected {status}/{reason}, got {a}"
    if reason:
        assert a["reason"] == reason, f"expected reason {reason}, got {a}"
        assert a["message"]
    if id is not None:
        assert a.get("id") == id, f"ack should carry id {id!r}: {a}"
    return a


def test_accepted_and_proctor_notice(exam):
    p = exam.proctor()
    s = exam.student("ada")
    n = now_ms()
    iid = uid("inc")
    ack = s.send_incident(iid, "multiple_faces", n - 1500, confidence=0.93, detail="two faces")
    ack_of(ack, "accepted", iid)
    rec = schema.check(p.wait_for("incident", lambda r: r["id"] == iid), "IncidentRecord")
    assert rec["student_id"] == "ada" and rec["kind"] == "multiple_faces"
    assert rec["source"] == "client"
    assert rec["started_at"] == n - 1500 and rec["confidence"] == 0.93
    assert rec["detail"] == "two faces"
    assert "ended_at" not in rec and "evidence_sha256" not in rec
    assert rec["accepted_at"] >= n - 2000


def test_report_with_ended_at(exam):
    s = exam.student()
    n = now_ms()
    iid = uid("inc")
    ack_of(s.send_incident(iid, "tab_hidden", n - 3000, ended_at=n - 1000), "accepted", iid)
    recs = exam.proctor_http().incidents(exam.id, "ada")
    rec = [r for r in recs if r["id"] == iid][0]
    assert rec["ended_at"] == n - 1000
    # ending it again: already_ended
    ack_of(s.send_end(iid, n), "rejected", iid, "already_ended")


def test_duplicate_and_conflicting_duplicate(exam):
    s = exam.student()
    n = now_ms()
    iid = uid("inc")
    seq = s.next_seq()
    msg = {"id": iid, "seq": seq, "kind": "no_face", "started_at": n, "confidence": 0.5}
    ack_of(s.report(msg), "accepted", iid)
    ack_of(s.report(dict(msg)), "duplicate", iid)
    ack_of(s.report(dict(msg, confidence=0.6)), "rejected", iid, "conflicting_duplicate")
    ack_of(s.report(dict(msg, kind="looking_away")), "rejected", iid, "conflicting_duplicate")
    # a duplicate does not use a number: the next one is seq+1
    s.seq = seq + 1
    ack_of(s.send_incident(uid("inc"), "no_face", n), "accepted")
    assert s.seq == seq + 2


def test_unknown_fields_are_ignored(exam):
    p = exam.proctor()
    s = exam.student()
    n = now_ms()
    iid = uid("inc")
    seq = s.next_seq()
    ack = s.report({"id": iid, "seq": seq, "kind": "no_face", "started_at": n,
                    "future_field": {"nested": [1, 2]}, "another": "x"})
    ack_of(ack, "accepted", iid)
    ack = s.end({"id": iid, "seq": seq + 1, "ended_at": n + 1, "why": "camera fixed"})
    ack_of(ack, "accepted", iid)
    rec = p.wait_for("incident", lambda r: r["id"] == iid and "ended_at" in r)
    schema.check(rec, "IncidentRecord")  # and the unknown fields were not echoed


@pytest.mark.parametrize("kind", ["explode", "NO_FACE", ""])
def test_unknown_kind_refused(exam, kind):
    s = exam.student()
    a = s.report({"id": uid("inc"), "seq": s.next_seq(), "kind": kind, "started_at": now_ms()})
    ack_of(a, "rejected", reason="invalid_payload")


def test_refusal_of_parseable_message_carries_id(exam):
    s = exam.student()
    iid = uid("inc")
    a = s.report({"id": iid, "seq": s.next_seq(), "kind": "explode", "started_at": now_ms()})
    ack_of(a, "rejected", reason="invalid_payload")
    # "Every IncidentAck carries the message's id, except an invalid_payload for a message that
    # could not be parsed at all (no id field then)." This message parses as JSON and has an id.
    assert a.get("id") == iid, \
        f"DOC MISMATCH: refusal of a message with a readable id but an unknown kind has no id: {a}"


def test_wrong_type_refused(exam):
    s = exam.student()
    for bad in ({"seq": "seven"}, {"started_at": "now"}, {"confidence": "high"},
                {"detail": 5}, {"seq": -1}, {"started_at": 1.5}):
        msg = {"id": uid("inc"), "seq": s.next_seq(), "kind": "no_face", "started_at": now_ms()}
        msg.update(bad)
        ack_of(s.report(msg), "rejected", reason="invalid_payload")


def test_unparseable_message_has_no_id(exam):
    s = exam.student()
    for payload in ("garbage", 42, [1, 2], {"no": "id"}):
        a = s.call("incident", payload)
        ack_of(a, "rejected", reason="invalid_payload")
        assert "id" not in a
    a = s.call("incident_end", "garbage")
    ack_of(a, "rejected", reason="invalid_payload")


@pytest.mark.parametrize("bad_id", ["bad id", "x" * 65, "", "naïve", "a/b", "a:b", "emoji😀"])
def test_id_outside_grammar_refused(exam, bad_id):
    s = exam.student()
    a = s.report({"id": bad_id, "seq": s.next_seq(), "kind": "no_face", "started_at": now_ms()})
    ack_of(a, "rejected", reason="invalid_payload")
    a = s.end({"id": bad_id, "seq": s.next_seq(), "ended_at": now_ms()})
    ack_of(a, "rejected", reason="invalid_payload")


def test_id_grammar_edges_accepted(exam):
    s = exam.student()
    for good in ("x" * 64, "a", "A.b_c-9", "-", "srv", "srv_x", "SRV-upper"):
        ack_of(s.send_incident(good, "no_face", now_ms()), "accepted", good)


def test_srv_prefix_refused_whether_or_not_it_exists(exam):
    p = exam.proctor()
    s = exam.student()
    # make the server raise an incident of its own: worker_stalled at the first heartbeat with
    # worker_ok false, once watching started (a heartbeat with worker_ok true)
    mark = p.mark()
    s.heartbeat(worker_ok=True)
    s.heartbeat(worker_ok=False)
    srv = p.wait_for("incident", lambda r: r["source"] == "server", since=mark)
    schema.check(srv, "IncidentRecord")
    assert srv["id"].startswith("srv-") and srv["kind"] == "worker_stalled"
    ghost = "srv-worker_stalled-0000000000000000"
    n = now_ms()
    seq = s.next_seq()
    answers = {}
    for iid in (srv["id"], ghost):
        answers[("report", iid)] = s.report({"id": iid, "seq": seq, "kind": "no_face",
                                             "started_at": n})
        answers[("end", iid)] = s.end({"id": iid, "seq": seq, "ended_at": n})
    for a in answers.values():
        ack_of(a, "rejected")
    # "the refusal is the same whether such an incident exists or not"
    for op in ("report", "end"):
        a, b = answers[(op, srv["id"])], answers[(op, ghost)]
        assert (a["reason"], a["message"].replace(srv["id"], "ID")) == \
               (b["reason"], b["message"].replace(ghost, "ID")), (a, b)
    # the refused number is still free
    ack_of(s.send_incident(uid("inc"), "no_face", n), "accepted")
    assert s.seq == seq + 1


def test_server_only_kinds_refused(exam):
    s = exam.student()
    for kind in schema.SERVER_ONLY_KINDS:
        iid = uid("inc")
        ack_of(s.report({"id": iid, "seq": s.next_seq(), "kind": kind, "started_at": now_ms()}),
               "rejected", iid, "server_only_kind")


def test_every_client_kind_accepted(exam):
    s = exam.student()
    for kind in schema.CLIENT_KINDS:
        ack_of(s.send_incident(uid(kind[:8]), kind, now_ms()), "accepted")


def test_disabled_detector(make_exam):
    ex = make_exam(full_settings(disabled_detectors=["copy_paste", "second_screen"]))
    s = ex.student()
    assert s.welcome()["settings"]["disabled_detectors"] == ["copy_paste", "second_screen"]
    for kind in ("copy_paste", "second_screen"):
        iid = uid("inc")
        ack_of(s.send_incident(iid, kind, now_ms()), "rejected", iid, "detector_disabled")
    ack_of(s.send_incident(uid("inc"), "tab_hidden", now_ms()), "accepted")


def test_confidence_and_detail_bounds(exam):
    s = exam.student()
    n = now_ms()
    for c in (-0.01, 1.01, 2):
        ack_of(s.send_incident(uid("inc"), "no_face", n, confidence=c), "rejected",
               reason="invalid_payload")
    for c in (0, 1, 0.5):
        ack_of(s.send_incident(uid("inc"), "no_face", n, confidence=c), "accepted")
    ack_of(s.send_incident(uid("inc"), "no_face", n, detail="d" * 201), "rejected",
           reason="invalid_payload")
    ack_of(s.send_incident(uid("inc"), "no_face", n, detail="d" * 200), "accepted")
    # "characters", not bytes
    ack_of(s.send_incident(uid("inc"), "no_face", n, detail="é" * 200), "accepted")


def test_time_rules(make_exam):
    n = now_ms()
    ex = make_exam(full_settings(window={"opens_at": n - 3600_000, "closes_at": n + 3600_000}))
    s = ex.student()
    iid = uid("inc")
    ack_of(s.send_incident(iid, "no_face", n - 3600_000 - 1), "rejected", iid,
           "outside_exam_window")
    ack_of(s.send_incident(iid, "no_face", now_ms() + 10_000), "rejected", iid,
           "timestamp_in_future")
    ack_of(s.send_incident(iid, "no_face", n, ended_at=n - 1), "rejected", iid,
           "end_before_start")
    ack_of(s.send_incident(iid, "no_face", n - 3600_000 + 1000), "accepted", iid)


def test_window_not_open_yet(make_exam):
    n = now_ms()
    ex = make_exam(full_settings(window={"opens_at": n + 3600_000, "closes_at": n + 7200_000}))
    s = ex.student()
    ack_of(s.send_incident(uid("i"), "no_face", now_ms()), "rejected",
           reason="outside_exam_window")


def test_seq_must_be_below_2_63(exam):
    s = exam.student()
    a = s.report({"id": uid("i"), "seq": 2 ** 63, "kind": "no_face", "started_at": now_ms()})
    ack_of(a, "rejected")
    ack_of(s.report({"id": uid("i"), "seq": 2 ** 63 - 1, "kind": "no_face",
                     "started_at": now_ms()}), "accepted")


def test_incident_end(exam):
    p = exam.proctor()
    s = exam.student()
    n = now_ms()
    iid = uid("inc")
    ack_of(s.send_incident(iid, "looking_away", n - 2000), "accepted", iid)
    ack_of(s.send_end(iid, n - 2001), "rejected", iid, "end_before_start")
    ack_of(s.send_end(iid, now_ms() + 10_000), "rejected", iid, "timestamp_in_future")
    ack_of(s.send_end(uid("nope"), n), "rejected", reason="unknown_incident")
    ack_of(s.send_end(iid, n), "accepted", iid)
    ack_of(s.send_end(iid, n + 1), "rejected", iid, "already_ended")
    rec = p.wait_for("incident", lambda r: r["id"] == iid and r.get("ended_at") == n)
    schema.check(rec, "IncidentRecord")


def test_rule_order(exam):
    """'Rules the server enforces on incident (in this order): rate limit; srv- space; seq below
    2^63; dedupe; kind; confidence; detail; started_at; ended_at; sequence number.'"""
    s = exam.student()
    n = now_ms()
    seq = s.next_seq()
    a = s.report({"id": "srv-x1", "seq": 2 ** 63, "kind": "heartbeat_lost", "started_at": n})
    r1 = ack_of(a, "rejected")
    ack_of(s.report({"id": "srv-x2", "seq": seq, "kind": "no_face", "started_at": n}),
           "rejected", reason=r1["reason"])  # srv- before seq (same reason either way)
    iid = uid("inc")
    ack_of(s.report({"id": iid, "seq": seq, "kind": "no_face", "started_at": n}), "accepted")
    # dedupe before sequence: the same message with its used number is a duplicate
    ack_of(s.report({"id": iid, "seq": seq, "kind": "no_face", "started_at": n}), "duplicate")
    # kind before confidence
    ack_of(s.report({"id": uid("i"), "seq": seq + 1, "kind": "media_stalled", "started_at": n,
                     "confidence": 7}), "rejected", reason="server_only_kind")
    # confidence before detail before time
    ack_of(s.report({"id": uid("i"), "seq": seq + 1, "kind": "no_face", "started_at": n + 60_000,
                     "confidence": 7, "detail": "d" * 300}), "rejected", reason="invalid_payload")
    # started_at before ended_at before sequence
    ack_of(s.report({"id": uid("i"), "seq": seq, "kind": "no_face", "started_at": n + 60_000,
                     "ended_at": n}), "rejected", reason="timestamp_in_future")
    ack_of(s.report({"id": uid("i"), "seq": seq, "kind": "no_face", "started_at": n,
                     "ended_at": n - 5}), "rejected", reason="end_before_start")
    ack_of(s.report({"id": uid("i"), "seq": seq, "kind": "no_face", "started_at": n}),
           "rejected", reason="sequence_replayed")
