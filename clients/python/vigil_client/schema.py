"""The wire types of web/proto/vigil.ts, transcribed by hand, and a strict checker.

PROTOCOL.md: vigil.ts "is the complete, normative list of every type: each field, its JSON type,
and whether it is optional". `check(value, "Type")` raises AssertionError when a value the server
sent has a missing field, a field of the wrong JSON type, an enum value outside the list, or a field
the type does not have. Times ("Unix epoch milliseconds (integers)") are checked to be integers.
"""
from __future__ import annotations

from typing import Any

INCIDENT_KINDS = ["no_face", "multiple_faces", "looking_away", "tab_hidden", "window_blur",
                  "fullscreen_exit", "copy_paste", "second_screen", "camera_ended",
                  "worker_stalled", "inference_rate_low", "heartbeat_lost", "media_stalled",
                  "frame_rate_collapsed", "keyframes_missing", "phone_visible", "voice_detected", "camera_suspect",
                  "devtools_open"]
SERVER_ONLY_KINDS = ["heartbeat_lost", "media_stalled", "frame_rate_collapsed", "keyframes_missing"]
CLIENT_KINDS = [k for k in INCIDENT_KINDS if k not in SERVER_ONLY_KINDS]
REJECT_REASONS = ["missing_token", "invalid_token", "expired_token", "wrong_scope", "unknown_exam",
                  "unknown_student", "forbidden", "invalid_payload", "server_only_kind",
                  "detector_disabled", "outside_exam_window", "timestamp_in_future",
                  "end_before_start", "sequence_replayed", "sequence_too_old",
                  "conflicting_duplicate", "unknown_incident", "already_ended", "rate_limited",
                  "not_jpeg", "undecodable", "too_large", "dimensions_out_of_range",
                  "outside_incident_window", "replayed_frame", "evidence_already_attached",
                  "evidence_not_collected", "unsupported_media", "duration_out_of_range", "not_publishing", "not_subscribed", "no_lti_attempt",
                  "no_access_code", "settings_locked", "session_terminated", "stale_transition",
                  "identity_required", "unknown_recording", "range_not_satisfiable", "too_slow",
                  "unavailable"]
ENUMS = {
    "IncidentKind": INCIDENT_KINDS,
    "IncidentSource": ["client", "server"],
    "Level": ["ok", "watch", "alert"],
    "PrivacyTier": ["events_only", "flagged_frames", "recording"],
    "Role": ["student", "proctor"],
    "Presence": ["live", "stalled", "offline"],
    "Quality": ["good", "low_light", "low_confidence", "unknown"],
    "RejectReason": REJECT_REASONS,
    "ProctorActionKind": ["warn", "message", "pause", "resume", "terminate", "flag_for_review",
                          "add_time", "approve_identity", "reject_identity"],
    "WatchQuality": ["thumbnail", "full"],
    "EvidenceMedia": ["jpeg", "wav"],
    "SessionPhase": ["waiting", "identity_check", "ready", "in_progress", "paused", "on_break",
                     "submitted", "terminated", "expired"],
    "IdentityCheck": ["off", "photo", "photo_and_id"],
    "IdentityPhotoKind": ["face", "id_document"],
    "ChatFrom": ["student", "proctor"],
}

T = "time"  # UnixMillis: an integer
REQ, OPT = True, False

