#!/usr/bin/env bash
# Host preparation shared by `npm run up`, `npm test` and `npm run bench`.
# Installs and starts what Gearshift stands on (Docker Engine, PostgreSQL, Redis, an image registry, HAProxy, git,
# openssl, and jq for the README's tour) from Debian's
# packages when it is missing, and makes the offline base image. Every step checks first, so running it again is
# cheap and safe.
set -euo pipefail

GEARSHIFT_STATE_DIR=${GEARSHIFT_STATE_DIR:-/var/lib/gearshift}
BASE_IMAGE=${GEARSHIFT_BASE_IMAGE:-gearshift/base:bookworm}
# GEARSHIFT_ADVERTISE_ADDRESS: this host's address on the network its other nodes reach it by. Redis and the API
# listen there too, and the registry listens there (and is named by it, so every node pulls the same names).
GEARSHIFT_ADVERTISE_ADDRESS=${GEARSHIFT_ADVERTISE_ADDRESS:-}
GEARSHIFT_REGISTRY=${GEARSHIFT_REGISTRY:-${GEARSHIFT_ADVERTISE_ADDRESS:+$GEARSHIFT_ADVERTISE_ADDRESS:5000}}
TRIXIE_BASE_IMAGE=${GEARSHIFT_BASE_IMAGE_TRIXIE:-gearshift/base:trixie}
GEARSHIFT_REGISTRY=${GEARSHIFT_REGISTRY:-127.0.0.1:5000}
PG_USER=${GEARSHIFT_PG_USER:-gearshift}
PG_PASSWORD=${GEARSHIFT_PG_PASSWORD:-gearshift}
# The directory of the local PostgreSQL's Unix socket (Debian's): the platform reaches its database there by default,
# where a query costs the broker less CPU than over loopback TCP.
PG_SOCKET_DIR=${GEARSHIFT_PG_SOCKET_DIR:-/var/run/postgresql}
# The platform's own database on the local PostgreSQL, over its socket, as the broker and its tools are given it.
local_database_url() { echo "postgresql://$PG_USER:$PG_PASSWORD@/${1:-gearshift}?host=$PG_SOCKET_DIR"; }

say() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

ensure_packages() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v pg_ctlcluster >/dev/null 2>&1 || missing+=(postgresql)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
  command -v git >/dev/null 2>&1 || missing+=(git)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  command -v jq >/dev/null 2>&1 || missing+=(jq)
  command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
  command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
  if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]} from Debian's packages"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# Each app gets its own bridge network; Docker's default address pools hold only about 30 of them. Give it room
