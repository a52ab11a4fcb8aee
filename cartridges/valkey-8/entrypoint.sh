#!/bin/sh
# Valkey speaks the Redis protocol: the gear keeps the redis cartridge's variable names, and apps get the same REDIS_*.
# The password comes from the environment and is passed through a config on stdin, never on the command line.
set -eu
: "${REDIS_PASSWORD:?REDIS_PASSWORD is not set}"
printf 'bind 0.0.0.0\nport 6379\nprotected-mode no\ndir /var/lib/gearshift/valkey\nappendonly yes\nrequirepass %s\n' "$REDIS_PASSWORD" | exec valkey-server -
