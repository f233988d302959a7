-- Recorded camera video (issue 17): one row per WebM segment of a
-- student's recording; the bytes are a blob under
-- recordings/<exam>/<student>/<sha256>.webm. A segment plays on its own
-- (it starts at a key frame and carries cues); `started_at` places it on
-- the exam's timeline, next to the incidents.
CREATE TABLE recording_segments (
    exam_id     TEXT NOT NULL REFERENCES exams (id),
    student_id  TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    -- Wall-clock time of the segment's first frame, in ms.
    started_at  BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    frames      BIGINT NOT NULL,
    keyframes   BIGINT NOT NULL,
    width       BIGINT NOT NULL,
    height      BIGINT NOT NULL,
    bytes       BIGINT NOT NULL,
    PRIMARY KEY (exam_id, student_id, sha256)
);

CREATE INDEX recording_segments_timeline ON recording_segments (exam_id, student_id, started_at);
