// Search shapes, as the seed's search-benchmark.js (seed-spec §11): text (q from 20 terms,
// limit 20), brand filter (Apple, Samsung, Sony, Dell, HP, Lenovo, LG, Asus), price range and
// combined q + brand + price + sort=price_asc. Prices are integer cents on this API (the seed's
// dollars × 100, see lib/catalog.js).
//
//   k6 run -e BASE_URL=http://127.0.0.1:3100 [-e VU_SCALE=0.2] [-e TIME_SCALE=1] load-tests/search-benchmark.js
//
// Load: the seed's 5-minute ramp with VU targets × VU_SCALE (default 0.2: peak 100 VUs); each
// iteration makes 4 requests and sleeps 1.4 s. Text and brand queries have few distinct URLs and
// are mostly answered by the 60 s listing cache, as in the seed; price ranges mostly reach the
// index. search-1m.js measures the index itself at a fixed arrival rate.
import http from 'k6/http';
import { check, sleep } from 'k6';
import { SHAPES, TREND_STATS, isListing, seedRamp } from './lib/catalog.js';

export const options = {
  scenarios: { search: seedRamp() },
  thresholds: {
    http_req_failed: ['rate<0.01'],
    'http_req_duration{kind:search}': ['p(95)<50', 'avg<30'],
    'http_reqs{kind:search}': ['count>0'],
    // Per shape, for the write-up (no goal of their own in the seed).
    'http_req_duration{shape:text}': ['max>=0'],
    'http_req_duration{shape:brand}': ['max>=0'],
    'http_req_duration{shape:price}': ['max>=0'],
    'http_req_duration{shape:combined}': ['max>=0'],
  },
  summaryTrendStats: TREND_STATS,
};

function run(shape, pause) {
  const res = http.get(SHAPES[shape](), { tags: { kind: 'search', shape, name: shape } });
  check(res, { [`${shape} 200`]: isListing });
  sleep(pause);
}

export default function () {
  run('text', 0.3);
  run('brand', 0.3);
  run('price', 0.3);
  run('combined', 0.5);
}
