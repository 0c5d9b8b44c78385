#!/usr/bin/env bash
# The dependencies scripts/chaos takes down and brings back (run, not sourced):
#
#   chaos-faults.sh setup                 DynamoDB Local (on disk), PostgreSQL and Redis of the run's own
#   chaos-faults.sh down|up DEPENDENCY    dynamodb, redis, postgres, moto, stripe
#   chaos-faults.sh teardown              stop what setup started (moto and localstripe are
#                                         scripts/chaos's start_standins')
#
# Environment (from scripts/chaos): CHAOS_DIR (scratch directory), CHAOS_PG_PORT, CHAOS_REDIS_PORT,
# SKYSHOP_DDB_PORT, SKYSHOP_MOTO_PORT, SKYSHOP_STRIPE_PORT, SKYSHOP_HOME, DDB_LOCAL_DIR.
set -euo pipefail

: "${CHAOS_DIR:?}" "${CHAOS_PG_PORT:?}" "${CHAOS_REDIS_PORT:?}" "${SKYSHOP_DDB_PORT:?}"
run_dir="${SKYSHOP_HOME:?}/run"

die() {
  printf 'chaos-faults: %s\n' "$*" >&2
  exit 1
}

# shellcheck source-path=SCRIPTDIR source=wait.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/wait.sh"

# The PostgreSQL binaries (Debian keeps them out of PATH).
pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    if [[ -x "$d/initdb" ]]; then
      printf '%s' "$d"
      return 0
    fi
  done
  command -v initdb >/dev/null 2>&1 && dirname -- "$(command -v initdb)" && return 0
  die "PostgreSQL's initdb not found"
}

