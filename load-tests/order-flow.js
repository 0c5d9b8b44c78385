// The seed's order-flow (seed-spec §11) on our API: a signed-in customer looks at their orders.
// The seed's script claimed a full checkout but only read (GET /orders, GET /products) as one
// user that had no orders; here every user has orders of their own to read, and the checkout
// itself is checkout.js / checkout-card.js.
//
//   k6 run -e BASE_URL=http://127.0.0.1:3100 -e ADMIN_PASSWORD=... -e RATE=500 load-tests/order-flow.js
//
// setup(): POOL users (default 100) registered and stock set as checkout.js does, then each user
// places ORDERS orders (default 2; card, left PENDING). Per iteration, as the seed with its 0.1 s
// sleeps: GET /api/orders?page=1&limit=10 (kind orders), GET /api/orders/{id} of one of them
// (kind order), GET /api/products?page=1&limit=10 (kind products).
//
// Scenarios: `warmup` (WARMUP, default 10s, at min(RATE, 50)/s), then `orders`:
// constant-arrival-rate RATE (default 500, the seed: 2,000) iterations/s for DURATION (default
// 60s). Thresholds (orders scenario): the seed's (http p95 < 100 ms, errors < 5 %) and ours:
// every kind's p95 < 50 ms, no failed request, every check passed.
import http from 'k6/http';
import { check, fail, sleep } from 'k6';
import { BASE, TREND_STATS, pick } from './lib/catalog.js';
import { CARD_ORDER, JSON_HEADERS, setupShop } from './lib/checkout.js';

const RATE = Number(__ENV.RATE || 500);
const POOL = Number(__ENV.POOL || 100);
const ORDERS = Number(__ENV.ORDERS || 2);
const WARMUP = __ENV.WARMUP || '10s';
const STOCK = Number(__ENV.STOCK || 1000000);

export const options = {
  setupTimeout: '300s',
  scenarios: {
    warmup: {
      executor: 'constant-arrival-rate', rate: Math.min(RATE, 50), timeUnit: '1s', duration: WARMUP,
      preAllocatedVUs: 10, maxVUs: 50,
    },
    orders: {
      executor: 'constant-arrival-rate', rate: RATE, timeUnit: '1s', duration: __ENV.DURATION || '60s',
      startTime: WARMUP,
      // An iteration takes at least its two 0.1 s sleeps.
      preAllocatedVUs: Math.max(20, Math.ceil(RATE / 4)), maxVUs: Math.max(50, RATE),
    },
  },
  thresholds: {
    // The seed's.
    'http_req_duration{scenario:orders}': ['p(95)<100'],
    'http_req_failed{scenario:orders}': ['rate<0.05'],
    // Ours.
    'http_req_duration{kind:orders,scenario:orders}': ['p(95)<50'],
    'http_req_duration{kind:order,scenario:orders}': ['p(95)<50'],
    'http_req_duration{kind:products,scenario:orders}': ['p(95)<50'],
    'checks{scenario:orders}': ['rate==1'],
    'iterations{scenario:orders}': ['count>0'],
    'http_reqs{scenario:orders}': ['count>0'],
  },
  summaryTrendStats: TREND_STATS,
};

export function setup() {
  // setupShop's third argument: VUs kept for a warmup scenario of one user each; here users are
  // shared by reading VUs (reads only), so any pool above 1 will do.
  const { users, ids } = setupShop(POOL, STOCK, 1);
  const accounts = [];
  for (let from = 0; from < users.length; from += 10) {
    const batch = users.slice(from, from + 10);
    const orders = batch.map(() => []);
    for (let n = 0; n < ORDERS; n++) {
      const adds = batch.map((token) => ['POST', `${BASE}/api/cart/items`, JSON.stringify({ productId: pick(ids), quantity: 1 }),
        { headers: { ...JSON_HEADERS, authorization: `Bearer ${token}` }, tags: { name: 'setup_add' } }]);
      http.batch(adds).forEach((r) => {
        if (r.status !== 200 && r.status !== 201) fail(`add to cart ${r.status} ${r.body}`);
      });
      const placed = batch.map((token, i) => ['POST', `${BASE}/api/orders`, CARD_ORDER,
        { headers: { ...JSON_HEADERS, authorization: `Bearer ${token}`, 'idempotency-key': `order-flow-${from + i}-${n}-${Date.now()}` }, tags: { name: 'setup_order' } }]);
      http.batch(placed).forEach((r, i) => {
        if (r.status !== 201) fail(`place order ${r.status} ${r.body}`);
        orders[i].push(r.json('id'));
      });
    }
    batch.forEach((token, i) => accounts.push({ token, orders: orders[i] }));
  }
  return { accounts };
}

export default function (data) {
  const account = pick(data.accounts);
  const auth = { headers: { authorization: `Bearer ${account.token}` } };
  const list = http.get(`${BASE}/api/orders?page=1&limit=10`, { ...auth, tags: { kind: 'orders', name: 'my_orders' } });
  check(list, { 'orders listed': (r) => r.status === 200 && r.json('data').length === account.orders.length });
  sleep(0.1);
  const id = pick(account.orders);
  check(http.get(`${BASE}/api/orders/${id}`, { ...auth, tags: { kind: 'order', name: 'my_order' } }),
    { 'order read': (r) => r.status === 200 && r.json('id') === id });
  sleep(0.1);
  check(http.get(`${BASE}/api/products?page=1&limit=10`, { tags: { kind: 'products', name: 'products' } }),
    { 'products listed': (r) => r.status === 200 });
}
