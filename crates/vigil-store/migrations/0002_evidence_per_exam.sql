-- Evidence metadata is keyed by (exam, hash), not by hash alone: the replay
-- check then sees only the uploader's own exam, so its answer cannot tell a
-- student whether a frame exists in another exam. The blob itself stays
-- content-addressed; it is deleted when no exam holds it any more.
CREATE TABLE evidence_by_exam (
    exam_id     TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    student_id  TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    width       INTEGER NOT NULL,
    height      INTEGER NOT NULL,
    bytes       BIGINT NOT NULL,
    captured_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (exam_id, sha256)
);

INSERT INTO evidence_by_exam
    (exam_id, sha256, student_id, incident_id, width, height, bytes, captured_at, received_at, expires_at)
SELECT exam_id, sha256, student_id, incident_id, width, height, bytes, captured_at, received_at, expires_at
FROM evidence;

DROP TABLE evidence;
ALTER TABLE evidence_by_exam RENAME TO evidence;

CREATE INDEX evidence_by_expiry ON evidence (expires_at);
CREATE INDEX evidence_by_hash ON evidence (sha256);
-- One frame per incident.
CREATE UNIQUE INDEX evidence_per_incident ON evidence (exam_id, student_id, incident_id);
