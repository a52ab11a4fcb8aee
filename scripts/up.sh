#!/usr/bin/env bash
# `npm run up`: brings the whole platform up on this machine, installing and starting what is missing.
#   npm run up               in the foreground with its logs; Ctrl-C stops it
#   npm run up -- --detach   returns once everything is healthy and leaves it running (`npm run down` stops it)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/host.sh

detach=false
for arg in "$@"; do
  case "$arg" in
    --detach|-d) detach=true ;;
    -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
    *) die "unknown option $arg (try --detach)" ;;
  esac
done

export GEARSHIFT_DATA_DIR="${GEARSHIFT_DATA_DIR:-$GEARSHIFT_STATE_DIR}"
export GEARSHIFT_PORT="${GEARSHIFT_PORT:-8080}"
export GEARSHIFT_HOST="${GEARSHIFT_HOST:-127.0.0.1}"
export DATABASE_URL="${DATABASE_URL:-postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:5432/gearshift}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
export GEARSHIFT_BROKER_URL="${GEARSHIFT_BROKER_URL:-http://127.0.0.1:$GEARSHIFT_PORT}"
run_dir="$GEARSHIFT_DATA_DIR/run"
log_dir="$GEARSHIFT_DATA_DIR/logs"
api="http://$GEARSHIFT_HOST:$GEARSHIFT_PORT/api/v1"
# A small young generation: the broker and agent are I/O-bound, and it keeps their memory down by a third.
NODE_FLAGS="--max-semi-space-size=1"

prepare_host
ensure_node_modules
ensure_build
say "building cartridge images (cached by content hash)"
node dist/apps/node-agent/src/prepare-images.js

db=$(basename "${DATABASE_URL%%\?*}")
if ! as_root su postgres -c "psql -qAtc \"select 1 from pg_database where datname='$db'\"" | grep -q 1; then
  say "creating the database $db"
  as_root su postgres -c "psql -qc 'create database \"$db\" owner $PG_USER'"
fi

as_root mkdir -p "$run_dir" "$log_dir"
running() { [ -f "$run_dir/$1.pid" ] && kill -0 "$(cat "$run_dir/$1.pid")" 2>/dev/null; }

start() {
  local name=$1; shift
  if running "$name"; then say "$name is already running (pid $(cat "$run_dir/$name.pid"))"; return; fi
  setsid nohup "$@" >>"$log_dir/$name.log" 2>&1 < /dev/null &
  echo $! > "$run_dir/$name.pid"
}

wait_healthy() {
  for _ in $(seq 1 120); do
    curl -fsS "$api/healthz" >/dev/null 2>&1 && return 0
    running broker || { tail -30 "$log_dir/broker.log" >&2; die "the broker stopped (log: $log_dir/broker.log)"; }
    sleep 0.5
  done
  die "the broker did not become healthy within 60 s (log: $log_dir/broker.log)"
}

say "starting the broker on $api"
start broker node $NODE_FLAGS dist/apps/broker/src/main.js
wait_healthy
say "starting a node agent"
start agent node $NODE_FLAGS dist/apps/node-agent/src/main.js
for _ in $(seq 1 60); do
  curl -fsS "$api/healthz" 2>/dev/null | grep -q '"ready":true' && break
  running agent || { tail -30 "$log_dir/agent.log" >&2; die "the node agent stopped (log: $log_dir/agent.log)"; }
  sleep 0.5
done

say "starting the router (HAProxy) on port ${GEARSHIFT_ROUTER_PORT:-8000}"
start router node $NODE_FLAGS dist/apps/router/src/main.js
for _ in $(seq 1 60); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${GEARSHIFT_ROUTER_PORT:-8000}/" || true)
  [ "$code" = 404 ] && break
  running router || { tail -30 "$log_dir/router.log" >&2; die "the router stopped (log: $log_dir/router.log)"; }
  sleep 0.5
done

if [ -n "${GEARSHIFT_ADMIN_PASSWORD:-}" ]; then
  password_hint='the password in GEARSHIFT_ADMIN_PASSWORD'
else
  password_hint="the password in $GEARSHIFT_DATA_DIR/admin-password"
fi
cat <<MSG

  Gearshift is up.
    API          $api   (OpenAPI: http://$GEARSHIFT_HOST:$GEARSHIFT_PORT/api/docs)
    apps         http://<app>-<domain>.${GEARSHIFT_APPS_DOMAIN:-localhost}:${GEARSHIFT_ROUTER_PORT:-8000}
    log in as    admin, with $password_hint
    logs         $log_dir
    try          curl -s -X POST $api/auth/login -H 'content-type: application/json' \\
                   -d "{\"username\":\"admin\",\"password\":\"\$(sudo cat $GEARSHIFT_DATA_DIR/admin-password)\"}"

MSG

if $detach; then
  say "running in the background; stop it with: npm run down"
  exit 0
fi
say "following the logs; Ctrl-C stops the platform"
trap 'bash scripts/down.sh; exit 0' INT TERM
tail -n 0 -F "$log_dir/broker.log" "$log_dir/agent.log" "$log_dir/router.log" &
wait
