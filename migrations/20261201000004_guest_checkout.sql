-- Checkout without an account. A guest order keeps the guest's email, a hash of the guest
-- session that placed it (that browser may see it, and a replayed checkout finds it), and a
-- hash of the key in the link its confirmation mail carries. Expand only: the previous
-- release reads orders as before and never sees these columns.

ALTER TABLE orders ADD COLUMN guest_email VARCHAR(254);
ALTER TABLE orders ADD COLUMN guest_session_hash VARCHAR(64);
ALTER TABLE orders ADD COLUMN access_key_hash VARCHAR(64);
CREATE UNIQUE INDEX orders_guest_idempotency_key ON orders (guest_session_hash, idempotency_key);
CREATE UNIQUE INDEX orders_access_key ON orders (access_key_hash);
