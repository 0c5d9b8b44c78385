// The seed's crud-operations scenario (seed-spec §11), with the writes it never performed.
//
//   k6 run -e BASE_URL=http://127.0.0.1:3100 load-tests/crud-operations.js
//
// Ramp 30 s→100, 2 m→300, 30 s→0 VUs (scaled by VU_SCALE, default 0.2, and TIME_SCALE).
// Reads, as the seed: a product page (1–50), the categories, one product, the caller's profile.
// Writes (the seed logged in and wrote nothing): the signed-in user adds a product to their cart
// and empties it again. Thresholds are the seed's: crud p95<80, read p95<50, write p95<100,
// errors<1%.
import http from 'k6/http';
import { check, fail, sleep } from 'k6';
import { BASE, TREND_STATS, between, pick } from './lib/catalog.js';

const PASSWORD = 'Correct-Horse-9';
const vus = Number(__ENV.VU_SCALE || 0.2);
const time = Number(__ENV.TIME_SCALE || 1);
const stage = (seconds, target) => ({ duration: `${Math.max(1, Math.round(seconds * time))}s`, target: Math.round(target * vus) });

export const options = {
  scenarios: {
    crud: { executor: 'ramping-vus', startVUs: 0, stages: [stage(30, 100), stage(120, 300), stage(30, 0)], gracefulRampDown: '10s' },
  },
  thresholds: {
    http_req_failed: ['rate<0.01'],
    'http_req_duration{kind:crud}': ['p(95)<80'],
    'http_req_duration{op:read}': ['p(95)<50'],
    'http_req_duration{op:write}': ['p(95)<100'],
    'http_reqs{op:read}': ['count>0'],
    'http_reqs{op:write}': ['count>0'],
  },
  summaryTrendStats: TREND_STATS,
};

const USERS = 20;

export function setup() {
  const run = Date.now().toString(36);
  const tokens = [];
  for (let i = 0; i < USERS; i++) {
    const email = `crud-${run}-${i}@example.com`;
    const headers = { 'content-type': 'application/json' };
    const reg = http.post(`${BASE}/api/auth/register`, JSON.stringify({ email, password: PASSWORD, firstName: 'Load', lastName: 'Test' }), { headers });
    if (reg.status !== 201) fail(`register ${reg.status} ${reg.body}`);
    const login = http.post(`${BASE}/api/auth/login`, JSON.stringify({ email, password: PASSWORD }), { headers });
    if (login.status !== 200) fail(`login ${login.status} ${login.body}`);
    tokens.push(login.json('accessToken'));
  }
  const listing = http.get(`${BASE}/api/products?inStock=true&limit=100`);
  if (listing.status !== 200) fail(`listing ${listing.status}`);
  const ids = listing.json('data').filter((p) => p.available === null).map((p) => p.id);
  if (ids.length === 0) fail('no product in stock: seed the catalog first (scripts/seed)');
  return { tokens, ids };
}

const read = (name) => ({ tags: { kind: 'crud', op: 'read', name } });

export default function (data) {
  const token = data.tokens[__VU % data.tokens.length];
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const page = http.get(`${BASE}/api/products?page=${between(1, 50)}&limit=20`, read('products'));
  check(page, { 'products 200': (r) => r.status === 200 });
  sleep(0.5);
  check(http.get(`${BASE}/api/categories`, read('categories')), { 'categories 200': (r) => r.status === 200 });
  sleep(0.5);
  const id = pick(data.ids);
  check(http.get(`${BASE}/api/products/${id}`, read('product')), { 'product 200': (r) => r.status === 200 });
  sleep(0.5);
  check(http.get(`${BASE}/api/auth/profile`, { headers: auth, ...read('profile') }), { 'profile 200': (r) => r.status === 200 });
  sleep(0.5);
  const write = (name) => ({ headers: auth, tags: { kind: 'crud', op: 'write', name } });
  const add = http.post(`${BASE}/api/cart/items`, JSON.stringify({ productId: id, quantity: 1 }), write('add_to_cart'));
  check(add, { 'added': (r) => r.status === 200 || r.status === 201 });
  check(http.del(`${BASE}/api/cart/items`, null, write('clear_cart')), { 'cleared': (r) => r.status === 200 });
  sleep(0.5);
}
