-- The code an exam's own assessment (an LMS quiz shown in the student
-- page's exam frame) asks for. Kept apart from the exam's settings, which
-- every student receives; told to a student only while proctored.
CREATE TABLE exam_access_codes (
    exam_id    TEXT PRIMARY KEY REFERENCES exams (id),
    code       TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
