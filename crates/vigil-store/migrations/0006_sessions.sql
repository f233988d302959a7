-- Each student's exam session as the transitions that made it (start,
-- pause, resume, submit, terminate, expire, time added), in order: the
-- server replays them on restart. `by` names who caused it ("student",
-- "server", or "proctor:<id>").
CREATE TABLE session_transitions (
    exam_id    TEXT NOT NULL,
    student_id TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    change     TEXT NOT NULL,
    added_ms   BIGINT,
    at         BIGINT NOT NULL,
    by_whom    TEXT NOT NULL,
    reason     TEXT,
    PRIMARY KEY (exam_id, student_id, seq)
);
