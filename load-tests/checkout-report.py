#!/usr/bin/env python3
"""Where the time and the CPU of a checkout go (scripts/bench checkout).

  checkout-report.py sample --timeline T.jsonl --proc runner=PID --proc dynamodb=PID ... -- k6 run ...
      runs the command (k6) and samples, every 0.5 s until it exits, the CPU seconds
      (utime + stime from /proc/<pid>/stat, all threads) of each named process, of every
      `postgres` and `redis-server` process on the machine (summed by name), and of the command
      itself (`k6`). Exits with the command's status.

  checkout-report.py report --log RUNNER.log --timeline T.jsonl --duration 60 [--out R.json]
      reads the runner's `checkout steps` log lines (one per checkout: outcome, total_us,
      steps_us) and reports p50/p95/p99 of each step, and the CPU per checkout of each process
      over the measured window: the DURATION seconds that end with the last checkout logged
      (the constant-rate scenario; registration and warm-up come before it). With card payments
      (checkout-card.js) it also reads the `stripe webhook` lines (one per delivery: outcome,
      status, elapsed_us) and reports the webhook function's own time.

  checkout-report.py table load-tests/results/checkout*.summary.json
      one Markdown row per run (k6 summary, and NAME.steps.json beside it when there).
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")
STEPS = ["claim_key", "cart_read", "catalog_reprice", "coupon_redeem", "inventory_reserve", "postgres_tx", "after_commit"]
BY_NAME = ["postgres", "redis-server"]


def cpu_seconds(pid):
    """utime + stime of a process (all its threads), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def by_name():
    """CPU seconds of every live process per command name in BY_NAME (summed)."""
    totals = {name: 0.0 for name in BY_NAME}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue
        if comm in totals:
            totals[comm] += cpu_seconds(entry) or 0.0
    return totals


