-- The orders function's schema. Money is integer cents (bigint), instants timestamptz.

CREATE TABLE orders (
    id               uuid PRIMARY KEY,
    order_number     text NOT NULL UNIQUE,
    user_id          uuid NOT NULL,
    status           text NOT NULL CHECK (status IN ('PENDING', 'CONFIRMED', 'PROCESSING', 'SHIPPED', 'DELIVERED', 'CANCELLED', 'REFUNDED')),
    payment_method   text NOT NULL CHECK (payment_method IN ('card', 'cod')),
    payment_id       text,
    currency         text NOT NULL DEFAULT 'usd',
    subtotal         bigint NOT NULL CHECK (subtotal >= 0),
    discount         bigint NOT NULL CHECK (discount >= 0),
    shipping_cost    bigint NOT NULL CHECK (shipping_cost >= 0),
    tax              bigint NOT NULL CHECK (tax >= 0),
    total            bigint NOT NULL CHECK (total >= 0),
    coupon_code      text,
    shipping_address jsonb NOT NULL,
    billing_address  jsonb NOT NULL,
    notes            text,
    tracking_number  text,
    carrier          text,
    cancel_reason    text,
    -- Card orders: CANCELLED (payment_timeout) when still PENDING after this.
    payment_due_at   timestamptz,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    confirmed_at     timestamptz,
    processing_at    timestamptz,
    shipped_at       timestamptz,
    delivered_at     timestamptz,
    cancelled_at     timestamptz,
    refunded_at      timestamptz
);
CREATE INDEX orders_user_created ON orders (user_id, created_at DESC, id DESC);
CREATE INDEX orders_status_created ON orders (status, created_at DESC);
CREATE INDEX orders_created ON orders (created_at DESC, id DESC);
CREATE INDEX orders_payment_due ON orders (payment_due_at) WHERE status = 'PENDING';
CREATE INDEX orders_payment_id ON orders (payment_id) WHERE payment_id IS NOT NULL;

CREATE TABLE order_items (
    order_id   uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    position   int NOT NULL,
    product_id uuid NOT NULL,
    seller_id  uuid NOT NULL,
    name       text NOT NULL,
    sku        text NOT NULL,
    price      bigint NOT NULL CHECK (price >= 0),
    quantity   int NOT NULL CHECK (quantity > 0),
    image      text,
    PRIMARY KEY (order_id, position),
    UNIQUE (order_id, product_id)
);
CREATE INDEX order_items_seller ON order_items (seller_id, order_id);
CREATE INDEX order_items_product ON order_items (product_id);

-- Every status change: from (NULL at placement), to, who, when, note.
CREATE TABLE order_status_history (
    id          bigserial PRIMARY KEY,
    order_id    uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    from_status text,
    to_status   text NOT NULL,
    actor_id    uuid,
    actor_role  text NOT NULL,
    note        text,
    created_at  timestamptz NOT NULL
);
CREATE INDEX order_status_history_order ON order_status_history (order_id, id);

-- Events written in the transaction that caused them; published after commit and by the sweep.
CREATE TABLE outbox (
    id           uuid PRIMARY KEY,
    order_id     uuid NOT NULL,
    kind         text NOT NULL,
    body         jsonb NOT NULL,
    created_at   timestamptz NOT NULL,
    published_at timestamptz,
    attempts     int NOT NULL DEFAULT 0
);
CREATE INDEX outbox_unpublished ON outbox (created_at) WHERE published_at IS NULL;

-- Checkout requests by Idempotency-Key (per user), kept at least 24 h.
-- state: started (a request holds the lease) → completed (response stored) | compensating.
CREATE TABLE checkout_requests (
    user_id         uuid NOT NULL,
    idempotency_key text NOT NULL,
    request_hash    text NOT NULL,
    order_id        uuid NOT NULL UNIQUE,
    state           text NOT NULL CHECK (state IN ('started', 'completed', 'compensating')),
    response        jsonb,
    lease_until     timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (user_id, idempotency_key)
);
CREATE INDEX checkout_requests_lease ON checkout_requests (lease_until) WHERE state <> 'completed';
CREATE INDEX checkout_requests_created ON checkout_requests (created_at);
