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

const RATE = Number(__ENV.RATE || 80);
const POOL = Number(__ENV.POOL || 400);
const WARMUP = __ENV.WARMUP || '10s';
const WARMUP_RATE = Math.min(RATE, 20);
const WARMUP_VUS = 20;
const STOCK = Number(__ENV.STOCK || 1000000);
const PASSWORD = 'Correct-Horse-9';
const JSON_HEADERS = { 'content-type': 'application/json' };

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
  if (POOL <= WARMUP_VUS) fail(`POOL must be above ${WARMUP_VUS}`);
  const run = Date.now().toString(36);
  // Registration hashes each password (argon2id): in batches of 10, so the cores are busy but
  // no request waits near the gateway's 10 s integration timeout.
  const users = [];
  for (let from = 0; from < POOL; from += 10) {
    const batch = [];
    for (let i = from; i < Math.min(POOL, from + 10); i++) {
      const body = { email: `checkout-${run}-${i}@example.com`, password: PASSWORD, firstName: 'Load', lastName: `Test${i}` };
      batch.push(['POST', `${BASE}/api/auth/register`, JSON.stringify(body), { headers: JSON_HEADERS, tags: { name: 'register' } }]);
    }
    for (const r of http.batch(batch)) {
      if (r.status !== 201) fail(`register ${r.status} ${r.body}`);
      users.push(r.json('accessToken'));
    }
  }

  const email = __ENV.ADMIN_EMAIL || 'admin@skyshop.local';
  const login = http.post(`${BASE}/api/auth/login`, JSON.stringify({ email, password: __ENV.ADMIN_PASSWORD || '' }), { headers: JSON_HEADERS });
  if (login.status !== 200) fail(`admin login ${login.status} ${login.body} (set ADMIN_PASSWORD)`);
  const admin = { ...JSON_HEADERS, authorization: `Bearer ${login.json('accessToken')}` };

  const ids = [];
  for (let page = 1; ; page++) {
    const r = http.get(`${BASE}/api/products?limit=100&page=${page}`, { tags: { name: 'listing' } });
    if (r.status !== 200) fail(`listing ${r.status} ${r.body}`);
    const data = r.json('data');
    ids.push(...data.map((p) => p.id));
    if (data.length < 100 || page >= Number(r.json('meta.totalPages'))) break;
  }
  if (ids.length === 0) fail('no product: seed the catalog first (scripts/seed)');
  const stock = JSON.stringify({ available: STOCK });
  for (let from = 0; from < ids.length; from += 20) {
    const puts = ids.slice(from, from + 20).map((id) => ['PUT', `${BASE}/api/inventory/${id}`, stock, { headers: admin, tags: { name: 'stock' } }]);
    http.batch(puts).forEach((r, i) => {
      if (r.status !== 200) fail(`stock of ${ids[from + i]}: ${r.status} ${r.body}`);
    });
  }
  return { run, users, ids };
}

const ADDRESS = { firstName: 'Load', lastName: 'Test', address1: '1 Benchmark Way', city: 'Austin', state: 'TX', postalCode: '78701', country: 'US' };
const ORDER = JSON.stringify({ shippingAddress: ADDRESS, paymentMethod: 'card' });

export default function (data) {
  const vu = exec.vu.idInTest;
  if (vu > data.users.length) fail(`VU ${vu} has no user of its own: raise POOL`);
  const auth = { ...JSON_HEADERS, authorization: `Bearer ${data.users[vu - 1]}` };
  const add = http.post(`${BASE}/api/cart/items`, JSON.stringify({ productId: pick(data.ids), quantity: 1 }), { headers: auth, tags: { kind: 'add', name: 'add_to_cart' } });
  if (!check(add, { 'item added': (r) => r.status === 200 || r.status === 201 })) return;
  const key = `${data.run}-${vu}-${exec.vu.iterationInInstance}`;
  const order = http.post(`${BASE}/api/orders`, ORDER, { headers: { ...auth, 'idempotency-key': key }, tags: { kind: 'order', name: 'place_order' } });
  if (check(order, { 'order placed (201)': (r) => r.status === 201 })) placed.add(1);
}
