#!/usr/bin/env bash
# `npm run down`: stops the router, node agent and broker that `npm run up` started (their systemd units, or the
# supervisor, which stops them in turn). Apps stay online: gears keep running (they are Docker containers with a
# restart policy) and the agent reconciles them when it comes back; HAProxy keeps serving them with the routes it
# has, and the next router takes it over.
#   npm run down             stops the platform's processes; apps keep serving
#   npm run down -- --all    stops HAProxy as well: apps go offline until the next `npm run up`
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/host.sh

all=false
for arg in "$@"; do
  case "$arg" in
    --all) all=true ;;
    -h|--help) sed -n '6,7p' "$0"; exit 0 ;;
    *) die "unknown option $arg (try --all)" ;;
  esac
done

data_dir="${GEARSHIFT_DATA_DIR:-$GEARSHIFT_STATE_DIR}"
run_dir="$data_dir/run"
router_dir="${GEARSHIFT_ROUTER_DIR:-$data_dir/router}"

# The HAProxy master the router left serving, if one runs with this platform's configuration.
haproxy_pid() {
  local pid
  pid=$(head -1 "$router_dir/haproxy.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$router_dir/haproxy.cfg" && echo "$pid"
}

# Run last: with --all stops HAProxy, otherwise says that it serves on.
finish() {
  local pid
  pid=$(haproxy_pid) || return 0
  if ! $all; then
    say "HAProxy (pid $pid) keeps serving the apps with the routes it has; the next 'npm run up' takes it over ('npm run down -- --all' stops it too)"
    return 0
  fi
  say "stopping HAProxy (pid $pid): the apps are offline until the next 'npm run up'"
  kill -TERM "$pid"
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ] && command -v systemctl >/dev/null 2>&1 && [ -f /etc/systemd/system/gearshift-broker.service ]; then
  say "stopping the systemd units gearshift-router, gearshift-agent and gearshift-broker"
  as_root systemctl stop gearshift-router gearshift-agent gearshift-broker
  finish
  exit 0
fi

stop_pid() {
  local name=$1 pidfile=$2
  [ -f "$pidfile" ] || return 0
  local pid
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    say "stopping $name (pid $pid)"
    kill -TERM "$pid"
    for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -f "$pidfile"
}

# The supervisor stops what it runs; then anything an earlier version started without it.
stop_pid supervisor "$run_dir/supervisor.pid"
for name in router agent broker; do stop_pid "$name" "$run_dir/$name.pid"; done
finish
