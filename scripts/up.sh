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
# The local PostgreSQL over its Unix socket, unless DATABASE_URL names another (a TCP URL works as ever).
export DATABASE_URL="${DATABASE_URL:-$(local_database_url)}"
export GEARSHIFT_BROKER_URL="${GEARSHIFT_BROKER_URL:-http://127.0.0.1:$GEARSHIFT_PORT}"
# Nodes on other hosts (scripts/join.sh, npm run lab) reach the API, Redis and the registry at this address.
if [ -n "$GEARSHIFT_ADVERTISE_ADDRESS" ]; then export GEARSHIFT_ADVERTISE_ADDRESS GEARSHIFT_REGISTRY; fi
# The registry's password is made in the state directory (by ensure_registry); the broker may keep its data elsewhere.
if [ -z "${GEARSHIFT_REGISTRY_PASSWORD:-}" ]; then
  export GEARSHIFT_REGISTRY_PASSWORD_FILE="${GEARSHIFT_REGISTRY_PASSWORD_FILE:-$GEARSHIFT_STATE_DIR/registry/password}"
fi
run_dir="$GEARSHIFT_DATA_DIR/run"
log_dir="$GEARSHIFT_DATA_DIR/logs"
api="http://$GEARSHIFT_HOST:$GEARSHIFT_PORT/api/v1"
# A small young generation: the broker and agent are I/O-bound, and it keeps their memory down by a third. A capped
# old generation and two malloc arenas make them give memory back after a burst of requests instead of keeping it.
# A platform of thousands of gears sets GEARSHIFT_NODE_FLAGS (see the README's configuration).
NODE_FLAGS="${GEARSHIFT_NODE_FLAGS:---max-semi-space-size=1 --max-old-space-size=128}"
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"

prepare_host
# Redis's password, generated once by prepare_host: the broker, router and this host's agent get it here (and, on a
# systemd host, in the env file below, readable by root alone); it is never printed.
export REDIS_URL="${REDIS_URL:-$(redis_url)}"
ensure_node_modules
ensure_build
say "building cartridge images (cached by content hash)"
if [ -n "$GEARSHIFT_ADVERTISE_ADDRESS" ]; then
  # And into the registry, where nodes on other hosts pull them instead of building each one again.
  node dist/apps/node-agent/src/prepare-images.js --push
else
  node dist/apps/node-agent/src/prepare-images.js
fi

# The database's name as the broker reads it, whatever the URL's form (a socket in ?host= or percent-encoded).
db=$(node -e '
  const { parsePostgresUrl } = require("./dist/libs/cartridges/src/postgres-url");
  try {
    process.stdout.write(parsePostgresUrl(process.env.DATABASE_URL, "DATABASE_URL").database);
  } catch (err) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }') || die "DATABASE_URL cannot be read"
if ! as_root su postgres -c "psql -qAtc \"select 1 from pg_database where datname='$db'\"" | grep -q 1; then
  say "creating the database $db"
  as_root su postgres -c "psql -qc 'create database \"$db\" owner $PG_USER'"
fi

as_root mkdir -p "$run_dir" "$log_dir"
# The platform's logs are for root (and its group) alone, whoever writes them: systemd, the supervisor, or an older
# run that made them readable by all.
as_root chmod 0750 "$log_dir"
for part in broker agent router supervisor; do
  as_root touch "$log_dir/$part.log"
  as_root chmod 0640 "$log_dir/$part.log"
done

# Who keeps the broker, agent and router running: systemd where it is PID 1 (units gearshift-broker, -agent and
# -router, restarted one second after they stop), otherwise Gearshift's own supervisor (dist/apps/supervisor), which
# starts each again within a fraction of a second and backs off if one keeps crashing. Either way each says so in
# its log.
systemd_host() { [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ] && command -v systemctl >/dev/null 2>&1; }

