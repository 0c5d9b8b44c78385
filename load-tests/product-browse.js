// Storefront browsing, as the seed's product-browse.js (seed-spec §11): the first listing page, a
// text search, the detail of a product from that page.
//
//   k6 run -e BASE_URL=http://127.0.0.1:3100 [-e VU_SCALE=0.2] [-e TIME_SCALE=1] load-tests/product-browse.js
//
// Load: the seed's 5-minute ramp with VU targets × VU_SCALE (default 0.2: peak 100 VUs instead of
// 500, see lib/catalog.js); each iteration sleeps 2 s, so 100 VUs make about 150 requests/s.
// Listing and search go through the 60 s Redis cache, as in production; product details through
// the 300 s product cache. scripts/bench browse runs it against the local runner.
import http from 'k6/http';
import { check, sleep } from 'k6';
import { BASE, BROWSE_TERMS, TREND_STATS, isListing, pick, query, seedRamp } from './lib/catalog.js';

export const options = {
  scenarios: { browse: seedRamp() },
  thresholds: {
    http_req_duration: ['p(95)<100'],
    http_req_failed: ['rate<0.01'],
    'http_req_duration{kind:list}': ['p(95)<100'],
    'http_req_duration{kind:detail}': ['p(95)<80'],
    'http_req_duration{kind:search}': ['p(95)<50'],
    // Listed so the summary shows each kind's count and rate.
    'http_reqs{kind:list}': ['count>0'],
    'http_reqs{kind:detail}': ['count>0'],
    'http_reqs{kind:search}': ['count>0'],
  },
  summaryTrendStats: TREND_STATS,
};

export default function () {
  const list = http.get(query({ page: 1, limit: 20 }), { tags: { kind: 'list', name: 'list' } });
  check(list, { 'list 200': isListing });
  sleep(0.5);

  const search = http.get(query({ q: pick(BROWSE_TERMS) }), { tags: { kind: 'search', name: 'search' } });
  check(search, { 'search 200': isListing });
  sleep(0.5);

  let ids = [];
  try {
    ids = list.json('data').map((p) => p.id);
  } catch (_) {
    ids = [];
  }
  if (ids.length > 0) {
    const detail = http.get(`${BASE}/api/products/${pick(ids)}`, { tags: { kind: 'detail', name: 'detail' } });
    check(detail, { 'detail 200': (r) => r.status === 200 });
  }
  sleep(1);
}