def machine():
    """CPU seconds the whole machine spent busy (all cores, /proc/stat), for what else ran."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / TICK


def sample(args):
    procs = dict(p.split("=", 1) for p in args.proc)
    child = subprocess.Popen(args.command)
    with open(args.timeline, "w") as out:
        while True:
            done = child.poll() is not None
            cpu = {name: cpu_seconds(pid) for name, pid in procs.items()}
            cpu.update(by_name())
            cpu["k6"] = cpu_seconds(child.pid) if not done else None
            cpu["machine"] = machine()
            out.write(json.dumps({"t": time.time(), "cpu": cpu}) + "\n")
            out.flush()
            if done:
                return child.returncode
            time.sleep(0.5)


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def stamp(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def report(args):
    checkouts = []
    webhooks = []
    with open(args.log, errors="replace") as f:
        for line in f:
            if "checkout steps" not in line and "stripe webhook" not in line:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("message") == "stripe webhook":
                webhooks.append((stamp(event["timestamp"]), event.get("outcome"), int(event.get("elapsed_us", 0)), event.get("status")))
                continue
            if event.get("message") != "checkout steps":
                continue
            steps = event.get("steps_us")
            if isinstance(steps, str):
                steps = json.loads(steps)
            checkouts.append((stamp(event["timestamp"]), event.get("outcome"), int(event.get("total_us", 0)), steps or {}))
    if not checkouts:
        sys.exit("no `checkout steps` lines in the log (RUST_LOG must enable orders::checkout=info)")
    end = max(c[0] for c in checkouts)
    start = end - args.duration
    window = [c for c in checkouts if c[0] > start]
    placed = [c for c in window if c[1] == "placed"]

    ms = lambda us: None if us is None else round(us / 1000, 2)  # noqa: E731
    steps = {}
    for name in STEPS + sorted({s for c in placed for s in c[3]} - set(STEPS)):
        values = [c[3][name] for c in placed if name in c[3]]
        if values:
            steps[name] = {"p50_ms": ms(percentile(values, 50)), "p95_ms": ms(percentile(values, 95)),
                           "p99_ms": ms(percentile(values, 99)), "mean_ms": ms(sum(values) / len(values))}
    totals = [c[2] for c in placed]
    outcomes = {}
    for c in window:
        outcomes[c[1]] = outcomes.get(c[1], 0) + 1

    # CPU over the window: the samples nearest its start and its end (k6's last sample is before it exits).
    timeline = [json.loads(line) for line in open(args.timeline)]
    first = min(timeline, key=lambda s: abs(s["t"] - start))
    last = min(timeline, key=lambda s: abs(s["t"] - end))
    seconds = last["t"] - first["t"]
    in_cpu_window = [c for c in window if first["t"] < c[0] <= last["t"]]
    n = len([c for c in in_cpu_window if c[1] == "placed"])
    cpu = {}
    for name in [n for n in first["cpu"] if n != "machine"] + ["machine"]:
        # k6's last sample is the one before it exited.
        seen = [s for s in timeline if s["cpu"].get(name) is not None and s["t"] <= last["t"]]
        a, b = first["cpu"].get(name), (seen[-1]["cpu"][name] if seen else None)
        if a is None or b is None:
            continue
        used = b - a
        cpu[name] = {"cpu_seconds": round(used, 2), "cores_busy": round(used / seconds, 3) if seconds > 0 else None,
                     "cpu_ms_per_checkout": round(used * 1000 / n, 2) if n else None}
    measured = sum(v["cpu_seconds"] for k, v in cpu.items() if k != "machine")
    result = {
        "window_seconds": args.duration,
        "checkouts_logged": len(window),
        "outcomes": outcomes,
        "placed_per_second": round(len(placed) / args.duration, 1),
        "total_ms": {"p50": ms(percentile(totals, 50)), "p95": ms(percentile(totals, 95)), "p99": ms(percentile(totals, 99))},
        "steps": steps,
        "cpu": {"window_seconds": round(seconds, 1), "checkouts": n, "per_process": cpu,
                "measured_cpu_ms_per_checkout": round(measured * 1000 / n, 2) if n else None,
                # The machine's busy CPU that none of the processes above used (other work, the kernel's softirqs).
                "other_cpu_seconds": round(cpu["machine"]["cpu_seconds"] - measured, 2) if "machine" in cpu else None},
    }
    hooks = [w for w in webhooks if w[0] > start]
    if hooks:
        # The webhook function's own time per delivery (verify, record, settle, tell orders), from
        # its `stripe webhook` lines: no Stripe call is on this path.
        elapsed = [w[2] for w in hooks]
        kinds = {}
        for w in hooks:
            kinds[f"{w[3]} {w[1]}"] = kinds.get(f"{w[3]} {w[1]}", 0) + 1
        result["webhook"] = {"deliveries": len(hooks), "outcomes": kinds,
                             "ms": {"p50": ms(percentile(elapsed, 50)), "p95": ms(percentile(elapsed, 95)), "p99": ms(percentile(elapsed, 99))}}
    text = json.dumps(result, indent=2)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    print(text)


def table(args):
    print("| run | target/s | seconds | checkouts/s | order p50 | p95 | p99 | add p95 | failed requests | dropped iterations |"
          " runner | DynamoDB Local | moto | Postgres | Redis | k6 | machine busy |")
    print("|---" * 17 + "|")
    for path in args.summaries:
        m = json.load(open(path))["metrics"]
        name = os.path.basename(path).removesuffix(".summary.json")
        steps_path = path.removesuffix(".summary.json") + ".steps.json"
        steps = json.load(open(steps_path)) if os.path.exists(steps_path) else None
        order = m.get("http_req_duration{kind:order,scenario:checkout}", {})
        add = m.get("http_req_duration{kind:add,scenario:checkout}", {})
        placed = m.get("checkouts_placed{scenario:checkout}", {}).get("count", 0)
        failed = m.get("http_req_failed{scenario:checkout}", {})
        reqs = m.get("http_reqs{scenario:checkout}", {}).get("count", 0)
        nfailed = round(failed.get("value", 0) * reqs) if "value" in failed else failed.get("passes", 0)
        dropped = m.get("dropped_iterations", {}).get("count", 0)
        seconds = steps["window_seconds"] if steps else None
        rate = f"{placed / seconds:.1f}" if seconds else "?"
        cpu = steps["cpu"]["per_process"] if steps else {}
        c = lambda k: f'{cpu[k]["cpu_ms_per_checkout"]} ms ({cpu[k]["cores_busy"]})' if k in cpu else "-"  # noqa: E731
        f = lambda v: "-" if v is None else f"{v:.1f}"  # noqa: E731
        target = name.rsplit("-", 1)[1] if name.rsplit("-", 1)[-1].isdigit() else args.main_rate
        print(f"| {name} | {target} | {f(seconds)} | {rate} | {f(order.get('med'))} | {f(order.get('p(95)'))} |"
              f" {f(order.get('p(99)'))} | {f(add.get('p(95)'))} | {nfailed} of {reqs} | {dropped} | {c('runner')} | {c('dynamodb')} |"
              f" {c('moto')} | {c('postgres')} | {c('redis-server')} | {c('k6')} | {c('machine')} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command_name", required=True)
    s = sub.add_parser("sample")
    s.add_argument("--timeline", required=True)
    s.add_argument("--proc", action="append", default=[], help="NAME=PID")
    s.add_argument("command", nargs=argparse.REMAINDER)
    r = sub.add_parser("report")
    r.add_argument("--log", required=True)
    r.add_argument("--timeline", required=True)
    r.add_argument("--duration", type=float, default=60)
    r.add_argument("--out")
    t = sub.add_parser("table")
    t.add_argument("--main-rate", default="80", help="the target rate of the run named `checkout`")
    t.add_argument("summaries", nargs="+")
    args = parser.parse_args()
    if args.command_name == "table":
        return table(args)
    if args.command_name == "sample":
        if args.command and args.command[0] == "--":
            args.command = args.command[1:]
        if not args.command:
            parser.error("sample needs a command after --")
        sys.exit(sample(args))
    report(args)


if __name__ == "__main__":
    main()