# for 16,384 app networks (/24 each) from the shared address space, which no LAN or public host uses.
ensure_docker_config() {
  as_root mkdir -p /etc/docker
  # A registry on an address other than loopback speaks plain HTTP on the platform's private network: this host's
  # Docker is told to trust it (Docker trusts only loopback without TLS). A running engine rereads it on SIGHUP.
  local changed
  changed=$(as_root node -e '
    const fs = require("fs");
    const file = "/etc/docker/daemon.json";
    const cfg = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8") || "{}") : {};
    const before = JSON.stringify(cfg);
    cfg["default-address-pools"] ??= [{ base: "100.64.0.0/10", size: 24 }];
    const registry = process.argv[1];
    if (registry && !/^(127\.|localhost(:|$))/.test(registry)) cfg["insecure-registries"] = [...new Set([...(cfg["insecure-registries"] ?? []), registry])];
    if (JSON.stringify(cfg) === before) process.exit(0);
    fs.writeFileSync(file, JSON.stringify(cfg, null, 2) + "\n");
    process.stdout.write("changed");
  ' "$GEARSHIFT_REGISTRY")
  if [ "$changed" = changed ] && docker info >/dev/null 2>&1; then as_root pkill -HUP -x dockerd || true; fi
}

ensure_dockerd() {
  ensure_docker_config
  if docker info >/dev/null 2>&1; then return; fi
  say "starting the Docker Engine"
  as_root mkdir -p /var/log
  as_root touch /var/log/gearshift-dockerd.log
  as_root chmod 0640 /var/log/gearshift-dockerd.log
  as_root setsid nohup dockerd >>/var/log/gearshift-dockerd.log 2>&1 < /dev/null &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return
    sleep 0.5
  done
  tail -20 /var/log/gearshift-dockerd.log >&2 || true
  die "dockerd did not come up within 30 s (log: /var/log/gearshift-dockerd.log)"
}

ensure_postgres() {
  local version
  version=$(ls /etc/postgresql 2>/dev/null | sort -n | tail -1)
  [ -n "$version" ] || die "PostgreSQL is installed but has no cluster in /etc/postgresql"
  if ! pg_lsclusters -h 2>/dev/null | awk '{print $4}' | grep -q online; then
    say "starting PostgreSQL $version"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
  fi
  for _ in $(seq 1 40); do
    as_root su postgres -c "psql -qAtc 'select 1'" >/dev/null 2>&1 && break
    sleep 0.25
  done
  if ! as_root su postgres -c "psql -qAtc \"select 1 from pg_roles where rolname='$PG_USER'\"" | grep -q 1; then
    say "creating the PostgreSQL role $PG_USER"
    as_root su postgres -c "psql -qc \"create role $PG_USER login createdb password '$PG_PASSWORD'\""
  fi
  ensure_postgres_socket_auth
}

# Debian's pg_hba.conf lets a Unix socket in only as the system user of the same name (peer): the platform's role
# logs in there with its password, as over TCP, by a line of its own before the peer lines (the first line that
# matches decides). The method is the one the server stores passwords with (scram-sha-256, or md5 on an older
# cluster). Added once, to a new cluster or one an earlier version of this script prepared, and the server reloaded.
ensure_postgres_socket_auth() {
  local hba method
  hba=$(as_root su postgres -c "psql -qAtc 'show hba_file'")
  if as_root grep -Eq "^[[:space:]]*local[[:space:]]+all[[:space:]]+\"?$PG_USER\"?[[:space:]]" "$hba"; then return; fi
  method=$(as_root su postgres -c "psql -qAtc 'show password_encryption'")
  case "$method" in scram-sha-256 | md5) ;; *) method=scram-sha-256 ;; esac
  say "letting the PostgreSQL role $PG_USER log in with its password over the Unix socket ($hba)"
  local updated
  updated=$(as_root awk -v line="$(printf '%-8s%-16s%-40s%s' local all "$PG_USER" "$method")" '
    !done && /^[[:space:]]*local[[:space:]]/ { print line; done = 1 }
    { print }
    END { if (!done) print line }' "$hba")
  # Written in place, so that the file keeps its owner and mode.
  printf '%s\n' "$updated" | as_root tee "$hba" >/dev/null
  as_root su postgres -c "psql -qAtc 'select pg_reload_conf()'" >/dev/null
}

# Redis requires a password: generated once into the state directory (readable by root alone) and given to the
# broker, router and this host's agent in REDIS_URL. Agents of other hosts never get it: each node is given a Redis
# user of its own when it joins. redis-cli reads the password from REDISCLI_AUTH, so it never shows in `ps`.
REDIS_PORT=${GEARSHIFT_REDIS_PORT:-6379}
redis_password_file() { echo "$GEARSHIFT_STATE_DIR/redis/password"; }

