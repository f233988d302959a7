-- Chat: each student's conversation with the exam's proctors, and the
-- exam's announcements (student_id NULL). `seq` is the exam's order of
-- messages, given by the server; `client_id` is the sender's id for the
-- message, unique per sender (`author`: "student:<id>" or "proctor:<id>"),
-- so a resend is stored once.
CREATE TABLE chat_messages (
    exam_id    TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    author     TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    from_role  TEXT NOT NULL,
    proctor_id TEXT,
    student_id TEXT,
    body       TEXT NOT NULL,
    at         BIGINT NOT NULL,
    PRIMARY KEY (exam_id, seq),
    UNIQUE (exam_id, author, client_id)
);
CREATE INDEX chat_by_student ON chat_messages (exam_id, student_id, seq);

-- Identity check photos: the latest of each kind per student. The JPEG is
-- a content-addressed blob like an evidence frame, kept until `expires_at`
-- (the exam's retention); no biometric template is ever stored.
CREATE TABLE identity_photos (
    exam_id     TEXT NOT NULL,
    student_id  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    width       INTEGER NOT NULL,
    height      INTEGER NOT NULL,
    bytes       BIGINT NOT NULL,
    captured_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (exam_id, student_id, kind)
);
CREATE INDEX identity_by_expiry ON identity_photos (expires_at);
