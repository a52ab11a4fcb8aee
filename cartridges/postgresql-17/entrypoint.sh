#!/bin/bash
# Initialise the data directory on the gear's volume once, then run the server in the foreground.
set -euo pipefail
: "${POSTGRESQL_USER:?POSTGRESQL_USER is not set}"
: "${POSTGRESQL_PASSWORD:?POSTGRESQL_PASSWORD is not set}"
: "${POSTGRESQL_DATABASE:?POSTGRESQL_DATABASE is not set}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  echo "initialising a new PostgreSQL data directory"
  pwfile=$(mktemp)
  printf '%s' "$POSTGRESQL_PASSWORD" > "$pwfile"
  initdb --username="$POSTGRESQL_USER" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 -D "$PGDATA" >/dev/null
  rm -f "$pwfile"
  echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
  echo "host all all ::/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
  # The server that creates the database listens on a socket of its own: a client that finds the gear's socket
  # (an exec'd psql, a snapshot) reaches the server that stays, never this one as it stops.
  initsock=$(mktemp -d)
  postgres -D "$PGDATA" -c listen_addresses='' -c unix_socket_directories="$initsock" &
  pid=$!
  # Asked as the user and database that exist: a role of the OS user's name would be logged as a failed login.
  until pg_isready -q -h "$initsock" -U "$POSTGRESQL_USER" -d postgres; do sleep 0.2; done
  psql -v ON_ERROR_STOP=1 -h "$initsock" -U "$POSTGRESQL_USER" -d postgres \
    -c "create database \"$POSTGRESQL_DATABASE\" owner \"$POSTGRESQL_USER\"" >/dev/null
  kill -INT "$pid"
  wait "$pid" || true
  rmdir "$initsock" 2>/dev/null || true
  echo "initialised"
fi

# TLS with the certificate the platform issued for this gear, written afresh at every start (outside the volume, so a
# snapshot never carries the key); clients that do not ask for TLS are served in plain as before.
tls=()
if [ -n "${GEARSHIFT_TLS_CERT:-}" ] && [ -n "${GEARSHIFT_TLS_KEY:-}" ]; then
  (umask 077 && printf '%s' "$GEARSHIFT_TLS_CERT" > /run/postgresql/server.crt && printf '%s' "$GEARSHIFT_TLS_KEY" > /run/postgresql/server.key)
  tls=(-c ssl=on -c ssl_cert_file=/run/postgresql/server.crt -c ssl_key_file=/run/postgresql/server.key)
fi
unset GEARSHIFT_TLS_CERT GEARSHIFT_TLS_KEY
exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/run/postgresql "${tls[@]}"
