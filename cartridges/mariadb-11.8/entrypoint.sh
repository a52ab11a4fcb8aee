#!/bin/bash
# Initialise the data directory on the gear's volume once, then run the server in the foreground.
set -euo pipefail
: "${MYSQL_USER:?MYSQL_USER is not set}"
: "${MYSQL_PASSWORD:?MYSQL_PASSWORD is not set}"
: "${MYSQL_DATABASE:?MYSQL_DATABASE is not set}"
datadir=/var/lib/gearshift/mariadb/data
if [ ! -d "$datadir/mysql" ]; then
  echo "initialising a new MariaDB data directory"
  mkdir -p "$datadir"
  mariadb-install-db --user=mysql --datadir="$datadir" --auth-root-authentication-method=socket --skip-test-db >/dev/null
  mariadbd --datadir="$datadir" --skip-networking --socket=/run/mysqld/init.sock &
  pid=$!
  for _ in $(seq 1 100); do mariadb-admin --socket=/run/mysqld/init.sock ping >/dev/null 2>&1 && break; sleep 0.2; done
  # Values go through SQL string quoting: a quote in a generated password cannot break out.
  esc() { printf '%s' "$1" | sed "s/\\\\/\\\\\\\\/g; s/'/\\\\'/g"; }
  mariadb --socket=/run/mysqld/init.sock -u mysql <<SQL
CREATE DATABASE \`$(esc "$MYSQL_DATABASE")\`;
CREATE USER '$(esc "$MYSQL_USER")'@'%' IDENTIFIED BY '$(esc "$MYSQL_PASSWORD")';
GRANT ALL PRIVILEGES ON \`$(esc "$MYSQL_DATABASE")\`.* TO '$(esc "$MYSQL_USER")'@'%';
FLUSH PRIVILEGES;
SQL
  kill "$pid"
  wait "$pid" || true
  echo "initialised"
fi

# TLS with the certificate the platform issued for this gear, written afresh at every start (outside the volume);
# clients that do not ask for TLS are served in plain as before.
tls=()
if [ -n "${GEARSHIFT_TLS_CERT:-}" ] && [ -n "${GEARSHIFT_TLS_KEY:-}" ]; then
  (umask 077 && printf '%s' "$GEARSHIFT_TLS_CERT" > /run/mysqld/server.crt && printf '%s' "$GEARSHIFT_TLS_KEY" > /run/mysqld/server.key)
  tls=(--ssl-cert=/run/mysqld/server.crt --ssl-key=/run/mysqld/server.key)
fi
unset GEARSHIFT_TLS_CERT GEARSHIFT_TLS_KEY
exec mariadbd --datadir="$datadir" --bind-address=0.0.0.0 --port=3306 --socket=/run/mysqld/mysqld.sock "${tls[@]}"
