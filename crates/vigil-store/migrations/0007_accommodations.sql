-- Per-student accommodations (extra time, detectors off, a note for
-- proctors), as the JSON of vigil-proto's `Accommodations`; one row per
-- student, replaced whole.
CREATE TABLE accommodations (
    exam_id    TEXT NOT NULL,
    student_id TEXT NOT NULL,
    body       TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (exam_id, student_id)
);
