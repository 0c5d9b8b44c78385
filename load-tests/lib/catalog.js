// Shared pieces of the catalog scenarios (product-browse.js, search-benchmark.js, search-1m.js).
//
// Environment:
//   BASE_URL    the API (default http://127.0.0.1:3000: scripts/dev)
//   VU_SCALE    multiplies every stage's VU target of the seed's 5-minute ramp (default 0.2)
//   TIME_SCALE  multiplies every stage's duration (default 1)

export const BASE = __ENV.BASE_URL || 'http://127.0.0.1:3000';

// The seed's ramp (seed-spec §11): 30 s→50, 1 m→200, 2 m→500, 1 m→200, 30 s→0 VUs. Its 500-VU
// peak is sized for a cluster; on the 2-core machine that also runs k6 it is scaled by VU_SCALE
// (0.2 → a 100-VU peak), keeping the shape. VU_SCALE=1 is the seed's exact load.
export function seedRamp() {
  const vus = Number(__ENV.VU_SCALE || 0.2);
  const time = Number(__ENV.TIME_SCALE || 1);
  const stage = (seconds, target) => ({ duration: `${Math.max(1, Math.round(seconds * time))}s`, target: Math.round(target * vus) });
  return {
    executor: 'ramping-vus',
    startVUs: 0,
    stages: [stage(30, 50), stage(60, 200), stage(120, 500), stage(60, 200), stage(30, 0)],
    gracefulRampDown: '10s',
  };
}

export const TREND_STATS = ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'];

// Words of the DummyJSON catalog (and so of its synthetic variations); `iphne` checks typos.
export const BROWSE_TERMS = ['phone', 'laptop', 'watch', 'perfume', 'shirt', 'shoes', 'sunglasses', 'kitchen'];
export const SEARCH_TERMS = [
  'iphone', 'samsung galaxy', 'laptop', 'watch', 'rolex', 'perfume', 'lipstick', 'shirt', 'dress', 'shoes',
  'sneakers', 'sunglasses', 'leather bag', 'wireless', 'charger', 'blender', 'lamp', 'table', 'motorcycle', 'iphne',
];
export const BRANDS = ['Apple', 'Samsung', 'Sony', 'Dell', 'HP', 'Lenovo', 'LG', 'Asus'];

export function pick(list) {
  return list[Math.floor(Math.random() * list.length)];
}

export function between(lo, hi) {
  return lo + Math.floor(Math.random() * (hi - lo + 1));
}

export function query(params) {
  const parts = [];
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null) parts.push(`${key}=${encodeURIComponent(value)}`);
  }
  return `${BASE}/api/products?${parts.join('&')}`;
}

// The four shapes of the seed's search-benchmark. Prices are integer cents on our API: the seed's
// "min 0-499, width 100-1099" dollars become minPrice 0-49,900 and width 10,000-109,900 cents, its
// combined "50..2000" dollars 5,000..200,000 cents.
export const SHAPES = {
  text: () => query({ q: pick(SEARCH_TERMS), limit: 20 }),
  brand: () => query({ brand: pick(BRANDS), limit: 20 }),
  price: () => {
    const min = between(0, 499) * 100;
    return query({ minPrice: min, maxPrice: min + between(100, 1099) * 100, limit: 20 });
  },
  combined: () => query({ q: pick(SEARCH_TERMS), brand: pick(BRANDS), minPrice: 5000, maxPrice: 200000, sort: 'price_asc', limit: 20 }),
};

export function isListing(res) {
  if (res.status !== 200) return false;
  try {
    const body = res.json();
    return Array.isArray(body.data) && typeof body.meta.total === 'number';
  } catch (_) {
    return false;
  }
}
