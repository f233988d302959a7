"""Sequence numbers and rate limits (PROTOCOL § /student)."""
import threading
import time

from conftest import uid
from vigil_client import StudentConnection, now_ms, schema


def inc(seq, iid=None, kind="window_blur", **extra):
    return {"id": iid or uid("i"), "seq": seq, "kind": kind, "started_at": now_ms(), **extra}


def status(a):
    schema.check(a, "IncidentAck")
    return a["status"] if a["status"] != "rejected" else a["reason"]


def reconnect_next_seq(ex, sid="ada"):
    c = StudentConnection(ex.url, ex.student_token(sid)).connect()
    try:
        return c.welcome()["next_seq"]
    finally:
        c.close()


def test_one_counter_for_incident_and_end(exam):
    s = exam.student()
    seq = s.next_seq()
    iid = uid("i")
    assert status(s.report(inc(seq, iid))) == "accepted"
    # incident_end shares the counter: seq is used
    assert status(s.end({"id": iid, "seq": seq, "ended_at": now_ms()})) == "sequence_replayed"
    assert status(s.end({"id": iid, "seq": seq + 1, "ended_at": now_ms()})) == "accepted"
    # and an incident cannot reuse the end's number
    assert status(s.report(inc(seq + 1))) == "sequence_replayed"
    assert status(s.report(inc(seq + 2))) == "accepted"
    assert reconnect_next_seq(exam) == seq + 3


def test_refused_messages_do_not_use_their_number(exam):
    s = exam.student()
    seq = s.next_seq()
    for bad in (inc(seq, confidence=3), inc(seq, kind="heartbeat_lost"),
                inc(seq, started_at=now_ms() + 60_000), inc(seq, id="srv-nope")):
        assert status(s.report(bad)) != "accepted"
    assert status(s.end({"id": uid("nope"), "seq": seq, "ended_at": now_ms()})) == \
        "unknown_incident"
    assert reconnect_next_seq(exam) == seq
    assert status(s.report(inc(seq))) == "accepted"
    assert reconnect_next_seq(exam) == seq + 1


def test_next_seq_after_reload(exam):
    s = exam.student()
    first = s.next_seq()
    for k in range(3):
        assert s.send_incident(uid("i"), "no_face", now_ms())["status"] == "accepted"
    s.close()
    again = exam.student()
    w = again.welcome()
    assert w["next_seq"] == first + 3
    # "After a reload, continue from welcome.next_seq."
    assert again.send_incident(uid("i"), "no_face", now_ms())["status"] == "accepted"


def test_anti_replay_window(exam):
    s = exam.student()
    assert status(s.report(inc(100))) == "accepted"
    # 64 or more below the highest used: too old
    assert status(s.report(inc(36))) == "sequence_too_old"
    assert status(s.report(inc(1))) == "sequence_too_old"
    # 63 below: inside the window, never used: accepted once
    assert status(s.report(inc(37))) == "accepted"
    assert status(s.report(inc(37))) == "sequence_replayed"
    # overtaking messages inside the window are still accepted once
    for n in (99, 50, 98):
        assert status(s.report(inc(n))) == "accepted"
        assert status(s.report(inc(n))) == "sequence_replayed"
    assert status(s.report(inc(100))) == "sequence_replayed"
    # jumping ahead moves the window
    assert status(s.report(inc(200))) == "accepted"
    assert status(s.report(inc(136))) == "sequence_too_old"
    assert status(s.report(inc(137))) == "accepted"
    assert reconnect_next_seq(exam) == 201


def pipeline(s, messages, event="incident"):
    """Emit all messages without waiting, return their acks in message order."""
    acks = [None] * len(messages)
    done = threading.Event()
    left = [len(messages)]
    lock = threading.Lock()

    def cb(i):
        def f(a):
            acks[i] = a
            with lock:
                left[0] -= 1
                if left[0] == 0:
                    done.set()
        return f

    for i, m in enumerate(messages):
        s.emit(event, m, callback=cb(i))
    assert done.wait(60), "not every message was acknowledged"
    return acks


def test_rate_limit_burst_then_retry_after(exam):
    """Burst 20, then 2 per second; refused with rate_limited and retry_after_ms; a refused
    message keeps its number and can be resent unchanged."""
    s = exam.student()
    base = s.next_seq()
    msgs = [inc(base + k) for k in range(40)]
    acks = pipeline(s, msgs)
    stats = [status(a) for a in acks]
    accepted = [m for m, st in zip(msgs, stats) if st == "accepted"]
    limited = [(m, a) for m, a in zip(msgs, acks) if status(a) == "rate_limited"]
    assert set(stats) <= {"accepted", "rate_limited"}, stats
    assert len(accepted) >= 20, f"the burst is 20: {stats}"
    assert limited, "40 messages at once were not rate limited"
    for m, a in limited:
        assert a["id"] == m["id"]
        assert isinstance(a.get("retry_after_ms"), int) and a["retry_after_ms"] > 0, a
    # the first 20 sent are within the burst (messages of one socket are decided in order)
    assert stats[:20] == ["accepted"] * 20, stats
    # resend two refused messages unchanged (same id, same seq) after retry_after_ms
    for m, a in limited[:2]:
        wait = a["retry_after_ms"]
        for _ in range(10):
            time.sleep(wait / 1000)
            again = s.report(m)
            if status(again) != "rate_limited":
                break
            wait = again["retry_after_ms"]
        assert status(again) == "accepted", again


def test_refused_messages_count_against_the_rate(exam):
    """The rate limit is the first rule: refused messages use up the bucket too."""
    s = exam.student()
    seq = s.next_seq()
    acks = pipeline(s, [inc(seq, confidence=5) for _ in range(40)] + [inc(seq)])
    stats = [status(a) for a in acks]
    assert stats[:20] == ["invalid_payload"] * 20, stats
    assert stats[-1] == "rate_limited", stats
    assert acks[-1]["retry_after_ms"] > 0


def test_rate_limit_is_per_student(exam):
    a = exam.student("ada")
    b = exam.student("bo")
    seq = a.next_seq()
    stats = [status(x) for x in pipeline(a, [inc(seq + k) for k in range(40)])]
    assert "rate_limited" in stats
    assert b.send_incident(uid("i"), "no_face", now_ms())["status"] == "accepted"


def test_incident_end_shares_the_rate(exam):
    s = exam.student()
    seq = s.next_seq()
    acks = pipeline(s, [inc(seq + k) for k in range(20)])
    assert [status(a) for a in acks] == ["accepted"] * 20
    ends = pipeline(s, [{"id": uid("nope"), "seq": seq + 20 + k, "ended_at": now_ms()}
                        for k in range(20)], event="incident_end")
    assert "rate_limited" in [status(a) for a in ends]
