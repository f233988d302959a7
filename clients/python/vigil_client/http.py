"""HTTP API (PROTOCOL.md § HTTP). Errors are `ErrorBody` `{ "error": { reason, message, retry_after_ms? } }`."""
from __future__ import annotations

from typing import Any

import requests


class ApiError(Exception):
    def __init__(self, status: int, body: Any, text: str):
        self.status = status
        self.body = body
        self.text = text
        err = body.get("error") if isinstance(body, dict) else None
        self.reason = err.get("reason") if isinstance(err, dict) else None
        self.message = err.get("message") if isinstance(err, dict) else None
        self.retry_after_ms = err.get("retry_after_ms") if isinstance(err, dict) else None
        super().__init__(f"HTTP {status}: {text[:300]}")


class Response:
    """Status, headers and decoded body of a successful call."""

    def __init__(self, r: requests.Response):
        self.status = r.status_code
        self.headers = r.headers
        self.content = r.content
        ctype = r.headers.get("content-type", "")
        self.body = r.json() if "json" in ctype else None


class HttpClient:
    def __init__(self, base_url: str, token: str | None = None, scheme: str = "Bearer",
                 timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.scheme = scheme
        self.timeout = timeout
        self.session = requests.Session()

    def _headers(self, extra: dict | None = None) -> dict:
        h = {}
        if self.token is not None:
            h["Authorization"] = f"{self.scheme} {self.token}"
        if extra:
            h.update(extra)
        return h

    def request(self, method: str, path: str, *, json: Any = None, data: bytes | None = None,
                headers: dict | None = None, raw_json: str | None = None) -> Response:
        h = self._headers(headers)
        if raw_json is not None:
            h.setdefault("Content-Type", "application/json")
            data = raw_json.encode()
        r = self.session.request(method, self.base_url + path, json=json, data=data, headers=h,
                                 timeout=self.timeout)
        if r.status_code >= 400:
            try:
                body = r.json()
            except ValueError:
                body = None
            raise ApiError(r.status_code, body, r.text)
        return Response(r)

    def get(self, path: str, **kw) -> Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw) -> Response:
        return self.request("POST", path, **kw)


class AdminApi(HttpClient):
    """Admin REST: exams, rosters and join links."""

    def create_exam(self, title: str, id: str | None = None, settings: dict | None = None) -> dict:
        body: dict = {"title": title}
        if id is not None:
            body["id"] = id
        if settings is not None:
            body["settings"] = settings
        return self.post("/api/v1/exams", json=body).body

    def list_exams(self) -> list:
        return self.get("/api/v1/exams").body

    def roster(self, exam_id: str) -> dict:
        return self.get(f"/api/v1/exams/{exam_id}").body

    def add_student(self, exam_id: str, name: str, id: str | None = None) -> dict:
        body = {"name": name} | ({"id": id} if id is not None else {})
        return self.post(f"/api/v1/exams/{exam_id}/students", json=body).body

    def add_proctor(self, exam_id: str, name: str, id: str | None = None) -> dict:
        body = {"name": name} | ({"id": id} if id is not None else {})
        return self.post(f"/api/v1/exams/{exam_id}/proctors", json=body).body

    def issue_link(self, exam_id: str, role: str, subject: str, ttl_s: int | None = None) -> dict:
        body: dict = {"role": role, "subject": subject}
        if ttl_s is not None:
            body["ttl_s"] = ttl_s
        return self.post(f"/api/v1/exams/{exam_id}/links", json=body).body


class ProctorApi(HttpClient):
    def snapshot(self, exam_id: str) -> dict:
        return self.get(f"/api/v1/exams/{exam_id}/snapshot").body

    def incidents(self, exam_id: str, student_id: str) -> list:
        return self.get(f"/api/v1/exams/{exam_id}/students/{student_id}/incidents").body

    def evidence(self, exam_id: str, sha256: str) -> Response:
        return self.get(f"/api/v1/exams/{exam_id}/evidence/{sha256}")


class StudentApi(HttpClient):
    def upload_evidence(self, incident_id: str, jpeg: bytes, captured_at: int | str | None,
                        content_type: str = "image/jpeg") -> Response:
        headers = {"Content-Type": content_type}
        if captured_at is not None:
            headers["x-vigil-captured-at"] = str(captured_at)
        return self.post(f"/api/v1/evidence/{incident_id}", data=jpeg, headers=headers)