install_units() {
  local env_file=/etc/gearshift/gearshift.env
  as_root mkdir -p /etc/gearshift
  # It may hold the admin password: readable by root alone from the first byte.
  (umask 077; env | grep -E '^(GEARSHIFT_|DATABASE_URL=|REDIS_URL=|NODE_EXTRA_CA_CERTS=|MALLOC_ARENA_MAX=)' | as_root tee "$env_file" >/dev/null)
  as_root chmod 0600 "$env_file"
  local part main
  for part in broker agent router; do
    case $part in broker) main=broker ;; agent) main=node-agent ;; router) main=router ;; esac
    # The router's HAProxy outlives it (apps stay online while the router stops or is upgraded): stopping the unit
    # stops the router alone, and the next router takes HAProxy over ('npm run down -- --all' stops HAProxy).
    kill_mode=mixed
    [ "$part" = router ] && kill_mode=process
    as_root tee "/etc/systemd/system/gearshift-$part.service" >/dev/null <<UNIT
[Unit]
Description=Gearshift $part
After=network-online.target docker.service postgresql.service redis-server.service
StartLimitIntervalSec=0

[Service]
EnvironmentFile=$env_file
WorkingDirectory=$PWD
ExecStart=$(command -v node) $NODE_FLAGS $PWD/dist/apps/$main/src/main.js
Restart=always
RestartSec=1
KillMode=$kill_mode
StandardOutput=append:$log_dir/$part.log
StandardError=append:$log_dir/$part.log

[Install]
WantedBy=multi-user.target
UNIT
  done
  as_root systemctl daemon-reload
}

running() {
  if systemd_host; then systemctl is-active --quiet gearshift-broker; return; fi
  [ -f "$run_dir/supervisor.pid" ] && kill -0 "$(cat "$run_dir/supervisor.pid")" 2>/dev/null
}

restart_units=false
if systemd_host; then
  # Units that run already run the code they started with: an upgrade restarts them one at a time (below).
  systemctl is-active --quiet gearshift-broker && restart_units=true
  say "installing systemd units gearshift-broker, gearshift-agent and gearshift-router"
  install_units
  as_root systemctl enable --now gearshift-broker gearshift-agent gearshift-router >/dev/null
elif running; then
  # A platform runs already, perhaps of an earlier checkout: an upgrade. The schema moves first (migrations are
  # forward-only and the running broker works on the new schema); then a supervisor of this checkout retires the
  # running one and replaces the broker, the agent and the router one at a time, each new one ready and healthy
  # before the old one stops. HAProxy is handed from the old router to the new one, never restarted.
  say "Gearshift runs already (supervisor pid $(cat "$run_dir/supervisor.pid")): upgrading it in place, one part at a time"
  say "running the database migrations"
  node dist/apps/broker/src/main.js migrate || die "the migrations failed; nothing was replaced (the running platform is as it was)"
  status_file="$run_dir/take-over"
  rm -f "$status_file"
  (umask 027; GEARSHIFT_NODE_FLAGS="$NODE_FLAGS" exec setsid nohup node dist/apps/supervisor/src/main.js --take-over broker agent router \
    >>"$log_dir/supervisor.log" 2>&1 < /dev/null) &
  take_over_pid=$!
  shown=0
  for _ in $(seq 1 1200); do
    if [ -f "$status_file" ]; then
      lines=$(wc -l <"$status_file")
      if [ "$lines" -gt "$shown" ]; then
        tail -n +"$((shown + 1))" "$status_file" | head -n "$((lines - shown))" | while IFS= read -r line; do say "$line"; done
        shown=$lines
      fi
      last=$(tail -1 "$status_file")
      [ "$last" = done ] && break
      case "$last" in failed:*) die "the upgrade stopped: ${last#failed: } (logs: $log_dir)" ;; esac
    fi
    kill -0 "$take_over_pid" 2>/dev/null || { tail -30 "$log_dir/supervisor.log" >&2; die "the new supervisor stopped (logs: $log_dir)"; }
    sleep 0.5
  done
  [ "$(tail -1 "$status_file" 2>/dev/null)" = done ] || die "the upgrade did not finish within 10 minutes (logs: $log_dir)"
else
  say "starting the broker, a node agent and the router under Gearshift's supervisor"
  (umask 027; GEARSHIFT_NODE_FLAGS="$NODE_FLAGS" exec setsid nohup node dist/apps/supervisor/src/main.js broker agent router \
    >>"$log_dir/supervisor.log" 2>&1 < /dev/null) &
  echo $! > "$run_dir/supervisor.pid"
fi

