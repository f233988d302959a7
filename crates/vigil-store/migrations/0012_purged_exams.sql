-- When an exam's personal data was deleted at the end of its retention.
ALTER TABLE exams ADD COLUMN purged_at BIGINT;