redis_ping() { REDISCLI_AUTH="${1:-}" redis-cli --no-auth-warning -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

ensure_redis_password() {
  local file
  file=$(redis_password_file)
  as_root mkdir -p "$GEARSHIFT_STATE_DIR/redis"
  as_root chmod 0700 "$GEARSHIFT_STATE_DIR/redis"
  if ! as_root test -s "$file"; then
    say "generating Redis's password into $file"
    (umask 077; openssl rand -hex 24 | as_root tee "$file" >/dev/null)
  fi
  as_root chmod 0600 "$file"
}

# The platform's Redis URL, with its password (for the environment of the broker, router and this host's agent).
redis_url() { echo "redis://:$(as_root cat "$(redis_password_file)")@127.0.0.1:$REDIS_PORT"; }

ensure_redis() {
  ensure_redis_password
  local password
  password=$(as_root cat "$(redis_password_file)")
  # Asked first without a password: redis-cli goes on after a refused AUTH, so only this tells an open Redis apart.
  if redis_ping; then
    # Running without a password (started by an earlier version, or by hand): it gets the recorded one now. The
    # default user keeps its rights; the password also goes into Redis's own config file when it has one.
    say "Redis on 127.0.0.1:$REDIS_PORT has no password: setting the one in $(redis_password_file)"
    printf %s "$password" | redis-cli -h 127.0.0.1 -p "$REDIS_PORT" -x CONFIG SET requirepass >/dev/null
    REDISCLI_AUTH="$password" redis-cli --no-auth-warning -h 127.0.0.1 -p "$REDIS_PORT" CONFIG REWRITE >/dev/null 2>&1 || true
    redis_ping "$password" || die "Redis on 127.0.0.1:$REDIS_PORT did not take the password"
    return
  fi
  if redis_ping "$password"; then
    # Nodes on other hosts reach it at the advertised address too (as their own Redis users, made at join).
    if [ -n "$GEARSHIFT_ADVERTISE_ADDRESS" ]; then
      REDISCLI_AUTH="$password" redis-cli --no-auth-warning -h 127.0.0.1 -p "$REDIS_PORT" CONFIG SET bind "127.0.0.1 $GEARSHIFT_ADVERTISE_ADDRESS" >/dev/null
    fi
    return
  fi
  if redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q NOAUTH; then
    die "Redis on 127.0.0.1:$REDIS_PORT requires a password other than the one in $(redis_password_file): put its password there"
  fi
  say "starting Redis"
  # A fixed directory with an append-only file: queued jobs survive a restart of Redis. The password is in a config
  # file readable by root alone, not on the command line.
  local conf="$GEARSHIFT_STATE_DIR/redis/redis.conf"
  (umask 077; as_root tee "$conf" >/dev/null <<CONF
bind 127.0.0.1${GEARSHIFT_ADVERTISE_ADDRESS:+ $GEARSHIFT_ADVERTISE_ADDRESS}
port $REDIS_PORT
save ""
appendonly yes
appendfsync everysec
dir $GEARSHIFT_STATE_DIR/redis
requirepass $password
CONF
)
  as_root chmod 0600 "$conf"
  as_root redis-server "$conf" --daemonize yes >/dev/null
  for _ in $(seq 1 40); do
    redis_ping "$password" && return
    sleep 0.25
  done
  die "redis-server did not answer on 127.0.0.1:$REDIS_PORT"
}

# The image registry that app releases are pushed to, so that every node can pull them. Docker trusts a registry
# on loopback without TLS. It asks for a password (user gearshift, generated once and kept in the state directory,
# readable by root alone): the broker, the agents and nodes that join are given it, tenants are not.
REGISTRY_DIR="$GEARSHIFT_STATE_DIR/registry"
registry_answers() { curl -s -o /dev/null -w '%{http_code}' "http://$GEARSHIFT_REGISTRY/v2/" 2>/dev/null | grep -qE '^(200|401)$'; }

ensure_registry_password() {
  as_root mkdir -p "$REGISTRY_DIR"
  as_root chmod 0700 "$REGISTRY_DIR"
  if ! as_root test -s "$REGISTRY_DIR/password"; then
    say "generating the registry's password (kept in $REGISTRY_DIR/password)"
    (umask 077; openssl rand -hex 24 | as_root tee "$REGISTRY_DIR/password" >/dev/null)
  fi
  as_root chmod 0600 "$REGISTRY_DIR/password"
  # htpasswd -B: bcrypt, the only hash the registry accepts. The password goes through a pipe, never an argument.
  if ! as_root test -s "$REGISTRY_DIR/htpasswd" || ! as_root cat "$REGISTRY_DIR/password" | as_root htpasswd -iv "$REGISTRY_DIR/htpasswd" gearshift >/dev/null 2>&1; then
    (umask 077; as_root cat "$REGISTRY_DIR/password" | as_root htpasswd -iBc "$REGISTRY_DIR/htpasswd" gearshift >/dev/null 2>&1)
  fi
  as_root chmod 0600 "$REGISTRY_DIR/htpasswd"
}

ensure_registry() {
  ensure_registry_password
  # Answering 401 without credentials: it is running with authentication. A 200 is a registry started before
  # authentication (or by hand without it): it is stopped and started again with the password.
  local anonymous
  anonymous=$(curl -s -o /dev/null -w '%{http_code}' "http://$GEARSHIFT_REGISTRY/v2/" 2>/dev/null || true)
  if [ "$anonymous" = 401 ]; then return; fi
  if [ "$anonymous" = 200 ]; then
    say "restarting the image registry on $GEARSHIFT_REGISTRY with authentication"
    as_root pkill -f "^docker-registry serve $REGISTRY_DIR/config.yml\$" || true
    for _ in $(seq 1 40); do
      registry_answers || break
      sleep 0.25
    done
    registry_answers && die "a registry on $GEARSHIFT_REGISTRY answers without authentication and was not started from $REGISTRY_DIR/config.yml: stop it first"
  fi
  say "starting the image registry on $GEARSHIFT_REGISTRY"
  as_root mkdir -p "$REGISTRY_DIR/data"
  (umask 077; as_root tee "$REGISTRY_DIR/config.yml" >/dev/null) <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $REGISTRY_DIR/data
  delete:
    enabled: true
auth:
  htpasswd:
    realm: gearshift
    path: $REGISTRY_DIR/htpasswd
http:
  addr: $GEARSHIFT_REGISTRY
YAML
  # Its logs, like the platform's, are for root alone.
  as_root touch "$REGISTRY_DIR/gc.log" "$REGISTRY_DIR/registry.log"
  as_root chmod 0640 "$REGISTRY_DIR/gc.log" "$REGISTRY_DIR/registry.log"
  # While it is not serving: free the space of release images the broker removed (old releases, deleted apps).
  if [ -d "$REGISTRY_DIR/data/docker/registry/v2/repositories" ]; then
    as_root docker-registry garbage-collect "$REGISTRY_DIR/config.yml" >>"$REGISTRY_DIR/gc.log" 2>&1 ||
      say "the registry's garbage collection failed (see $REGISTRY_DIR/gc.log); starting it anyway"
  fi
  as_root setsid nohup docker-registry serve "$REGISTRY_DIR/config.yml" \
    >"$REGISTRY_DIR/registry.log" 2>&1 < /dev/null &
  for _ in $(seq 1 40); do
    registry_answers && return
    sleep 0.25
  done
  tail -20 "$REGISTRY_DIR/registry.log" >&2 || true
  die "the registry did not answer on $GEARSHIFT_REGISTRY"
}

# make_base_image RELEASE IMAGE: a minimal Debian RELEASE made with debootstrap from Debian's mirror and imported
# as IMAGE; nothing is pulled from an image registry.
make_base_image() {
  local release=$1 image=$2
  if docker image inspect "$image" >/dev/null 2>&1; then return; fi
  say "making the base image $image (Debian $release) with debootstrap (once, about a minute)"
  local root="$GEARSHIFT_STATE_DIR/rootfs-$release"
  local log="$GEARSHIFT_STATE_DIR/debootstrap-$release.log"
  as_root rm -rf "$root"
  as_root mkdir -p "$root"
  as_root touch "$log"
  as_root chmod 0640 "$log"
  as_root debootstrap --variant=minbase "$release" "$root" >"$log" 2>&1 \
    || { tail -20 "$log" >&2; die "debootstrap $release failed"; }
  as_root rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  as_root tar -C "$root" -c . | docker import -c 'ENV LANG=C.UTF-8' -c 'CMD ["/bin/bash"]' - "$image" >/dev/null
  as_root rm -rf "$root"
}

# The platform (broker, agents, router, CLI, tests, bench) runs on Node.js 24 LTS. Where the host's own Node.js is
# older than 22, the pinned 24 is installed from the npm registry's node-linux-<arch> package (Node's official
# build), checked against the integrity recorded here, and unpacked under the state directory; the system's node is
# left alone. The scripts put it first on PATH, so npm and everything they start run on it.
NODE_MIN_MAJOR=22
NODE_VERSION=24.22.3
declare -A NODE_INTEGRITY=(
  [x64]=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==
  [arm64]=sha512-IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw==
)
node_major() { "${1:-node}" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

ensure_node() {
  local arch dir tarball integrity actual work
  if [ "$(node_major)" -ge "$NODE_MIN_MAJOR" ]; then return; fi
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) die "Node.js $NODE_MIN_MAJOR or later is needed, and no build of Node.js $NODE_VERSION is pinned for $(uname -m): install one" ;;
  esac
  dir="$GEARSHIFT_STATE_DIR/tools/node-v$NODE_VERSION-linux-$arch"
  if [ "$(node_major "$dir/bin/node")" -lt "$NODE_MIN_MAJOR" ]; then
    say "installing Node.js $NODE_VERSION into $dir (the host's node is $(node -v 2>/dev/null || echo missing))"
    command -v npm >/dev/null 2>&1 || die "npm is needed to fetch Node.js $NODE_VERSION from the npm registry"
    work=$(mktemp -d)
    tarball=$(cd "$work" && npm pack --silent "node-linux-$arch@$NODE_VERSION" | tail -1)
    integrity=${NODE_INTEGRITY[$arch]}
    actual="sha512-$(openssl dgst -sha512 -binary "$work/$tarball" | base64 -w0)"
    if [ "$actual" != "$integrity" ]; then
      rm -rf "$work"
      die "node-linux-$arch@$NODE_VERSION from the registry is not the build pinned in scripts/host.sh ($actual)"
    fi
    as_root mkdir -p "$GEARSHIFT_STATE_DIR/tools"
    as_root rm -rf "$dir.new"
    as_root mkdir -p "$dir.new"
    as_root tar -xzf "$work/$tarball" -C "$dir.new" --strip-components=1 --no-same-owner
    rm -rf "$work"
    as_root rm -rf "$dir"
    as_root mv "$dir.new" "$dir"
  fi
  export PATH="$dir/bin:$PATH"
  # Native add-ons built for another Node.js are built again for this one (node-gyp finds its headers beside it).
  export npm_config_nodedir="$dir"
}

# Cartridges say which base they build FROM (their manifest's base): Debian 12 for the older runtimes, Debian 13
# for the current ones.
ensure_base_image() {
  make_base_image bookworm "$BASE_IMAGE"
  make_base_image trixie "$TRIXIE_BASE_IMAGE"
  # Logs of debootstrap runs made before they were kept private (debootstrap.log among them) become root's too.
  local log
  for log in "$GEARSHIFT_STATE_DIR"/debootstrap*.log; do
    if [ -f "$log" ] && [ -n "$(find "$log" -perm /0007 2>/dev/null)" ]; then as_root chmod 0640 "$log"; fi
  done
}

ensure_node_modules() {
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "installing npm packages"
    # `npm install` honours package-lock.json; `--no-save` leaves it untouched. (npm ci would refuse the lock
    # file because npm omits other platforms' optional native packages from it.)
    npm install --no-audit --no-fund --no-save --loglevel=error
  fi
  # Native add-ons are built for one Node.js ABI: when the node running the platform changed, they are built again.
  local abi
  abi=$(node -p process.versions.modules)
  if [ "$(cat node_modules/.gearshift-node-abi 2>/dev/null)" != "$abi" ]; then
    say "building native add-ons for Node.js $(node -v)"
    local built
    built=$(find node_modules -path '*/build/Release/*.node' -not -path '*/obj.target/*' |
      sed -E 's#^(.*/)?node_modules/((@[^/]+/)?[^/]+)/.*#\2#' | sort -u)
    [ -z "$built" ] || npm rebuild --no-audit --no-fund --loglevel=error $built >/dev/null 2>&1 ||
      say "native add-ons could not be built for $(node -v); their packages fall back to JavaScript"
    echo "$abi" >node_modules/.gearshift-node-abi
  fi
}

# Only the test run needs a browser: the console's browser tests (test/console.test.ts) drive Debian's Chromium
# headless. An operator's `npm run up` does not install it.
ensure_browser() {
  command -v chromium >/dev/null 2>&1 && return
  say "installing chromium from Debian's packages (for the console's browser tests)"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null
}

ensure_build() {
  say "compiling TypeScript"
  npm run --silent build
}

prepare_host() {
  as_root mkdir -p "$GEARSHIFT_STATE_DIR"
  ensure_node
  ensure_packages
  ensure_dockerd
  ensure_postgres
  ensure_redis
  ensure_registry
  ensure_base_image
}
