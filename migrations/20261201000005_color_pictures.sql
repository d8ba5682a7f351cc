-- A picture per colour of a product (the product page shows the chosen colour's, else the
-- product's own). One row per product and colour, keyed by the colour's name as its
-- variants spell it. Expand only: the previous release never reads this table.

CREATE TABLE color_pictures (
    product_id BIGINT NOT NULL,
    color VARCHAR(60) NOT NULL,
    image_key VARCHAR(255) NOT NULL,
    PRIMARY KEY (product_id, color),
    FOREIGN KEY (product_id) REFERENCES products (id) ON DELETE CASCADE
);
