-- Identical events recorded together (one page viewed 500 times within a second) are
-- written as one row with their number. Expand only: rows written before, and by an
-- instance of the previous release during a rolling upgrade, count once.
ALTER TABLE events ADD COLUMN occurrences BIGINT NOT NULL DEFAULT 1;
