-- LTI Proctoring Services: each student's latest proctoring attempt on an
-- exam, as the platform's LtiStartProctoring launch described it. vigil
-- needs it to send LtiStartAssessment (start assessment URL, session data,
-- attempt number, resource link) and, later, Assessment Control calls.
-- Portable SQL; times are Unix milliseconds.
CREATE TABLE lti_attempts (
    exam_id        TEXT NOT NULL REFERENCES exams (id),
    student_id     TEXT NOT NULL,
    issuer         TEXT NOT NULL,
    attempt_number BIGINT NOT NULL,
    -- The validated launch, as JSON (vigil_lti::StartProctoringLaunch).
    launch         TEXT NOT NULL,
    started_at     BIGINT NOT NULL,
    -- When the assessment was handed back to the platform (LtiStartAssessment).
    assessment_started_at BIGINT,
    ended_at       BIGINT,
    PRIMARY KEY (exam_id, student_id)
);
