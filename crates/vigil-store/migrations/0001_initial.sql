-- Portable SQL: runs on SQLite and PostgreSQL. Times are Unix milliseconds.

CREATE TABLE exams (
    id         TEXT PRIMARY KEY,
    title      TEXT NOT NULL,
    -- ExamSettings as JSON: the wire type is the schema, so it cannot drift.
    settings   TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE people (
    exam_id TEXT NOT NULL REFERENCES exams (id),
    role    TEXT NOT NULL CHECK (role IN ('student', 'proctor')),
    id      TEXT NOT NULL,
    name    TEXT NOT NULL,
    PRIMARY KEY (exam_id, role, id)
);

CREATE TABLE incidents (
    exam_id         TEXT NOT NULL REFERENCES exams (id),
    student_id      TEXT NOT NULL,
    id              TEXT NOT NULL,
    -- Client sequence numbers of the report and of its end; NULL for server incidents.
    seq             BIGINT,
    end_seq         BIGINT,
    kind            TEXT NOT NULL,
    source          TEXT NOT NULL,
    started_at      BIGINT NOT NULL,
    ended_at        BIGINT,
    confidence      DOUBLE PRECISION,
    detail          TEXT,
    accepted_at     BIGINT NOT NULL,
    -- sha256 of the canonical report: tells a retry from a conflicting payload after restarts.
    fingerprint     TEXT NOT NULL,
    evidence_sha256 TEXT,
    PRIMARY KEY (exam_id, student_id, id)
);

CREATE INDEX incidents_by_time ON incidents (exam_id, student_id, started_at);

CREATE TABLE evidence (
    sha256      TEXT PRIMARY KEY,
    exam_id     TEXT NOT NULL,
    student_id  TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    width       INTEGER NOT NULL,
    height      INTEGER NOT NULL,
    bytes       BIGINT NOT NULL,
    captured_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    -- When the blob may be deleted (exam's retention period).
    expires_at  BIGINT NOT NULL
);

CREATE INDEX evidence_by_expiry ON evidence (expires_at);
-- One frame per incident.
CREATE UNIQUE INDEX evidence_per_incident ON evidence (exam_id, student_id, incident_id);

CREATE TABLE proctor_actions (
    exam_id    TEXT NOT NULL,
    student_id TEXT NOT NULL,
    proctor_id TEXT NOT NULL,
    kind       TEXT NOT NULL,
    text       TEXT,
    at         BIGINT NOT NULL
);
