// Login and refresh through the local runner (or a deployed API: BASE_URL=https://...).
//
//   k6 run -e BASE_URL=http://127.0.0.1:3100 load-tests/auth.js
//
// login:   constant VUs logging in (argon2id-bound: each login hashes once).
// refresh: constant VUs, each rotating its own refresh token in a loop (DynamoDB-bound).
// Run by scripts/bench with the local runner's edge limits lifted (SKYSHOP_LOCAL_THROTTLE=off:
// route throttles and the emulated WAF rate rules). In AWS every client IP may send 100 auth
// requests per 5 minutes (WAF), so a load test against a deployed API from one machine measures
// the WAF, not the function; the stage's capacity throttle is 1,000 requests/s per auth route.
import http from 'k6/http';
import { check, fail } from 'k6';

const BASE = __ENV.BASE_URL || 'http://127.0.0.1:3000';
const PASSWORD = 'Correct-Horse-9';
const USERS = 20;
const JSON_HEADERS = { headers: { 'content-type': 'application/json' } };

export const options = {
  scenarios: {
    login: { executor: 'constant-vus', exec: 'login', vus: Number(__ENV.LOGIN_VUS || 4), duration: __ENV.DURATION || '20s' },
    refresh: { executor: 'constant-vus', exec: 'refresh', vus: Number(__ENV.REFRESH_VUS || 8), duration: __ENV.DURATION || '20s', startTime: __ENV.REFRESH_START || '22s' },
  },
  thresholds: {
    http_req_failed: ['rate<0.01'],
    'http_req_duration{scenario:login}': ['p(95)<500'],
    'http_req_duration{scenario:refresh}': ['p(95)<100'],
    // Listed so the summary shows each scenario's request count and rate.
    'http_reqs{scenario:login}': ['count>0'],
    'http_reqs{scenario:refresh}': ['count>0'],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

export function setup() {
  const run = Date.now().toString(36);
  const users = [];
  for (let i = 0; i < USERS; i++) {
    const email = `k6-${run}-${i}@example.com`;
    const r = http.post(`${BASE}/api/auth/register`, JSON.stringify({ email, password: PASSWORD, firstName: 'Load', lastName: 'Test' }), JSON_HEADERS);
    if (r.status !== 201) fail(`register ${r.status} ${r.body}`);
    users.push(email);
  }
  return { users };
}

export function login(data) {
  const email = data.users[(__VU + __ITER) % data.users.length];
  const r = http.post(`${BASE}/api/auth/login`, JSON.stringify({ email, password: PASSWORD }), JSON_HEADERS);
  check(r, { 'login 200': (res) => res.status === 200 });
}

let token = null;
export function refresh(data) {
  if (token === null) {
    const email = data.users[__VU % data.users.length];
    const r = http.post(`${BASE}/api/auth/login`, JSON.stringify({ email, password: PASSWORD }), { ...JSON_HEADERS, tags: { name: 'refresh-setup-login' } });
    token = r.json('refreshToken');
    return;
  }
  const r = http.post(`${BASE}/api/auth/refresh`, JSON.stringify({ refreshToken: token }), JSON_HEADERS);
  if (check(r, { 'refresh 200': (res) => res.status === 200 })) {
    token = r.json('refreshToken');
  } else {
    token = null;
  }
}
