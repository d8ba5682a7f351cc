-- Checkout like a real store: delivery options, discount codes, and orders that keep
-- their subtotal, delivery, discount and tax as a snapshot, with a structured address.
-- Expand only: every column added has a default or may be NULL, so instances of the
-- previous release keep working beside this one.

CREATE TABLE delivery_options (
    id BIGINT NOT NULL PRIMARY KEY,
    name VARCHAR(80) NOT NULL,
    price_cents BIGINT NOT NULL,
    estimated_days BIGINT NOT NULL,
    -- 1: collected at a coffee place of the Radar instead of shipped.
    pickup BIGINT NOT NULL,
    active BIGINT NOT NULL,
    sort_order BIGINT NOT NULL
);
CREATE UNIQUE INDEX delivery_options_name ON delivery_options (name);

INSERT INTO delivery_options (id, name, price_cents, estimated_days, pickup, active, sort_order) VALUES
    (1, 'Standard', 495, 4, 0, 1, 1),
    (2, 'Express', 1295, 1, 0, 1, 2),
    (3, 'Pick up at a coffee place', 0, 2, 1, 1, 3);

CREATE TABLE discount_codes (
    id BIGINT NOT NULL PRIMARY KEY,
    code VARCHAR(40) NOT NULL,
    -- 'percent' (amount in basis points) or 'fixed' (amount in cents).
    kind VARCHAR(10) NOT NULL,
    amount BIGINT NOT NULL,
    min_subtotal_cents BIGINT NOT NULL,
    expires_at BIGINT,
    max_uses BIGINT,
    uses BIGINT NOT NULL,
    active BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX discount_codes_code ON discount_codes (code);

ALTER TABLE orders ADD COLUMN subtotal_cents BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN delivery_cents BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN discount_cents BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN tax_cents BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN delivery_name VARCHAR(80);
ALTER TABLE orders ADD COLUMN discount_code VARCHAR(40);
ALTER TABLE orders ADD COLUMN pickup_place_id BIGINT;
ALTER TABLE orders ADD COLUMN ship_name VARCHAR(100);
ALTER TABLE orders ADD COLUMN ship_line1 VARCHAR(200);
ALTER TABLE orders ADD COLUMN ship_line2 VARCHAR(200);
ALTER TABLE orders ADD COLUMN ship_city VARCHAR(100);
ALTER TABLE orders ADD COLUMN ship_postal_code VARCHAR(20);
ALTER TABLE orders ADD COLUMN ship_country VARCHAR(2);
ALTER TABLE orders ADD COLUMN payment_method VARCHAR(20) NOT NULL DEFAULT 'on_delivery';
-- Orders placed before this release: what they cost was their subtotal.
UPDATE orders SET subtotal_cents = total_cents;

-- The address a shopper saved in their profile, which checkout offers.
ALTER TABLE users ADD COLUMN ship_name VARCHAR(100);
ALTER TABLE users ADD COLUMN ship_line1 VARCHAR(200);
ALTER TABLE users ADD COLUMN ship_line2 VARCHAR(200);
ALTER TABLE users ADD COLUMN ship_city VARCHAR(100);
ALTER TABLE users ADD COLUMN ship_postal_code VARCHAR(20);
ALTER TABLE users ADD COLUMN ship_country VARCHAR(2);
