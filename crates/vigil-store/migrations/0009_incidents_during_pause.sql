-- Whether the student's session was paused when the incident was accepted:
-- kept (nothing a student's page reports is dropped), and marked for review.
ALTER TABLE incidents ADD COLUMN during_pause INTEGER NOT NULL DEFAULT 0;