stopped() { tail -30 "$log_dir/$1.log" >&2; die "the supervisor stopped (logs: $log_dir)"; }

# Waits up to SECONDS for CHECK while the platform runs; otherwise shows PART's log and stops, saying WHAT.
wait_for() {
  local part=$1 seconds=$2 what=$3
  shift 3
  for _ in $(seq 1 $((seconds * 2))); do
    "$@" && return 0
    running || stopped "$part"
    sleep 0.5
  done
  tail -30 "$log_dir/$part.log" >&2
  die "$what within $seconds s (log: $log_dir/$part.log)"
}
broker_up() { curl -fsS "$api/healthz" >/dev/null 2>&1; }
agent_ready() { curl -fsS "$api/healthz" 2>/dev/null | grep -q '"ready":true'; }
router_up() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${GEARSHIFT_ROUTER_PORT:-8000}/" || true)" = 404 ]; }

if $restart_units; then
  # systemd stops a unit before it starts it again: each part is away for the seconds of its restart (HAProxy, which
  # the router unit does not stop, keeps serving the apps), and the next waits until it is back.
  say "running the database migrations"
  node dist/apps/broker/src/main.js migrate || die "the migrations failed; nothing was restarted"
  say "restarting gearshift-broker"
  as_root systemctl restart gearshift-broker
  wait_for broker 60 "the broker did not become healthy" broker_up
  say "restarting gearshift-agent"
  as_root systemctl restart gearshift-agent
  wait_for agent 60 "the node agent did not become ready" agent_ready
  say "restarting gearshift-router"
  as_root systemctl restart gearshift-router
fi
say "waiting for the broker on $api"
wait_for broker 60 "the broker did not become healthy" broker_up
say "waiting for the node agent"
wait_for agent 60 "the node agent did not become ready" agent_ready
say "waiting for the router (HAProxy) on port ${GEARSHIFT_ROUTER_PORT:-8000}"
wait_for router 30 "the router did not answer" router_up

if [ -n "${GEARSHIFT_ADMIN_PASSWORD:-}" ]; then
  password_hint='the password in GEARSHIFT_ADMIN_PASSWORD'
else
  password_hint="the password in $GEARSHIFT_DATA_DIR/admin-password"
  # A generated password is shown once, here on the terminal (never in a log: not when the output goes to a file or a
  # pipe); the file keeps it for root.
  if [ -t 1 ] && as_root test -s "$GEARSHIFT_DATA_DIR/admin-password" && ! as_root test -e "$GEARSHIFT_DATA_DIR/admin-password.shown"; then
    password_hint="$password_hint: $(as_root cat "$GEARSHIFT_DATA_DIR/admin-password")"
    as_root touch "$GEARSHIFT_DATA_DIR/admin-password.shown"
  fi
fi
cat <<MSG

  Gearshift is up.
    API          $api   (OpenAPI: http://$GEARSHIFT_HOST:$GEARSHIFT_PORT/api/docs)
    apps         http://<app>-<domain>.${GEARSHIFT_APPS_DOMAIN:-localhost}:${GEARSHIFT_ROUTER_PORT:-8000}
    log in as    admin, with $password_hint
    logs         $log_dir
    try          PASSWORD=\$(cat $GEARSHIFT_DATA_DIR/admin-password 2>/dev/null || sudo cat $GEARSHIFT_DATA_DIR/admin-password)
                 curl -s -X POST $api/auth/login -H 'content-type: application/json' \\
                   -d "{\"username\":\"admin\",\"password\":\"\$PASSWORD\"}"

MSG

if $detach; then
  say "running in the background; stop it with: npm run down"
  exit 0
fi
say "following the logs; Ctrl-C stops the platform"
trap 'bash scripts/down.sh; exit 0' INT TERM
# The logs are JSON lines (for jq and log shippers); pino-pretty prints them readably here, and passes other lines
# (the supervisor's, tail's file headers) through as they are.
tail -n 0 -F "$log_dir/broker.log" "$log_dir/agent.log" "$log_dir/router.log" "$log_dir/supervisor.log" 2>/dev/null |
  node_modules/.bin/pino-pretty --colorize --translateTime SYS:HH:MM:ss.l --ignore pid,hostname,part --messageFormat '{part}: {msg}' &
wait
