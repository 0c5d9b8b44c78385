// The seed's checkout-flow (seed-spec §11) through the local runner (or a deployed API:
// BASE_URL=https://...): per iteration a signed-in user adds one unit of a product to their cart
// (POST /api/cart/items; the first add creates the cart) and places the order (POST /api/orders
// with a fresh Idempotency-Key, card payment: 201, PENDING).
//
//   k6 run -e BASE_URL=http://127.0.0.1:3100 -e ADMIN_PASSWORD=... -e RATE=80 load-tests/checkout.js
//
// A user has exactly one cart, so two iterations in flight must never share a user: setup()
// registers POOL users (default 400) and every VU checks out as the user of its own number
// (exec.vu.idInTest), so at most POOL VUs run (both scenarios' VUs together). The seed shared
// one user among all iterations, which on our API would be concurrent checkouts of one cart.
//
// Stock never runs out: setup() signs in as the admin (ADMIN_PASSWORD; ADMIN_EMAIL default
// admin@skyshop.local) and sets every active product's stock to STOCK (default 1,000,000) with
// PUT /api/inventory/{id}. Products are drawn from the whole listing, not `inStock=true`: the
// catalog's in-stock flag follows inventory through two streams and may lag the PUT.
//
// Scenarios: `warmup` (WARMUP, default 10s, at min(RATE, 20)/s), then `checkout`:
// constant-arrival-rate RATE (default 80) iterations/s for DURATION (default 60s). Thresholds
// (on the `checkout` scenario only): the order request's p95 < 100 ms, every check passed, no
// failed request. Requests are tagged `kind: add | order`.
import http from 'k6/http';
import exec from 'k6/execution';
import { check, fail } from 'k6';
import { Counter } from 'k6/metrics';
import { BASE, TREND_STATS, pick } from './lib/catalog.js';
import { CARD_ORDER, JSON_HEADERS, setupShop } from './lib/checkout.js';

const RATE = Number(__ENV.RATE || 80);
const POOL = Number(__ENV.POOL || 400);
const WARMUP = __ENV.WARMUP || '10s';
const WARMUP_RATE = Math.min(RATE, 20);
const WARMUP_VUS = 20;
const STOCK = Number(__ENV.STOCK || 1000000);

const placed = new Counter('checkouts_placed');

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
      preAllocatedVUs: Math.min(POOL - WARMUP_VUS, Math.max(20, Math.ceil(RATE / 2))),
      maxVUs: POOL - WARMUP_VUS,
    },
  },
  thresholds: {
    'http_req_duration{kind:order,scenario:checkout}': ['p(95)<100'],
    'http_req_duration{kind:add,scenario:checkout}': ['p(95)<100'],
    'http_req_failed{scenario:checkout}': ['rate==0'],
    'checks{scenario:checkout}': ['rate==1'],
    // Listed so the summary shows them.
    'checkouts_placed{scenario:checkout}': ['count>0'],
    'iterations{scenario:checkout}': ['count>0'],
    'http_reqs{scenario:checkout}': ['count>0'],
  },
  summaryTrendStats: TREND_STATS,
};

export function setup() {
  return setupShop(POOL, STOCK, WARMUP_VUS);
}

export default function (data) {
  const vu = exec.vu.idInTest;
  if (vu > data.users.length) fail(`VU ${vu} has no user of its own: raise POOL`);
  const auth = { ...JSON_HEADERS, authorization: `Bearer ${data.users[vu - 1]}` };
  const add = http.post(`${BASE}/api/cart/items`, JSON.stringify({ productId: pick(data.ids), quantity: 1 }), { headers: auth, tags: { kind: 'add', name: 'add_to_cart' } });
  if (!check(add, { 'item added': (r) => r.status === 200 || r.status === 201 })) return;
  const key = `${data.run}-${vu}-${exec.vu.iterationInInstance}`;
  const order = http.post(`${BASE}/api/orders`, CARD_ORDER, { headers: { ...auth, 'idempotency-key': key }, tags: { kind: 'order', name: 'place_order' } });
  if (check(order, { 'order placed (201)': (r) => r.status === 201 })) placed.add(1);
}
