-- Version 13 is PostgreSQL's own: the shared migrations (../migrations) skip it.
-- PostgreSQL only. SQLite keeps each table's insertion order in its
-- implicit `rowid`, which the queries sort by (the latest reading of an
-- incident counts; actions and audit entries in the order they happened).
-- PostgreSQL has no such column: one of the same name plays its part.
ALTER TABLE proctor_actions ADD COLUMN rowid BIGSERIAL;
ALTER TABLE incident_reviews ADD COLUMN rowid BIGSERIAL;
ALTER TABLE audit_log ADD COLUMN rowid BIGSERIAL;
