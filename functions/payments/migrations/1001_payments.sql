-- Payments (database `payments`). Versions start at 1001 so the scratch database of the sqlx
-- offline check can hold orders' and payments' schemas side by side (each function has its own
-- database in AWS and locally).

-- One row per PaymentIntent attempt of an order (card), or the order's cash-on-delivery record.
-- Money in cents. refunded = the sum of this payment's succeeded refunds, never above captured.
CREATE TABLE payments (
    id             uuid PRIMARY KEY,
    order_id       uuid NOT NULL,
    attempt        int NOT NULL DEFAULT 1 CHECK (attempt >= 1),
    user_id        uuid NOT NULL,
    order_number   text NOT NULL,
    method         text NOT NULL CHECK (method IN ('card', 'cod')),
    intent_id      text UNIQUE,
    -- Stripe's own status of the intent, as last seen.
    intent_status  text,
    amount         bigint NOT NULL CHECK (amount > 0),
    currency       text NOT NULL,
    status         text NOT NULL CHECK (status IN ('PENDING', 'PROCESSING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'PARTIALLY_REFUNDED', 'REFUNDED')),
    captured       bigint NOT NULL DEFAULT 0 CHECK (captured >= 0),
    refunded       bigint NOT NULL DEFAULT 0 CHECK (refunded >= 0 AND refunded <= captured),
    failure_code   text,
    failure_reason text,
    -- What became of the order once the money arrived: confirmed, or refunded (late payment).
    -- NULL while not yet settled with orders (the reconciliation job finishes it).
    order_outcome  text CHECK (order_outcome IN ('confirmed', 'refunded')),
    -- A full refund reported to orders (REFUNDED); false while orders has not acknowledged it.
    order_refund_reported boolean NOT NULL DEFAULT false,
    dispute_id     text,
    dispute_reason text,
    disputed_at    timestamptz,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    succeeded_at   timestamptz,
    UNIQUE (order_id, attempt)
);
CREATE INDEX payments_user ON payments (user_id, created_at DESC);
CREATE INDEX payments_created ON payments (created_at DESC);
CREATE INDEX payments_status ON payments (status, updated_at);

-- Refunds, one per (payment, Idempotency-Key). PENDING reserves its amount until Stripe answers.
CREATE TABLE refunds (
    id               uuid PRIMARY KEY,
    payment_id       uuid NOT NULL REFERENCES payments (id),
    idempotency_key  text NOT NULL,
    request_hash     text NOT NULL,
    amount           bigint NOT NULL CHECK (amount > 0),
    reason           text NOT NULL CHECK (reason IN ('requested', 'order_cancelled', 'late_payment', 'external')),
    note             text,
    restock          boolean,
    status           text NOT NULL CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED')),
    stripe_refund_id text UNIQUE,
    failure_reason   text,
    requested_by     uuid,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    UNIQUE (payment_id, idempotency_key)
);
CREATE INDEX refunds_payment ON refunds (payment_id, created_at);
CREATE INDEX refunds_pending ON refunds (created_at) WHERE status = 'PENDING';

-- Stripe events by id: recorded before they are acted on (2xx only after this row exists),
-- processed_at set once handled; a duplicate delivery of a processed event does nothing.
CREATE TABLE webhook_events (
    id           text PRIMARY KEY,
    kind         text NOT NULL,
    payload      jsonb NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    outcome      text
);
CREATE INDEX webhook_events_unprocessed ON webhook_events (received_at) WHERE processed_at IS NULL;

-- The outbox of payment events (PaymentRefunded, PaymentDisputed) to the payment events topic.
CREATE TABLE payment_outbox (
    id           uuid PRIMARY KEY,
    order_id     uuid NOT NULL,
    kind         text NOT NULL,
    body         jsonb NOT NULL,
    created_at   timestamptz NOT NULL,
    published_at timestamptz,
    attempts     int NOT NULL DEFAULT 0
);
CREATE INDEX payment_outbox_unpublished ON payment_outbox (created_at) WHERE published_at IS NULL;
