"""Handshakes on /student and /proctor: 'A refused handshake gives connect_error whose message
starts with the reason'."""
import time

import pytest
import requests

from conftest import forge_token, uid, wait_until
from vigil_client import (HandshakeRefused, ProctorConnection, StudentConnection, now_ms,
                          schema)


def refused(url, cls, token=None, auth=...):
    c = cls(url, token, auth=auth)
    try:
        c.connect()
    except HandshakeRefused as e:
        assert isinstance(e.message, str), f"connect_error data has no message: {e.data!r}"
        return e
    c.close()
    pytest.fail(f"{cls.namespace} handshake was accepted")


def assert_reason(e: HandshakeRefused, reason: str):
    assert e.message.startswith(reason + ":") or e.message == reason, \
        f"connect_error message should start with {reason!r}: {e.message!r}"
    assert reason in schema.REJECT_REASONS


@pytest.mark.parametrize("cls", [StudentConnection, ProctorConnection])
def test_missing_and_invalid_tokens(server, cls):
    assert_reason(refused(server.base_url, cls, auth=None), "missing_token")
    assert_reason(refused(server.base_url, cls, auth={}), "missing_token")
    assert_reason(refused(server.base_url, cls, "not-a-jwt"), "invalid_token")
    # a token signed with another key
    forged = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZGEiLCJleGFtIjoieCIsInJvbGUiOiJzdHVkZW50IiwiaWF0IjoxLCJleHAiOjQxMDI0NDQ4MDB9.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    assert_reason(refused(server.base_url, cls, forged), "invalid_token")


def test_wrong_scope(exam):
    assert_reason(refused(exam.url, StudentConnection, exam.proctor_token()), "wrong_scope")
    assert_reason(refused(exam.url, ProctorConnection, exam.student_token()), "wrong_scope")


def test_expired_token_forged(server, exam):
    now = int(time.time())
    tok = forge_token(server, {"sub": "ada", "exam": exam.id, "role": "student",
                               "iat": now - 7200, "exp": now - 3600})
    assert_reason(refused(exam.url, StudentConnection, tok), "expired_token")
    tok = forge_token(server, {"sub": "pat", "exam": exam.id, "role": "proctor",
                               "iat": now - 7200, "exp": now - 3600})
    assert_reason(refused(exam.url, ProctorConnection, tok), "expired_token")


def test_short_link_expires(exam):
    """IssueLink.ttl_s is the lifetime in seconds; once it is over, the handshake is refused
    with expired_token (the test only checks that it happens, not how soon)."""
    tok = exam.admin.issue_link(exam.id, "student", "ada", ttl_s=1)["token"]
    def attempt():
        c = StudentConnection(exam.url, tok)
        try:
            c.connect()
        except HandshakeRefused as e:
            return e
        c.close()
        time.sleep(0.5)
        return None
    e = wait_until(attempt, timeout=120, what="a ttl_s=1 link to be refused")
    assert_reason(e, "expired_token")


def test_unknown_exam_and_student(server, exam):
    now = int(time.time())
    tok = forge_token(server, {"sub": "ada", "exam": uid("gone"), "role": "student",
                               "iat": now, "exp": now + 600})
    assert_reason(refused(exam.url, StudentConnection, tok), "unknown_exam")
    tok = forge_token(server, {"sub": "ghost", "exam": exam.id, "role": "student",
                               "iat": now, "exp": now + 600})
    assert_reason(refused(exam.url, StudentConnection, tok), "unknown_student")


def test_proctor_not_on_roster(server, exam):
    now = int(time.time())
    tok = forge_token(server, {"sub": "ada", "exam": exam.id, "role": "proctor",
                               "iat": now, "exp": now + 600})
    e = refused(exam.url, ProctorConnection, tok)
    # "unknown_exam, unknown_student, forbidden: the token's exam or subject is not on the roster,
    # or not yours" — which of the three a proctor off the roster gets is not said.
    assert e.reason in ("unknown_student", "forbidden"), e.message


def test_websocket_transport(exam):
    """The websocket transport is served, from the first request."""
    c = exam.student(transports=["websocket"])
    w = c.welcome()
    schema.check(w, "StudentWelcome")
    assert c.sio.transport() == "websocket"
    assert c.send_incident(uid("i"), "no_face", now_ms())["status"] == "accepted"


def test_polling_is_refused(exam):
    """"WebSocket only: a polling handshake is refused" (an engine.io error, HTTP 400)."""
    r = requests.get(exam.url + "/socket.io/", params={"EIO": "4", "transport": "polling"}, timeout=10)
    assert r.status_code == 400, r.text


def test_welcome(exam):
    before = now_ms()
    c = exam.student("ada")
    w = schema.check(c.welcome(), "StudentWelcome")
    assert w["student"] == {"id": "ada", "name": "Ada"}
    assert w["exam_id"] == exam.id
    assert w["exam_title"] == exam.exam["title"]
    assert w["settings"] == exam.exam["settings"]
    assert w["server_time"] >= before - 2000
    assert isinstance(w["next_seq"], int) and w["next_seq"] >= 0
