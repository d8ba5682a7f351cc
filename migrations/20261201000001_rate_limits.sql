-- Throttles shared by the whole fleet: one counter per subject (e.g. sign-ins of one
-- account from one address) and fixed window. Taking an attempt is one upsert in a
-- transaction, so concurrent attempts are counted exactly; the retention job deletes
-- windows that no longer matter. Replaces the one-row-per-failure table, which concurrent
-- attempts could all pass before any was counted.
CREATE TABLE rate_limits (
    subject VARCHAR(100) NOT NULL,
    window_start BIGINT NOT NULL,
    hits BIGINT NOT NULL,
    PRIMARY KEY (subject, window_start)
);
CREATE INDEX rate_limits_window ON rate_limits (window_start);

DROP TABLE sign_in_failures;

-- Reset links by account, to replace an older link and to count mails per account.
CREATE INDEX password_resets_user ON password_resets (user_id);
-- Guest sessions by age, for the retention job.
CREATE INDEX sessions_expires ON sessions (expires_at);
