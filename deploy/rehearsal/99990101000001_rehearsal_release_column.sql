-- The rolling-upgrade rehearsal's "next release" (cargo feature next-release-rehearsal):
-- never in migrations/, so no released build carries it. Expand only, as docs/upgrades.md
-- asks of every release: a nullable column and an index on it. The previous release never
-- names the column, so it keeps inserting and reading orders while the next one runs beside
-- it; the next one writes its release into each order it takes.

ALTER TABLE orders ADD COLUMN placed_by_release VARCHAR(40);
CREATE INDEX orders_placed_by_release ON orders (placed_by_release);
