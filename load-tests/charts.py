#!/usr/bin/env python3
"""Charts (hand-written SVG, Python 3.11 standard library only) from k6 output.

    charts.py timeline --json NAME.timeline.json|RAW.json[.gz] [--metric http_req_duration] [--step 1] --out docs/charts/NAME-latency.svg
    charts.py sweep --results load-tests/results --out-dir docs/charts
    charts.py trim --in RAW.json[.gz] --out NAME.timeline.json   # per-second count/p50/p95/p99: small enough to commit

`timeline` reads k6's `--out json=` stream (plain or gzip): p50/p95/p99 of the metric per
`--step` seconds over the run, with the requests per second achieved below them.
`sweep` reads the rate sweeps' `--summary-export` files (NAME-RATE.summary.json, 30 s main
scenario each, as scripts/bench runs them): throughput achieved vs the offered arrival rate, and
p95 vs the offered rate, one chart per scenario family.
"""

import argparse
import gzip
import json
import math
import re
from collections import defaultdict
from datetime import datetime
from pathlib import Path

W, H = 760, 420
ML, MR, MT, MB = 70, 150, 40, 50
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]

# Sweep families: file prefix → (title, the main scenario's p95 metric, duration of each step in s).
SWEEPS = {
    "checkout": ("Checkout (add to cart + place order)", "http_req_duration{kind:order,scenario:checkout}", "iterations{scenario:checkout}", 30),
    "checkout-card": ("Checkout with card payment (order → intent → Stripe → confirm)", "http_req_duration{kind:confirm,scenario:checkout}", "iterations{scenario:checkout}", 30),
    "search-1m-engine": ("Search, 1M products, new queries (engine)", "http_req_duration{kind:search}", "iterations", 30),
    "search-1m-cached": ("Search, 1M products, repeated queries (cached)", "http_req_duration{kind:search}", "iterations", 30),
    "search-1m-mix": ("Search, 1M products, the seed's mix", "http_req_duration{kind:search}", "iterations", 30),
    "search-1m-newtext": ("Search, 1M products, text never asked before", "http_req_duration{kind:search}", "iterations", 30),
    "order-flow": ("Order flow (my orders, one order, products)", "http_req_duration{scenario:orders}", "iterations{scenario:orders}", 30),
}


def esc(text):
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def nice_max(v):
    if v <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * exp:
            return m * exp
    return 10 * exp


