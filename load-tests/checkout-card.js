// Checkout with card payment end to end through the local runner and localstripe (or a deployed
// API with Stripe's test mode: BASE_URL=https://..., STRIPE_API_BASE=https://api.stripe.com and
// STRIPE_KEY=pk_test_... would need Stripe.js's flow instead — this script plays the browser
// against localstripe only). Per iteration a signed-in user:
//   1. adds one unit to their cart (kind add), places a card order (kind order, 201 PENDING),
//   2. gets its PaymentIntent (kind intent, 201: amount from the order),
//   3. pays it as Stripe.js would on localstripe: a PaymentMethod for 4242…, set on the intent,
//      confirmed (kind stripe; localstripe then sends payment_intent.succeeded to the webhook),
//   4. confirms with the API (kind confirm: POST /api/payments/confirm → orderStatus CONFIRMED).
// The webhook arrives about a second later (localstripe waits 1 s) and finds the order settled;
// its own time per delivery is in the runner's `stripe webhook` log lines (checkout-report.py).
//
//   k6 run -e BASE_URL=http://127.0.0.1:3100 -e ADMIN_PASSWORD=... -e STRIPE_API_BASE=http://127.0.0.1:8420 -e RATE=20 load-tests/checkout-card.js
//
// Users, stock and scenarios as checkout.js (POOL users, one VU per user; `warmup` then
// `checkout` at RATE, default 20, for DURATION). Thresholds (checkout scenario): every API
// request's p95 < 100 ms, no failed check, every checkout CONFIRMED.
import http from 'k6/http';
import exec from 'k6/execution';
import encoding from 'k6/encoding';
import { check, fail } from 'k6';
import { Counter, Trend } from 'k6/metrics';
import { BASE, TREND_STATS, pick } from './lib/catalog.js';
import { CARD_ORDER, JSON_HEADERS, setupShop } from './lib/checkout.js';

const RATE = Number(__ENV.RATE || 20);
const POOL = Number(__ENV.POOL || 300);
const WARMUP = __ENV.WARMUP || '10s';
const WARMUP_RATE = Math.min(RATE, 10);
const WARMUP_VUS = 20;
const STOCK = Number(__ENV.STOCK || 1000000);
const STRIPE = __ENV.STRIPE_API_BASE || 'http://127.0.0.1:8420';
const STRIPE_HEADERS = { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${encoding.b64encode('sk_test_local:')}` };

const confirmed = new Counter('checkouts_confirmed');
const endToEnd = new Trend('checkout_card_ms', true);

export const options = {
  setupTimeout: '300s',
  scenarios: {
    warmup: {
      executor: 'constant-arrival-rate', rate: WARMUP_RATE, timeUnit: '1s', duration: WARMUP,
      preAllocatedVUs: 10, maxVUs: WARMUP_VUS,
    },
    checkout: {
      executor: 'constant-arrival-rate', rate: RATE, timeUnit: '1s', duration: __ENV.DURATION || '60s',
      startTime: WARMUP,
      preAllocatedVUs: Math.min(POOL - WARMUP_VUS, Math.max(20, RATE * 2)),
      maxVUs: POOL - WARMUP_VUS,
    },
  },
  thresholds: {
    'http_req_duration{kind:order,scenario:checkout}': ['p(95)<100'],
    'http_req_duration{kind:intent,scenario:checkout}': ['p(95)<100'],
    'http_req_duration{kind:confirm,scenario:checkout}': ['p(95)<100'],
    'checks{scenario:checkout}': ['rate==1'],
    'checkouts_confirmed{scenario:checkout}': ['count>0'],
    'checkout_card_ms{scenario:checkout}': ['p(95)>0'],
    'iterations{scenario:checkout}': ['count>0'],
  },
  summaryTrendStats: TREND_STATS,
};

export function setup() {
  return setupShop(POOL, STOCK, WARMUP_VUS);
}

function stripe(path, form) {
  const body = Object.entries(form).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  return http.post(`${STRIPE}${path}`, body, { headers: STRIPE_HEADERS, tags: { kind: 'stripe', name: path.split('/').slice(0, 3).join('/') } });
}

export default function (data) {
  const vu = exec.vu.idInTest;
  if (vu > data.users.length) fail(`VU ${vu} has no user of its own: raise POOL`);
  const started = Date.now();
  const auth = { ...JSON_HEADERS, authorization: `Bearer ${data.users[vu - 1]}` };
  const add = http.post(`${BASE}/api/cart/items`, JSON.stringify({ productId: pick(data.ids), quantity: 1 }), { headers: auth, tags: { kind: 'add', name: 'add_to_cart' } });
  if (!check(add, { 'item added': (r) => r.status === 200 || r.status === 201 })) return;
  const key = `${data.run}-card-${vu}-${exec.vu.iterationInInstance}`;
  const order = http.post(`${BASE}/api/orders`, CARD_ORDER, { headers: { ...auth, 'idempotency-key': key }, tags: { kind: 'order', name: 'place_order' } });
  if (!check(order, { 'order placed (201)': (r) => r.status === 201 })) return;
  const orderId = order.json('id');

  const intent = http.post(`${BASE}/api/payments/intents`, JSON.stringify({ orderId }), { headers: auth, tags: { kind: 'intent', name: 'intent' } });
  if (!check(intent, { 'intent (201)': (r) => r.status === 201 && r.json('amount') === order.json('total') })) return;
  const pi = intent.json('paymentIntentId');

  const method = stripe('/v1/payment_methods', { type: 'card', 'card[number]': '4242424242424242', 'card[exp_month]': '12', 'card[exp_year]': '2034', 'card[cvc]': '123' });
  if (!check(method, { 'payment method': (r) => r.status === 200 })) return;
  const set = stripe(`/v1/payment_intents/${pi}`, { payment_method: method.json('id') });
  const paid = stripe(`/v1/payment_intents/${pi}/confirm`, {});
  if (!check(paid, { 'paid at Stripe': (r) => set.status === 200 && r.status === 200 && r.json('status') === 'succeeded' })) return;

  const confirm = http.post(`${BASE}/api/payments/confirm`, JSON.stringify({ orderId }), { headers: auth, tags: { kind: 'confirm', name: 'confirm' } });
  if (check(confirm, { 'order CONFIRMED': (r) => r.status === 200 && r.json('orderStatus') === 'CONFIRMED' })) {
    confirmed.add(1);
    endToEnd.add(Date.now() - started);
  }
}
