// Search at a fixed arrival rate: the goal is ≥ 2,000 queries/s at p95 ≤ 20 ms over
// 1,000,000 products, through the local runner, with k6 on the same 2-core machine. Like the
// seed's search-1m.js (constant-arrival-rate, RATE, DURATION, kind:search) but:
//
//   MODE=engine (default): the four search-benchmark shapes in turn, each with a random price
//     window in cents (text and brand queries too), so nearly every URL is new and the 60 s
//     listing cache cannot answer: this measures the index.
//   MODE=cached: the seed's own query (q from 20 terms + brand, 160 distinct URLs), which after
//     the first minute is answered by the Redis cache, as the seed's 800 r/s run mostly was.
//   MODE=mix: the seed's search-benchmark shapes exactly as it draws them (load-tests/lib/catalog.js
//     SHAPES: text from 20 terms, brand from 8, a random price range, and text + brand + price
//     sorted by price), in turn: text, brand and combined repeat (20, 8 and 160 URLs) and are
//     mostly cache hits; nearly every price range is new and goes to the index.
//   MODE=newtext: text queries never asked before — one to three words of one product's name,
//     brand and tags (from the data set the catalog is generated from), in random order, one query
//     in ten with one letter replaced (a typo); a VU never repeats a query (VUs draw from
//     different streams). No filters: the listing cache cannot answer and the index's per-query
//     caches cannot either; this is the goal "≥ 1,000 new text queries/s at p95 ≤ 20 ms".
//
//   k6 run -e BASE_URL=http://127.0.0.1:3100 [-e RATE=2000] [-e DURATION=60s] [-e MODE=engine] load-tests/search-1m.js
import http from 'k6/http';
import { check } from 'k6';
import { BRANDS, SEARCH_TERMS, SHAPES, TREND_STATS, between, pick, query } from './lib/catalog.js';

const RATE = Number(__ENV.RATE || 2000);
const MODE = __ENV.MODE || 'engine';
const ORDER = ['text', 'brand', 'price', 'combined'];

// MODE=newtext: each product's words (init context: read once per VU).
const PRODUCT_WORDS = MODE === 'newtext'
  ? JSON.parse(open('../infra/seed/dummyjson-products.json')).products
      .map((p) => Array.from(new Set(`${p.title} ${p.brand || ''} ${(p.tags || []).join(' ')}`.toLowerCase().split(/[^a-z0-9]+/).filter((w) => w.length >= 3))))
      .filter((words) => words.length > 0)
  : [];
const asked = new Set();

function newText() {
  for (;;) {
    const words = PRODUCT_WORDS[between(0, PRODUCT_WORDS.length - 1)];
    const n = Math.min(words.length, [1, 2, 2, 2, 3, 3][between(0, 5)]);
    const picked = [];
    while (picked.length < n) {
      const w = words[between(0, words.length - 1)];
      if (!picked.includes(w)) picked.push(w);
    }
    if (between(0, 9) === 0) {
      const k = between(0, n - 1);
      const at = between(1, picked[k].length - 1);
      picked[k] = picked[k].slice(0, at) + String.fromCharCode(97 + between(0, 25)) + picked[k].slice(at + 1);
    }
    const q = picked.join(' ');
    if (!asked.has(q)) {
      asked.add(q);
      return q;
    }
  }
}

export const options = {
  scenarios: {
    search: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: __ENV.DURATION || '60s',
      // Enough VUs up front that k6 does not drop iterations while it starts more: a quarter
      // of a second of arrivals (at 1,000/s the first second meets a cold index cache, whose
      // requests then wait in the server and count in the latencies instead of being dropped).
      preAllocatedVUs: Math.max(50, Math.ceil(RATE / 4)),
      maxVUs: Math.max(500, RATE),
    },
  },
  thresholds: {
    'http_req_duration{kind:search}': ['p(95)<20'],
    http_req_failed: ['rate<0.01'],
    'http_reqs{kind:search}': ['count>0'],
    // Iterations k6 could not start in time (the load generator or the server fell behind).
    dropped_iterations: ['count<1'],
  },
  summaryTrendStats: TREND_STATS,
  // At thousands of responses per second, parsing them would cost k6 the CPU the server needs;
  // a 200 from this endpoint is a listing (errors are problem+json with 4xx/5xx).
  discardResponseBodies: true,
};

function engineUrl(shape) {
  const min = between(0, 499) * 100 + between(0, 99);
  const window = { minPrice: min, maxPrice: min + between(100, 1099) * 100 + between(0, 99), limit: 20 };
  switch (shape) {
    case 'text':
      return query({ q: pick(SEARCH_TERMS), ...window });
    case 'brand':
      return query({ brand: pick(BRANDS), ...window });
    case 'combined':
      return query({ q: pick(SEARCH_TERMS), brand: pick(BRANDS), minPrice: 5000 + between(0, 9999), maxPrice: 200000 - between(0, 9999), sort: 'price_asc', limit: 20 });
    default:
      return SHAPES.price().replace('limit=20', `limit=${between(10, 30)}`);
  }
}

export default function () {
  const shape = MODE === 'cached' ? 'seed' : MODE === 'newtext' ? 'newtext' : ORDER[(__ITER + __VU) % ORDER.length];
  let url;
  if (MODE === 'newtext') url = query({ q: newText(), limit: 20 });
  else if (MODE === 'cached') url = query({ q: pick(SEARCH_TERMS), brand: pick(BRANDS), page: 1, limit: 20 });
  else if (MODE === 'mix') url = SHAPES[shape]();
  else url = engineUrl(shape);
  const res = http.get(url, { tags: { kind: 'search', shape, name: `search-${shape}` } });
  check(res, { 'search 200': (r) => r.status === 200 });
}
