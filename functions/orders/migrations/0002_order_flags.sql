-- A disputed card payment flags its order (POST /internal/orders/{id}/flag, from payments):
-- the first reason and when; the status is unchanged. Admins list flagged orders.
ALTER TABLE orders ADD COLUMN flagged_reason text, ADD COLUMN flagged_at timestamptz;
CREATE INDEX orders_flagged ON orders (flagged_at DESC) WHERE flagged_at IS NOT NULL;
