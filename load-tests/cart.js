// Add-to-cart and get-cart through the local runner (or a deployed API: BASE_URL=https://...).
//
//   k6 run -e BASE_URL=http://127.0.0.1:3100 load-tests/cart.js
//
// Each VU is a guest with its own cart (POST /api/cart once, then the secret X-Cart-Token):
// it adds one unit of a random in-stock product, reads the cart, and empties it every tenth
// iteration so lines stay under the per-line limit and the stock of the seeded catalog.
// Every add checks the line against the catalog and the resulting quantity against inventory
// (two internal calls), then writes the cart to Redis atomically.
import http from 'k6/http';
import { check, fail } from 'k6';
import { BASE, TREND_STATS, pick } from './lib/catalog.js';

const JSON_HEADERS = { 'content-type': 'application/json' };

export const options = {
  scenarios: {
    cart: { executor: 'constant-vus', vus: Number(__ENV.CART_VUS || 20), duration: __ENV.DURATION || '30s' },
  },
  thresholds: {
    http_req_failed: ['rate<0.01'],
    'http_req_duration{name:add_to_cart}': ['p(95)<100'],
    'http_req_duration{name:get_cart}': ['p(95)<50'],
    'http_reqs{name:add_to_cart}': ['count>0'],
    'http_reqs{name:get_cart}': ['count>0'],
  },
  summaryTrendStats: TREND_STATS,
};

export function setup() {
  const r = http.get(`${BASE}/api/products?inStock=true&limit=100`);
  if (r.status !== 200) fail(`listing ${r.status} ${r.body}`);
  // Products above their low-stock threshold (`available` is shown only at or below it), so that
  // the ten units a VU adds at most between two clears never exceed the stock.
  const ids = r.json('data').filter((p) => p.available === null).map((p) => p.id);
  if (ids.length === 0) fail('no product in stock: seed the catalog first (scripts/seed)');
  return { ids };
}

let token = null;
export default function (data) {
  if (token === null) {
    const r = http.post(`${BASE}/api/cart`, null, { tags: { name: 'create_cart' } });
    if (!check(r, { 'cart created': (res) => res.status === 201 || res.status === 200 })) return;
    token = r.json('cartToken');
  }
  const headers = { ...JSON_HEADERS, 'x-cart-token': token };
  const add = http.post(`${BASE}/api/cart/items`, JSON.stringify({ productId: pick(data.ids), quantity: 1 }), { headers, tags: { name: 'add_to_cart' } });
  check(add, { 'added': (res) => res.status === 200 || res.status === 201 });
  const get = http.get(`${BASE}/api/cart`, { headers, tags: { name: 'get_cart' } });
  check(get, { 'cart read': (res) => res.status === 200 });
  if (__ITER % 10 === 9) {
    http.del(`${BASE}/api/cart/items`, null, { headers, tags: { name: 'clear_cart' } });
  }
}
