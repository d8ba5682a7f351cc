-- What shoppers do, for the sales and interaction insights: no personal data beyond the
-- user id. Written in batches, off the request path.
CREATE TABLE events (
    id BIGINT NOT NULL PRIMARY KEY,
    kind VARCHAR(32) NOT NULL,
    area VARCHAR(32),
    user_id BIGINT,
    product_id BIGINT,
    variant_id BIGINT,
    occurred_at BIGINT NOT NULL
);
CREATE INDEX events_occurred ON events (occurred_at);
CREATE INDEX events_kind_occurred ON events (kind, occurred_at);
