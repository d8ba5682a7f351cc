-- When each order reached each status, for the order page's timeline: one row per change,
-- written in the transaction that makes the change. Expand only: orders from before this
-- release have no rows, and their page shows what is known (placed at created_at, the
-- current status at updated_at).
CREATE TABLE order_history (
    id BIGINT NOT NULL PRIMARY KEY,
    order_id BIGINT NOT NULL,
    status VARCHAR(16) NOT NULL,
    changed_at BIGINT NOT NULL,
    FOREIGN KEY (order_id) REFERENCES orders (id) ON DELETE CASCADE
);
CREATE INDEX order_history_order ON order_history (order_id, changed_at);
