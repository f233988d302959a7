"""Proctor HTTP reads: snapshot and incidents; Authorization handling; ErrorBody."""
import time

import pytest

from conftest import forge_token, uid
from vigil_client import ApiError, HttpClient, ProctorApi, now_ms, schema


def err(e: ApiError, status: int, reason: str):
    assert e.status == status, f"expected HTTP {status} {reason}, got {e.status}: {e.text}"
    schema.check(e.body, "ErrorBody")
    assert e.reason == reason, e.body
    assert e.message


def test_snapshot_and_incidents(exam):
    s = exam.student()
    n = now_ms()
    a, b = uid("a"), uid("b")
    assert s.send_incident(a, "no_face", n - 2000, confidence=0.7)["status"] == "accepted"
    assert s.send_incident(b, "second_screen", n - 1000, detail="HDMI")["status"] == "accepted"
    assert s.send_end(a, n - 1500)["status"] == "accepted"
    api = exam.proctor_http()
    snap = schema.check(api.snapshot(exam.id), "ExamSnapshot")
    ada = [v for v in snap["students"] if v["student"]["id"] == "ada"][0]
    assert ada["score"]["seq"] == 2 and ada["presence"] == "live"
    recs = api.incidents(exam.id, "ada")
    for r in recs:
        schema.check(r, "IncidentRecord")
    by_id = {r["id"]: r for r in recs}
    assert set(by_id) == {a, b}
    assert by_id[a]["ended_at"] == n - 1500 and by_id[a]["confidence"] == 0.7
    assert by_id[b]["detail"] == "HDMI" and by_id[b]["kind"] == "second_screen"
    assert api.incidents(exam.id, "bo") == []


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_scheme_is_case_insensitive(exam, scheme):
    api = exam.proctor_http(scheme=scheme)
    assert api.snapshot(exam.id)["exam"]["id"] == exam.id
    assert isinstance(api.incidents(exam.id, "ada"), list)


def test_auth_refusals(server, exam, make_exam):
    url = exam.url
    path = f"/api/v1/exams/{exam.id}/snapshot"
    with pytest.raises(ApiError) as e:
        HttpClient(url).get(path)
    err(e.value, 401, "missing_token")
    with pytest.raises(ApiError) as e:
        HttpClient(url, "garbage").get(path)
    err(e.value, 401, "invalid_token")
    with pytest.raises(ApiError) as e:
        HttpClient(url, exam.student_token()).get(path)
    err(e.value, 403, "wrong_scope")
    with pytest.raises(ApiError) as e:
        HttpClient(url, exam.admin.token).get(path)
    assert e.value.status == 401, e.value.text
    now = int(time.time())
    expired = forge_token(server, {"sub": "pat", "exam": exam.id, "role": "proctor",
                                   "iat": now - 7200, "exp": now - 3600})
    with pytest.raises(ApiError) as e:
        HttpClient(url, expired).get(path)
    err(e.value, 401, "expired_token")
    other = make_exam()
    for p in (f"/api/v1/exams/{other.id}/snapshot",
              f"/api/v1/exams/{other.id}/students/ada/incidents"):
        with pytest.raises(ApiError) as e:
            exam.proctor_http().get(p)
        err(e.value, 403, "forbidden")


def test_path_ids(exam):
    api = exam.proctor_http()
    with pytest.raises(ApiError) as e:
        api.get(f"/api/v1/exams/{exam.id}/students/bad%20id/incidents")
    err(e.value, 422, "invalid_payload")
    with pytest.raises(ApiError) as e:
        api.get(f"/api/v1/exams/{exam.id}/students/{'x' * 65}/incidents")
    err(e.value, 422, "invalid_payload")
