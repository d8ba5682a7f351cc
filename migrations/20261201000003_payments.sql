-- Card payment: an order awaiting payment holds its stock until hold_until; the provider's
-- PaymentIntent is named on the order; webhook events are remembered so that a replay
-- changes nothing. Expand only.

ALTER TABLE orders ADD COLUMN payment_intent_id VARCHAR(255);
ALTER TABLE orders ADD COLUMN payment_attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN payment_error VARCHAR(500);
ALTER TABLE orders ADD COLUMN hold_until BIGINT;
ALTER TABLE orders ADD COLUMN refunded_cents BIGINT NOT NULL DEFAULT 0;
CREATE INDEX orders_payment_intent ON orders (payment_intent_id);

CREATE TABLE webhook_events (
    id VARCHAR(255) NOT NULL PRIMARY KEY,
    received_at BIGINT NOT NULL
);
