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
exec mariadbd --datadir="$datadir" --bind-address=0.0.0.0 --port=3306 --socket=/run/mysqld/mysqld.sock