# As the postgres user when root (initdb and postgres refuse to run as root).
as_pg() {
  if [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# launch NAME CMD...: CMD in a session of its own, its PID in $CHAOS_DIR/NAME.pid.
launch() {
  local name=$1
  shift
  setsid "$@" </dev/null >>"$CHAOS_DIR/$name.log" 2>&1 &
  printf '%s\n' "$!" >"$CHAOS_DIR/$name.pid"
}

# signal SIGNAL PIDFILE: the whole process group of the PID in PIDFILE.
signal() {
  local pid
  pid="$(cat -- "$2" 2>/dev/null)" || die "no PID file $2"
  kill "-$1" -- "-$pid" 2>/dev/null || kill "-$1" -- "$pid"
}

stop_pidfile() { # PIDFILE
  local pid i
  pid="$(cat -- "$1" 2>/dev/null)" || return 0
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM -- "$pid" 2>/dev/null || return 0
  for i in {1..50}; do
    kill -0 -- "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL -- "$pid" 2>/dev/null || true
}

ddb_answers() {
  curl -sf -o /dev/null --max-time 2 -X POST "http://127.0.0.1:$SKYSHOP_DDB_PORT/" \
    -H 'Content-Type: application/x-amz-json-1.0' -H 'X-Amz-Target: DynamoDB_20120810.ListTables' \
    -H 'Authorization: AWS4-HMAC-SHA256 Credential=local/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=x' \
    --data '{}'
}
pg_answers() { "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$CHAOS_PG_PORT"; }
redis_answers() { [[ "$(redis-cli -p "$CHAOS_REDIS_PORT" ping 2>/dev/null)" == PONG ]]; }

ddb_up() {
  : "${DDB_LOCAL_DIR:?}"
  mkdir -p -- "$CHAOS_DIR/ddb"
  # On disk (--db-dir): a restarted DynamoDB Local finds its tables, items and streams again.
  launch dynamodb "${SKYSHOP_VENV:?}/bin/python" "$(dirname -- "${BASH_SOURCE[0]}")/dynamodb-standin.py" \
    --jar-dir "$DDB_LOCAL_DIR" --port "$SKYSHOP_DDB_PORT" --db-dir "$CHAOS_DIR/ddb"
  skyshop_wait_until 60 ddb_answers || die "DynamoDB Local did not answer on port $SKYSHOP_DDB_PORT"
}

pg_up() {
  as_pg "$(pg_bin)/pg_ctl" -D "$CHAOS_DIR/pg" -l "$CHAOS_DIR/pgsock/postgres.log" -w -t 60 \
    -o "-p $CHAOS_PG_PORT -c listen_addresses=127.0.0.1 -k $CHAOS_DIR/pgsock -c fsync=off -c max_connections=200" start >/dev/null
  skyshop_wait_until 30 pg_answers || die "PostgreSQL did not answer on port $CHAOS_PG_PORT"
}

redis_up() {
  # The append-only file (fsync'd every write) keeps carts and caches over a restart, as a
  # replicated ElastiCache would.
  launch redis redis-server --port "$CHAOS_REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly yes \
    --appendfsync always --dir "$CHAOS_DIR/redis"
  skyshop_wait_until 30 redis_answers || die "Redis did not answer on port $CHAOS_REDIS_PORT"
}

case "${1:-}" in
  setup)
    # The postgres user must reach the cluster's directories.
    chmod 755 "$CHAOS_DIR"
    mkdir -p -- "$CHAOS_DIR/pg" "$CHAOS_DIR/pgsock" "$CHAOS_DIR/redis"
    if [[ "$(id -u)" == 0 ]]; then chown postgres: "$CHAOS_DIR/pg" "$CHAOS_DIR/pgsock"; fi
    as_pg "$(pg_bin)/initdb" -D "$CHAOS_DIR/pg" -U postgres -A trust --no-sync >"$CHAOS_DIR/initdb.log" 2>&1 ||
      { cat "$CHAOS_DIR/initdb.log" >&2; die "initdb failed"; }
    pg_up
    redis_up
    ddb_up
    ;;
  teardown)
    if [[ -f "$CHAOS_DIR/pg/postmaster.pid" ]]; then
      as_pg "$(pg_bin)/pg_ctl" -D "$CHAOS_DIR/pg" -m immediate stop >/dev/null 2>&1 || true
    fi
    stop_pidfile "$CHAOS_DIR/redis.pid"
    stop_pidfile "$CHAOS_DIR/dynamodb.pid"
    # A frozen stand-in would not hear the TERM that stops it.
    for stem in "moto-${SKYSHOP_MOTO_PORT:-}" "localstripe-${SKYSHOP_STRIPE_PORT:-}"; do
      if [[ -f "$run_dir/$stem.pid" ]]; then signal CONT "$run_dir/$stem.pid" 2>/dev/null || true; fi
    done
    ;;
  down | up)
    action=$1
    case "${2:-}:$action" in
      dynamodb:down) stop_pidfile "$CHAOS_DIR/dynamodb.pid" ;;
      dynamodb:up) ddb_up ;;
      redis:down) redis-cli -p "$CHAOS_REDIS_PORT" shutdown >/dev/null 2>&1 || stop_pidfile "$CHAOS_DIR/redis.pid" ;;
      redis:up) redis_up ;;
      postgres:down) as_pg "$(pg_bin)/pg_ctl" -D "$CHAOS_DIR/pg" -m fast -w stop >/dev/null ;;
      postgres:up) pg_up ;;
      moto:down) signal STOP "$run_dir/moto-$SKYSHOP_MOTO_PORT.pid" ;;
      moto:up) signal CONT "$run_dir/moto-$SKYSHOP_MOTO_PORT.pid" ;;
      stripe:down) signal STOP "$run_dir/localstripe-$SKYSHOP_STRIPE_PORT.pid" ;;
      stripe:up) signal CONT "$run_dir/localstripe-$SKYSHOP_STRIPE_PORT.pid" ;;
      *) die "unknown dependency '${2:-}'" ;;
    esac
    ;;
  *) die "usage: chaos-faults.sh setup | teardown | down DEPENDENCY | up DEPENDENCY" ;;
esac
