"""vigil's LTI tool side, checked against Open edX's platform implementation.

`lti_consumer.lti_1p3.consumer.LtiProctoringConsumer` (PyPI package
lti-consumer-xblock, used by edx-exams for LTI Proctoring Services) plays the
learning platform: it builds the third-party login URL, answers vigil's
authentication request with its own signed id_token (LtiStartProctoring,
then LtiEndAssessment), validates the LtiStartAssessment vigil hands back
(`check_and_decode_token`, which fetches vigil's published key set), and
validates vigil's client-credentials assertion at its token endpoint
(`access_token`) before the Assessment Control call. No code is shared with
vigil: only docs/LTI.md and docs/PROTOCOL.md were used to write this.
"""

import json
import os
import secrets
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import django
import pytest
import requests
import socketio
from django.conf import settings

settings.configure(
    PLATFORM_NAME="vigil cross-check",
    CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth"],
    DATABASES={},
    USE_TZ=True,
)
django.setup()

from Cryptodome.PublicKey import RSA  # noqa: E402  (pycryptodomex, a dependency of lti-consumer-xblock)
from lti_consumer.data import Lti1p3LaunchData, Lti1p3ProctoringLaunchData  # noqa: E402
from lti_consumer.lti_1p3.consumer import LtiProctoringConsumer  # noqa: E402

ISSUER = "https://edx.crosscheck.test"
CLIENT_ID = "vigil-edx"
DEPLOYMENT = "1"
ADMIN = "cross-check-admin-token-0123456789"
ACS_SCOPE = "https://purl.imsglobal.org/spec/lti-ap/scope/control.all"
HERE = Path(__file__).resolve().parent
VIGIL_BIN = Path(os.environ.get("VIGIL_BIN") or HERE / "../../../target/debug/vigil").resolve()


