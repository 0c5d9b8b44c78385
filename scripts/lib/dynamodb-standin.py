"""DynamoDB Local, with the stream queries whose cost grew with everything ever written made cheap.

DynamoDB Local keeps every table's stream records in one SQLite table, `us` (StreamID, ShardID,
SequenceNumber = its rowid, the record), with no index but the rowid. Three of the queries it
runs look records up by stream or shard, and so walk that table:

- `SELECT MIN(SequenceNumber) FROM us WHERE StreamID=?` — part of the stream description it
  builds for *every* operation on a table with a stream (reads included, several times per
  write) and for each `GetRecords`; it walks `us` from the start to the stream's first record,
  so all of it for a stream with none;
- `SELECT SequenceNumber FROM us WHERE ShardID=? ORDER BY SequenceNumber DESC LIMIT 1` — twice
  per `GetRecords`; it walks `us` from the end to the shard's last record, so all of it for a
  shard that has been quiet;
- `GetRecords`' own (`... WHERE StreamID = ? AND ShardID = ? AND SequenceNumber >= ? ... ORDER
  BY SequenceNumber LIMIT ?`) — it walks from the reader's position to the end of the whole
  table, every other stream's records included, when the shard has nothing new (an idle
  stream's reader, on every poll).

Measured (DynamoDB Local 2026-05-28's debug log for the statements; its own SQLite 3.8.7 through
sqlite4java for the plans and times; `load-tests/dynamodb-local-streams.py` for a load): with
20,000 records in `us`, each of the three took ~24 ms for an idle stream, and a `GetRecords` on
it 26-36 ms of DynamoDB Local's single SQLite thread; every write to a table whose stream began
after those records paid the first walk several times. The local runner polls each stream shard
four times a second, as Lambda does, so a long `scripts/dev` session, a bench or the test
suite's many tables slowed the whole cloud down as records piled up.

So the database lives in a file — in a RAM-backed directory (`/dev/shm`), removed at exit, so
nothing is kept, as with `-inMemory` — and this launcher adds two indexes once DynamoDB Local
has created its tables: `us(ShardID)` and `us(StreamID)`. SQLite 3.8.7 answers all three from
them (`... USING INDEX (ShardID=?)`, `(StreamID=? AND rowid>?)`: tens of microseconds at 20,000
records). Not `(ShardID, SequenceNumber)`: the sequence number is the rowid, and 3.8.7 then
uses only the index's first column for `GetRecords` and reads every record of a busy stream
(53 ms at 20,000). Same server, same answers, same API; only the plans change.

    python scripts/lib/dynamodb-standin.py --jar-dir DIR --port 8000 [--db-dir DIR]

`--db-dir` keeps the database in that directory instead (scripts/chaos: a restarted DynamoDB
Local finds its tables again).
"""

import argparse
import glob
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

INDEXES = (
    "CREATE INDEX IF NOT EXISTS skyshop_us_shard ON us(ShardID)",
    "CREATE INDEX IF NOT EXISTS skyshop_us_stream ON us(StreamID)",
)


def ram_dir(port):
    """A fresh directory on /dev/shm (or the temp directory), after removing this port's stale ones."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()
    for stale in glob.glob(os.path.join(base, f"skyshop-dynamodb-{port}-*")):
        try:
            os.kill(int(stale.rsplit("-", 1)[1]), 0)
        except (ValueError, ProcessLookupError):
            shutil.rmtree(stale, ignore_errors=True)
        except PermissionError:
            pass
    path = os.path.join(base, f"skyshop-dynamodb-{port}-{os.getpid()}")
    os.makedirs(path, exist_ok=True)
    return path


def poke(port):
    """One ListTables: DynamoDB Local opens (creates) its database on the first request."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/",
        data=b"{}",
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "DynamoDB_20120810.ListTables",
            "Authorization": "AWS4-HMAC-SHA256 Credential=local/20240101/us-east-1/dynamodb/aws4_request, "
            "SignedHeaders=host, Signature=x",
        },
    )
    with urllib.request.urlopen(request, timeout=2) as response:
        json.load(response)


def index(path):
    """Adds the indexes; True once the database has its `us` table and them."""
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        if not db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'us'").fetchone():
            return False
        # A schema change: DynamoDB Local's connection reads the schema again before its next
        # statement and plans with the indexes from then on.
        for statement in INDEXES:
            db.execute(statement)
        return True
    finally:
        db.close()


def prepare(port, directory, java):
    """Waits for DynamoDB Local's database (one file: -sharedDb), then indexes it."""
    deadline = time.monotonic() + 120
    last = "DynamoDB Local exited"
    while java.poll() is None and time.monotonic() < deadline:
        try:
            poke(port)
            done = [index(f) for f in glob.glob(os.path.join(directory, "*.db"))]
            if done and all(done):
                print(f"dynamodb-standin: stream indexes added to {len(done)} database(s) in {directory}", flush=True)
                return
        except (OSError, sqlite3.Error) as error:
            last = error
        else:
            last = "no database yet"
        time.sleep(0.2)
    if java.poll() is None:
        print(f"dynamodb-standin: could not index the database in {directory}: {last}", file=sys.stderr, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jar-dir", required=True, help="directory holding DynamoDBLocal.jar and DynamoDBLocal_lib")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db-dir", help="keep the database here (default: a RAM directory removed at exit)")
    args = parser.parse_args()

    directory = args.db_dir or ram_dir(args.port)
    os.makedirs(directory, exist_ok=True)
    java = subprocess.Popen(
        [
            "java",
            f"-Djava.library.path={os.path.join(args.jar_dir, 'DynamoDBLocal_lib')}",
            "-jar",
            os.path.join(args.jar_dir, "DynamoDBLocal.jar"),
            # One database file whatever the credentials or region (the local cloud uses one).
            "-sharedDb",
            "-dbPath",
            directory,
            # DynamoDB Local would otherwise try to reach AWS.
            "-disableTelemetry",
            "-port",
            str(args.port),
        ],
        cwd=directory,
    )

    def stop(signum, _frame):
        if java.poll() is None:
            java.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop)
    threading.Thread(target=prepare, args=(args.port, directory, java), daemon=True).start()
    try:
        code = java.wait()
    finally:
        if java.poll() is None:
            java.kill()
            java.wait()
        if not args.db_dir:
            shutil.rmtree(directory, ignore_errors=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