def chart(title, xlabel, ylabel, series, xmax=None, ymax=None, log_y=False):
    """series: [(name, [(x, y), ...], dashed)] → SVG text."""
    xs = [x for _, pts, _ in series for x, _ in pts]
    ys = [y for _, pts, _ in series for _, y in pts if y is not None]
    xmax = xmax or nice_max(max(xs, default=1))
    ymax = ymax or nice_max(max(ys, default=1))
    ymin = 0.0
    if log_y:
        ymin = 10 ** math.floor(math.log10(max(min([y for y in ys if y > 0], default=1), 1e-3)))
        ymax = 10 ** math.ceil(math.log10(max(ymax, ymin * 10)))
    pw, ph = W - ML - MR, H - MT - MB

    def px(x):
        return ML + pw * x / xmax

    def py(y):
        if log_y:
            y = max(y, ymin)
            return MT + ph * (1 - (math.log10(y) - math.log10(ymin)) / (math.log10(ymax) - math.log10(ymin)))
        return MT + ph * (1 - (y - ymin) / (ymax - ymin))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>', f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">{esc(title)}</text>']
    # grid and axes
    ticks = [ymin * 10 ** i for i in range(int(round(math.log10(ymax / ymin))) + 1)] if log_y else [ymax * i / 5 for i in range(6)]
    for t in ticks:
        y = py(t)
        out.append(f'<line x1="{ML}" y1="{y:.1f}" x2="{ML + pw}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{ML - 6}" y="{y + 4:.1f}" text-anchor="end">{t:g}</text>')
    for i in range(6):
        x = px(xmax * i / 5)
        out.append(f'<line x1="{x:.1f}" y1="{MT}" x2="{x:.1f}" y2="{MT + ph}" stroke="#eee"/>')
        out.append(f'<text x="{x:.1f}" y="{MT + ph + 16}" text-anchor="middle">{xmax * i / 5:g}</text>')
    out.append(f'<rect x="{ML}" y="{MT}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>')
    out.append(f'<text x="{ML + pw / 2}" y="{H - 10}" text-anchor="middle">{esc(xlabel)}</text>')
    out.append(f'<text x="16" y="{MT + ph / 2}" text-anchor="middle" transform="rotate(-90 16 {MT + ph / 2})">{esc(ylabel)}</text>')
    for i, (name, pts, dashed) in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        pts = [(x, y) for x, y in pts if y is not None]
        if not pts:
            continue
        path = " ".join(f"{'M' if j == 0 else 'L'}{px(x):.1f},{py(y):.1f}" for j, (x, y) in enumerate(pts))
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        out.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
        if len(pts) <= 12:
            out += [f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{colour}"/>' for x, y in pts]
        ly = MT + 14 + 18 * i
        out.append(f'<line x1="{ML + pw + 12}" y1="{ly - 4}" x2="{ML + pw + 32}" y2="{ly - 4}" stroke="{colour}" stroke-width="2"{dash}/>')
        out.append(f'<text x="{ML + pw + 36}" y="{ly}">{esc(name)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    k = (len(sorted_values) - 1) * p / 100
    f, c = math.floor(k), math.ceil(k)
    return sorted_values[f] if f == c else sorted_values[f] + (sorted_values[c] - sorted_values[f]) * (k - f)


def read_points(path, metric):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as f:
        for line in f:
            if f'"metric":"{metric}"' not in line or '"type":"Point"' not in line:
                continue
            d = json.loads(line)["data"]
            if d.get("tags", {}).get("expected_response") == "false":
                continue
            yield datetime.fromisoformat(d["time"].replace("Z", "+00:00")).timestamp(), d["value"]


def timeline(args):
    if args.json.endswith(".timeline.json"):
        doc = json.loads(Path(args.json).read_text())
        rows, step, metric = doc["rows"], doc["step_seconds"], doc["metric"]
    else:
        rows, step, metric = aggregate(args.json, args.metric, args.step), args.step, args.metric
    series = [(f"p{p}", [(r["t"], r[f"p{p}"]) for r in rows], False) for p in (50, 95, 99)]
    name = args.title or Path(args.json).name.split(".")[0]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(chart(f"{name}: {metric} percentiles per {step:g} s", "seconds into the run", "ms", series))
    rate = [(r["t"], r["n"] / step) for r in rows]
    out.with_name(out.stem.replace("-latency", "") + "-rate.svg").write_text(chart(f"{name}: requests per second achieved", "seconds into the run", "requests/s", [("achieved", rate, False)]))
    print(f"wrote {out} and {out.stem.replace('-latency', '')}-rate.svg ({sum(r['n'] for r in rows)} points)")


def sweep(args):
    results = Path(args.results)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for prefix, (title, p95_metric, count_metric, seconds) in SWEEPS.items():
        rows = []
        for f in results.glob(f"{prefix}-*.summary.json"):
            m = re.fullmatch(rf"{re.escape(prefix)}-(\d+)\.summary\.json", f.name)
            if not m:
                continue
            metrics = json.loads(f.read_text())["metrics"]
            count = metrics.get(count_metric, metrics.get("iterations", {})).get("count", 0)
            p95 = metrics.get(p95_metric, metrics.get("http_req_duration", {})).get("p(95)")
            rows.append((int(m.group(1)), count / seconds, p95))
        if len(rows) < 2:
            continue
        rows.sort()
        top = max(max(r[0] for r in rows), max(r[1] for r in rows))
        svg = chart(f"{title}: achieved vs offered", "offered rate (iterations/s)", "achieved (iterations/s)",
                    [("achieved", [(r[0], r[1]) for r in rows], False), ("offered (ideal)", [(0, 0), (nice_max(top), nice_max(top))], True)], xmax=nice_max(top), ymax=nice_max(top))
        (out_dir / f"{prefix}-throughput.svg").write_text(svg)
        svg = chart(f"{title}: p95 vs offered rate", "offered rate (iterations/s)", "p95 ms (log scale)", [("p95", [(r[0], r[2]) for r in rows], False)], xmax=nice_max(top), log_y=True)
        (out_dir / f"{prefix}-p95.svg").write_text(svg)
        written.append((prefix, rows))
        print(f"{prefix}: " + ", ".join(f"{o}/s → {a:.1f}/s p95 {p:.1f} ms" for o, a, p in rows))
    if not written:
        raise SystemExit(f"no sweep summaries in {results}")


def aggregate(path, metric, step):
    """Per-`step` seconds: request count and p50/p95/p99 of `metric` from a k6 JSON stream."""
    buckets = defaultdict(list)
    start = None
    for t, v in read_points(path, metric):
        start = t if start is None else min(start, t)
        buckets[t].append(v)
    if start is None:
        raise SystemExit(f"no {metric} points in {path}")
    per = defaultdict(list)
    for t, values in buckets.items():
        per[int((t - start) // step)].extend(values)
    rows = []
    for x in sorted(per):
        values = sorted(per[x])
        rows.append({"t": x * step, "n": len(values), **{f"p{p}": round(percentile(values, p), 3) for p in (50, 95, 99)}})
    return rows


def trim(args):
    """k6's JSON stream → a small per-second timeline (count, p50, p95, p99) to commit."""
    rows = aggregate(args.input, args.metric, args.step)
    doc = {"metric": args.metric, "step_seconds": args.step, "source": "k6 --out json, aggregated by load-tests/charts.py trim", "rows": rows}
    Path(args.out).write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    print(f"{args.out}: {len(rows)} steps, {sum(r['n'] for r in rows)} {args.metric} points")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("timeline")
    t.add_argument("--json", required=True)
    t.add_argument("--metric", default="http_req_duration")
    t.add_argument("--step", type=float, default=1.0)
    t.add_argument("--title")
    t.add_argument("--out", required=True)
    s = sub.add_parser("sweep")
    s.add_argument("--results", default="load-tests/results")
    s.add_argument("--out-dir", default="docs/charts")
    r = sub.add_parser("trim")
    r.add_argument("--in", dest="input", required=True)
    r.add_argument("--metric", default="http_req_duration")
    r.add_argument("--step", type=float, default=1.0)
    r.add_argument("--out", required=True)
    args = p.parse_args()
    {"timeline": timeline, "sweep": sweep, "trim": trim}[args.cmd](args)


if __name__ == "__main__":
    main()
