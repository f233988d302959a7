-- A recording segment is WebM (VP8) or MP4 (H.264, which WebM cannot
-- hold); the blob's extension follows. Rows from before are WebM.
ALTER TABLE recording_segments ADD COLUMN container TEXT NOT NULL DEFAULT 'webm';