class Platform:
    """Open edX's consumer behind a small HTTP server: its key set, token and ACS endpoints."""

    def __init__(self):
        self.key = RSA.generate(2048).export_key().decode()
        self.session_data = f"csrf-{secrets.token_hex(8)}"
        self.acs_calls = []
        self.token_requests = []
        self.consumer = None
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path == "/jwks":
                    self.reply(200, platform.consumer.get_public_keyset())
                else:
                    self.reply(404, {})

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
                if self.path == "/token":
                    form = {k: v[0] for k, v in parse_qs(body).items()}
                    platform.token_requests.append(form)
                    try:
                        # Validates vigil's assertion against vigil's published keys.
                        self.reply(200, platform.consumer.access_token(form))
                    except Exception as e:  # noqa: BLE001 - any refusal is a 400 to vigil
                        self.reply(400, {"error": "invalid_client", "detail": repr(e)})
                elif self.path == "/acs":
                    token = self.headers.get("authorization", "").removeprefix("Bearer ")
                    allowed = platform.consumer.check_token(token, allowed_scopes=[ACS_SCOPE])
                    platform.acs_calls.append((allowed, self.headers.get("content-type"), json.loads(body)))
                    self.reply(200 if allowed else 403, {"status": "paused"})
                else:
                    self.reply(404, {})

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def make_consumer(self, vigil):
        self.consumer = LtiProctoringConsumer(
            iss=ISSUER,
            lti_oidc_url=f"{vigil}/lti/login",
            lti_launch_url=f"{vigil}/lti/launch",
            client_id=CLIENT_ID,
            deployment_id=DEPLOYMENT,
            rsa_key=self.key,
            rsa_key_id="edx-key-1",
            redirect_uris=[f"{vigil}/lti/launch"],
            tool_keyset_url=f"{vigil}/lti/jwks",
        )
        self.consumer.set_user_data(user_id="edx-learner-7", role="student", full_name="Ada Lovelace")
        self.consumer.set_resource_link_claim("block-v1:edX+Quiz+2026+type@sequential+block@exam7", title="Exam 7")
        self.consumer.set_proctoring_data(
            attempt_number=1,
            session_data=self.session_data,
            start_assessment_url=f"{self.base}/start",
            assessment_control_url=f"{self.base}/acs",
            assessment_control_actions=["pause", "resume", "terminate", "flag"],
            resource_link_id="block-v1:edX+Quiz+2026+type@sequential+block@exam7",
        )

    def launch_data(self, message_type):
        return Lti1p3LaunchData(
            user_id="edx-learner-7",
            user_role="student",
            config_id="00000000-0000-0000-0000-000000000007",
            resource_link_id="block-v1:edX+Quiz+2026+type@sequential+block@exam7",
            message_type=message_type,
            proctoring_launch_data=Lti1p3ProctoringLaunchData(
                attempt_number=1,
                start_assessment_url=f"{self.base}/start",
                assessment_control_url=f"{self.base}/acs",
                assessment_control_actions=["pause", "resume", "terminate", "flag"],
            ),
        )

    def launch(self, vigil, message_type):
        """The whole browser leg without a browser: login, vigil's redirect, the id_token form post."""
        login = requests.get(self.consumer.prepare_preflight_url(self.launch_data(message_type)), allow_redirects=False)
        assert login.status_code == 302, login.text
        query = {k: v[0] for k, v in parse_qs(urlparse(login.headers["location"]).query).items()}
        assert query["response_type"] == "id_token" and query["scope"] == "openid", query
        form = self.consumer.generate_launch_request(query)
        return requests.post(f"{vigil}/lti/launch", data=form, allow_redirects=False)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def vigil():
    if not VIGIL_BIN.exists():
        pytest.fail(f"no vigil binary at {VIGIL_BIN} (cargo build -p vigil, or set VIGIL_BIN)")
    data = tempfile.mkdtemp(prefix="vigil-edx-")
    port = free_port()
    # No live video: the hand-back is then allowed without a published camera
    # (docs/PROTOCOL.md), which this client has none of.
    proc = subprocess.Popen(
        [str(VIGIL_BIN), "serve", "--data-dir", data, "--http", f"127.0.0.1:{port}", "--admin-token", ADMIN, "--udp", "off"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if requests.get(f"{base}/healthz", timeout=1).ok:
                break
        except requests.ConnectionError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail(f"vigil did not start: {proc.stderr.read().decode()}")
    yield base
    proc.terminate()
    proc.wait(timeout=10)


def test_edx_platform_round_trip(vigil):
    platform = Platform()
    platform.make_consumer(vigil)
    admin = {"authorization": f"Bearer {ADMIN}"}
    registered = requests.post(
        f"{vigil}/api/v1/lti/platforms",
        headers=admin,
        json={
            "issuer": ISSUER,
            "client_id": CLIENT_ID,
            "deployment_ids": [DEPLOYMENT],
            "auth_login_url": f"{platform.base}/auth",
            "jwks_url": f"{platform.base}/jwks",
            "token_url": f"{platform.base}/token",
        },
    )
    assert registered.status_code == 201, registered.text

    # LtiStartProctoring, signed by edX's consumer: vigil lands the learner.
    landed = platform.launch(vigil, "LtiStartProctoring")
    assert landed.status_code == 200, landed.text
    target = landed.text.split("url=", 1)[1].split('"', 1)[0]
    page, token = target.split("/#token=")
    assert page == "/student"

    # The hand-back: edX validates vigil's LtiStartAssessment as edx-exams does.
    handed = requests.post(f"{vigil}/api/v1/lti/start-assessment", headers={"authorization": f"Bearer {token}"})
    assert handed.status_code == 200, handed.text
    assert handed.json()["url"] == f"{platform.base}/start"
    claims = platform.consumer.check_and_decode_token(handed.json()["jwt"])
    assert claims is not None

    # A proctor pauses the student: edX's consumer checks vigil's assertion at
    # its token endpoint, and the token at its ACS endpoint.
    exams = requests.get(f"{vigil}/api/v1/exams", headers=admin).json()
    exam = next(e for e in exams if e["id"].startswith("lti-exam-"))
    roster = requests.get(f"{vigil}/api/v1/exams/{exam['id']}", headers=admin).json()
    student = roster["students"][0]["id"]
    added = requests.post(f"{vigil}/api/v1/exams/{exam['id']}/proctors", headers=admin, json={"id": "pat", "name": "Pat"})
    assert added.status_code == 201, added.text
    link = requests.post(f"{vigil}/api/v1/exams/{exam['id']}/links", headers=admin, json={"role": "proctor", "subject": "pat"})
    proctor = socketio.SimpleClient()
    proctor.connect(vigil, namespace="/proctor", auth={"token": link.json()["token"]}, transports=["websocket"])
    try:
        ack = proctor.call("action", {"student_id": student, "kind": "pause", "text": "Camera covered"})
        assert ack == {"status": "ok"}, ack
        deadline = time.time() + 20
        while not platform.acs_calls and time.time() < deadline:
            time.sleep(0.05)
    finally:
        proctor.disconnect()
    assert platform.acs_calls, f"no ACS call; token requests: {platform.token_requests}"
    allowed, content_type, body = platform.acs_calls[0]
    assert allowed, "edX's consumer refused the access token it issued to vigil"
    assert content_type == "application/vnd.ims.lti-ap.v1.control+json"
    assert body["action"] == "pause" and body["attempt_number"] == 1, body
    assert body["user"] == {"iss": ISSUER, "sub": "edx-learner-7"}, body

    # LtiEndAssessment, signed by edX's consumer: the attempt ends.
    ended = platform.launch(vigil, "LtiEndAssessment")
    assert ended.status_code == 200 and "Your exam has ended" in ended.text, ended.text
    again = requests.post(f"{vigil}/api/v1/lti/start-assessment", headers={"authorization": f"Bearer {token}"})
    assert again.status_code == 409 and again.json()["error"]["reason"] == "already_ended", again.text