# name -> {field: (type, required)}; types: "number" | "int" | "time" | "string" | "boolean" |
# an ENUMS name | another STRUCTS name | ("array", t) | ("map", enum_name, t) | ("const", value)
STRUCTS: dict[str, dict[str, tuple[Any, bool]]] = {
    "ExamWindow": {"opens_at": (T, REQ), "closes_at": (T, REQ)},
    "ScoringRules": {"half_life_s": ("number", REQ),
                     "weights": (("map", "IncidentKind", "number"), REQ),
                     "watch_at": ("number", REQ), "alert_at": ("number", REQ)},
    "ExamSettings": {"window": ("ExamWindow", REQ), "scoring": ("ScoringRules", REQ),
                     "privacy": ("PrivacyTier", REQ), "evidence_retention_days": ("number", REQ),
                     "stall_after_s": ("number", REQ),
                     "disabled_detectors": (("array", "IncidentKind"), REQ),
                     "assessment_url": ("string", OPT), "duration_s": ("int", OPT),
                     "identity_check": ("IdentityCheck", REQ),
                     "identity_auto_approve": ("boolean", REQ), "microphone": ("boolean", REQ),
                     "breaks": ("BreakPolicy", OPT), "thresholds": ("DetectorThresholds", OPT)},
    "BreakPolicy": {"count": ("int", REQ), "minutes": ("int", REQ)},
    "DetectorThresholds": {"no_face_after_ms": ("int", OPT), "looking_away_after_ms": ("int", OPT),
                           "yaw_limit_deg": ("int", OPT), "pitch_limit_deg": ("int", OPT)},
    "SessionView": {"phase": ("SessionPhase", REQ), "time_left_ms": ("int", OPT),
                    "closes_at": (T, REQ), "reason": ("string", OPT),
                    "breaks_left": ("int", REQ), "break_ends_at": (T, OPT), "as_of": (T, REQ)},
    "Accommodations": {"extra_time_pct": ("int", REQ), "extra_time_min": ("int", REQ),
                       "disabled_detectors": (("array", "IncidentKind"), REQ), "note": ("string", OPT),
                       "extra_breaks": ("int", REQ), "thresholds": ("DetectorThresholds", OPT)},
    "ChatMessage": {"seq": ("int", REQ), "id": ("string", REQ), "from": ("ChatFrom", REQ),
                    "proctor_id": ("string", OPT), "student_id": ("string", OPT),
                    "text": ("string", REQ), "at": (T, REQ)},
    "ChatSend": {"id": ("string", REQ), "text": ("string", REQ)},
    "ProctorChatSend": {"id": ("string", REQ), "student_id": ("string", OPT), "text": ("string", REQ)},
    "ChatSync": {"after": ("int", REQ)},
    "ChatHistory": {"messages": (("array", "ChatMessage"), REQ), "more": ("boolean", REQ),
                    "retry_after_ms": ("int", OPT)},
    "IdentityPhoto": {"kind": ("IdentityPhotoKind", REQ), "sha256": ("string", REQ),
                      "width": ("int", REQ), "height": ("int", REQ), "bytes": ("int", REQ),
                      "captured_at": (T, REQ)},
    "IdentityPhotos": {"photos": (("array", "IdentityPhoto"), REQ)},
    "SessionUpdate": {"student_id": ("string", REQ), "session": ("SessionView", REQ)},
    "Exam": {"id": ("string", REQ), "title": ("string", REQ), "settings": ("ExamSettings", REQ)},
    "Student": {"id": ("string", REQ), "name": ("string", REQ)},
    "Proctor": {"id": ("string", REQ), "name": ("string", REQ)},
    "Rejection": {"reason": ("RejectReason", REQ), "message": ("string", REQ),
                  "retry_after_ms": ("int", OPT)},
    "ErrorBody": {"error": ("Rejection", REQ)},
    "StudentWelcome": {"student": ("Student", REQ), "exam_id": ("string", REQ),
                       "exam_title": ("string", REQ), "settings": ("ExamSettings", REQ),
                       "next_seq": ("int", REQ), "server_time": (T, REQ),
                       "session": ("SessionView", REQ), "assessment": ("AssessmentEntry", OPT)},
    # One variant today (LTI Proctoring Services), tagged by "kind".
    "AssessmentEntry": {"kind": (("const", "lti_proctoring"), REQ), "attempt_number": ("int", REQ),
                        "ended_at": (T, OPT)},
    "StartAssessment": {"url": ("string", REQ), "jwt": ("string", REQ)},
    "AccessCode": {"code": ("string", REQ)},
    "ProctorAction": {"kind": ("ProctorActionKind", REQ), "text": ("string", OPT),
                      "minutes": ("int", OPT), "at": (T, REQ)},
    "ScoreView": {"seq": ("int", REQ), "score": ("number", REQ), "level": ("Level", REQ),
                  "as_of": (T, REQ)},
    "ScoreUpdate": {"student_id": ("string", REQ), "emitted_at": (T, REQ), "seq": ("int", REQ),
                    "score": ("number", REQ), "level": ("Level", REQ), "as_of": (T, REQ)},
    "IncidentRecord": {"id": ("string", REQ), "student_id": ("string", REQ),
                       "kind": ("IncidentKind", REQ), "source": ("IncidentSource", REQ),
                       "started_at": (T, REQ), "ended_at": (T, OPT), "confidence": ("number", OPT),
                       "detail": ("string", OPT), "accepted_at": (T, REQ),
                       "evidence_sha256": ("string", OPT), "during_pause": ("boolean", OPT)},
    "PresenceUpdate": {"student_id": ("string", REQ), "presence": ("Presence", REQ),
                       "at": (T, REQ)},
    "QualityUpdate": {"student_id": ("string", REQ), "quality": ("Quality", REQ), "at": (T, REQ)},
    "StudentView": {"student": ("Student", REQ), "score": ("ScoreView", REQ),
                    "presence": ("Presence", REQ), "quality": ("Quality", REQ),
                    "session": ("SessionView", REQ), "accommodations": ("Accommodations", OPT),
                    "last_incident": ("IncidentRecord", OPT)},
    "ExamSnapshot": {"exam": ("Exam", REQ), "students": (("array", "StudentView"), REQ),
                     "server_time": (T, REQ), "may_configure": ("boolean", REQ)},
    "EvidenceAccepted": {"incident_id": ("string", REQ), "sha256": ("string", REQ),
                         "media": ("EvidenceMedia", REQ),
                         "width": ("int", REQ), "height": ("int", REQ), "bytes": ("int", REQ),
                         "duration_ms": ("int", OPT)},
    "UplinkProbe": {"bytes": ("int", REQ), "elapsed_ms": ("number", REQ), "bps": ("int", REQ)},
    "JoinLink": {"role": ("Role", REQ), "exam_id": ("string", REQ), "subject": ("string", REQ),
                 "token": ("string", REQ), "url": ("string", REQ), "expires_at": (T, REQ)},
    "ExamRoster": {"exam": ("Exam", REQ), "students": (("array", "Student"), REQ),
                   "proctors": (("array", "Proctor"), REQ)},
    # unions, one struct per variant
    "IncidentAck.accepted": {"status": (("const", "accepted"), REQ), "id": ("string", REQ)},
    "IncidentAck.duplicate": {"status": (("const", "duplicate"), REQ), "id": ("string", REQ)},
    "IncidentAck.rejected": {"status": (("const", "rejected"), REQ), "id": ("string", OPT),
                             "reason": ("RejectReason", REQ), "message": ("string", REQ),
                             "retry_after_ms": ("int", OPT)},
    "RequestAck.ok": {"status": (("const", "ok"), REQ)},
    "ChatAck.accepted": {"status": (("const", "accepted"), REQ), "message": ("ChatMessage", REQ)},
    "ChatAck.duplicate": {"status": (("const", "duplicate"), REQ), "message": ("ChatMessage", REQ)},
    "ChatAck.rejected": {"status": (("const", "rejected"), REQ),
                         "reason": ("RejectReason", REQ), "message": ("string", REQ),
                         "retry_after_ms": ("int", OPT)},
    "RequestAck.rejected": {"status": (("const", "rejected"), REQ),
                            "reason": ("RejectReason", REQ), "message": ("string", REQ),
                            "retry_after_ms": ("int", OPT)},
}
UNIONS = {"IncidentAck": "IncidentAck.", "RequestAck": "RequestAck.", "ChatAck": "ChatAck."}


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check(value: Any, ty: Any, path: str = "$") -> Any:
    """Assert `value` has vigil.ts type `ty`; returns `value`."""
    if isinstance(ty, tuple):
        if ty[0] == "array":
            assert isinstance(value, list), f"{path}: expected array, got {value!r}"
            for i, v in enumerate(value):
                check(v, ty[1], f"{path}[{i}]")
        elif ty[0] == "map":
            assert isinstance(value, dict), f"{path}: expected object, got {value!r}"
            for k, v in value.items():
                assert k in ENUMS[ty[1]], f"{path}: key {k!r} not a {ty[1]}"
                check(v, ty[2], f"{path}.{k}")
        elif ty[0] == "const":
            assert value == ty[1], f"{path}: expected {ty[1]!r}, got {value!r}"
        return value
    if ty == "string":
        assert isinstance(value, str), f"{path}: expected string, got {value!r}"
    elif ty == "number":
        assert _is_num(value), f"{path}: expected number, got {value!r}"
    elif ty in ("int", T):
        assert _is_int(value), f"{path}: expected an integer, got {value!r}"
    elif ty == "boolean":
        assert isinstance(value, bool), f"{path}: expected boolean, got {value!r}"
    elif ty in ENUMS:
        assert value in ENUMS[ty], f"{path}: {value!r} is not a {ty} ({ENUMS[ty]})"
    elif ty in UNIONS:
        assert isinstance(value, dict), f"{path}: expected object, got {value!r}"
        variant = UNIONS[ty] + str(value.get("status"))
        assert variant in STRUCTS, f"{path}: unknown {ty} status {value.get('status')!r}"
        check(value, variant, path)
    elif ty in STRUCTS:
        assert isinstance(value, dict), f"{path}: expected {ty} object, got {value!r}"
        fields = STRUCTS[ty]
        extra = set(value) - set(fields)
        assert not extra, f"{path}: {ty} has fields not in vigil.ts: {sorted(extra)} in {value!r}"
        for name, (fty, required) in fields.items():
            if name not in value:
                assert not required, f"{path}: {ty} lacks required field {name!r}: {value!r}"
                continue
            check(value[name], fty, f"{path}.{name}")
    else:
        raise KeyError(f"unknown type {ty!r}")
    return value
