-- The shop's schema, in the SQL that SQLite, MySQL/MariaDB and PostgreSQL share:
-- BIGINT ids made by the application (no AUTOINCREMENT dialects), timestamps as UTC
-- milliseconds, money as integer cents, VARCHAR for every indexed text column.

CREATE TABLE users (
    id BIGINT NOT NULL PRIMARY KEY,
    username VARCHAR(64) NOT NULL,
    email VARCHAR(254) NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    first_name VARCHAR(255) NOT NULL,
    address TEXT,
    photo_key VARCHAR(255),
    role VARCHAR(16) NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_username ON users (username);
CREATE UNIQUE INDEX users_email ON users (email);

CREATE TABLE sessions (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    user_id BIGINT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE password_resets (
    token_hash VARCHAR(64) NOT NULL PRIMARY KEY,
    user_id BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);

CREATE TABLE sign_in_failures (
    id BIGINT NOT NULL PRIMARY KEY,
    subject VARCHAR(160) NOT NULL,
    attempted_at BIGINT NOT NULL
);
CREATE INDEX sign_in_failures_subject ON sign_in_failures (subject, attempted_at);

CREATE TABLE products (
    id BIGINT NOT NULL PRIMARY KEY,
    slug VARCHAR(120) NOT NULL,
    name VARCHAR(200) NOT NULL,
    description TEXT NOT NULL,
    category VARCHAR(60) NOT NULL,
    price_cents BIGINT NOT NULL,
    image_key VARCHAR(255),
    hidden BIGINT NOT NULL,
    sort_order BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX products_slug ON products (slug);

CREATE TABLE variants (
    id BIGINT NOT NULL PRIMARY KEY,
    product_id BIGINT NOT NULL,
    color VARCHAR(60) NOT NULL,
    size VARCHAR(30) NOT NULL,
    price_cents BIGINT,
    stock BIGINT NOT NULL,
    hidden BIGINT NOT NULL,
    FOREIGN KEY (product_id) REFERENCES products (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX variants_product_color_size ON variants (product_id, color, size);

CREATE TABLE cart_items (
    owner VARCHAR(80) NOT NULL,
    variant_id BIGINT NOT NULL,
    quantity BIGINT NOT NULL,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (owner, variant_id),
    FOREIGN KEY (variant_id) REFERENCES variants (id) ON DELETE CASCADE
);

CREATE TABLE orders (
    id BIGINT NOT NULL PRIMARY KEY,
    code VARCHAR(12) NOT NULL,
    user_id BIGINT,
    username VARCHAR(64) NOT NULL,
    status VARCHAR(16) NOT NULL,
    total_cents BIGINT NOT NULL,
    shipping_address TEXT NOT NULL,
    idempotency_key VARCHAR(100),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE SET NULL
);
CREATE UNIQUE INDEX orders_code ON orders (code);
CREATE UNIQUE INDEX orders_user_idempotency_key ON orders (user_id, idempotency_key);
CREATE INDEX orders_user_created ON orders (user_id, created_at);
CREATE INDEX orders_status_created ON orders (status, created_at);

CREATE TABLE order_lines (
    order_id BIGINT NOT NULL,
    line_no BIGINT NOT NULL,
    product_id BIGINT NOT NULL,
    variant_id BIGINT NOT NULL,
    product_name VARCHAR(200) NOT NULL,
    color VARCHAR(60) NOT NULL,
    size VARCHAR(30) NOT NULL,
    unit_price_cents BIGINT NOT NULL,
    quantity BIGINT NOT NULL,
    PRIMARY KEY (order_id, line_no),
    FOREIGN KEY (order_id) REFERENCES orders (id) ON DELETE CASCADE
);

CREATE TABLE places (
    id BIGINT NOT NULL PRIMARY KEY,
    name VARCHAR(200) NOT NULL,
    address VARCHAR(300) NOT NULL,
    city VARCHAR(100) NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    lon DOUBLE PRECISION NOT NULL,
    description TEXT NOT NULL
);
