-- Evidence is a camera frame (JPEG) or, for a voice in exams that keep
-- sound, a short WAV clip; width and height are 0 for a clip. Rows from
-- before are frames.
ALTER TABLE evidence ADD COLUMN media TEXT NOT NULL DEFAULT 'jpeg';
ALTER TABLE evidence ADD COLUMN duration_ms BIGINT;
