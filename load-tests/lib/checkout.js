// Shared pieces of the checkout scenarios (checkout.js, checkout-card.js): the pool of users and
// the stock, set up once; the order body.
import http from 'k6/http';
import { fail } from 'k6';
import { BASE } from './catalog.js';

export const PASSWORD = 'Correct-Horse-9';
export const JSON_HEADERS = { 'content-type': 'application/json' };
export const ADDRESS = { firstName: 'Load', lastName: 'Test', address1: '1 Benchmark Way', city: 'Austin', state: 'TX', postalCode: '78701', country: 'US' };
export const CARD_ORDER = JSON.stringify({ shippingAddress: ADDRESS, paymentMethod: 'card' });

// POOL users registered (argon2id hashes: in batches of 10, so the cores are busy but no request
// waits near the gateway's 10 s integration timeout), every active product's stock set to STOCK
// as the admin (ADMIN_PASSWORD; ADMIN_EMAIL default admin@skyshop.local). Products are drawn
// from the whole listing, not `inStock=true`: the catalog's in-stock flag follows inventory
// through two streams and may lag the PUT.
export function setupShop(POOL, STOCK, warmupVus) {
  if (POOL <= warmupVus) fail(`POOL must be above ${warmupVus}`);
  const run = Date.now().toString(36);
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

