-- Reviewers' decisions on students: every version kept, none rewritten.
CREATE TABLE review_decisions (
    exam_id    TEXT NOT NULL,
    student_id TEXT NOT NULL,
    version    INTEGER NOT NULL,
    verdict    TEXT NOT NULL,
    note       TEXT NOT NULL,
    reviewer   TEXT NOT NULL,
    at         BIGINT NOT NULL,
    previous   TEXT,
    PRIMARY KEY (exam_id, student_id, version)
);

-- Reviewers' readings of incidents (confirmed or dismissed), oldest first
-- by rowid; the latest per incident counts.
CREATE TABLE incident_reviews (
    exam_id     TEXT NOT NULL,
    student_id  TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    verdict     TEXT NOT NULL,
    note        TEXT,
    reviewer    TEXT NOT NULL,
    at          BIGINT NOT NULL
);
CREATE INDEX incident_reviews_by_student ON incident_reviews (exam_id, student_id);

-- Who looked at or changed what, for administrators: record and evidence
-- views, decisions, readings, exports.
CREATE TABLE audit_log (
    at         BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    exam_id    TEXT NOT NULL,
    student_id TEXT,
    detail     TEXT
);
CREATE INDEX audit_by_exam ON audit_log (exam_id, at);

-- A student's written response to one version of the decision on them.
CREATE TABLE appeals (
    exam_id          TEXT NOT NULL,
    student_id       TEXT NOT NULL,
    decision_version INTEGER NOT NULL,
    body             TEXT NOT NULL,
    at               BIGINT NOT NULL,
    PRIMARY KEY (exam_id, student_id, decision_version)
);
