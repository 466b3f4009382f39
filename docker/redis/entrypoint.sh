#!/bin/sh
# Writes the password from the compose secret into a file only this user can read, so it is on
# no command line, then runs Redis as PID 1's child (tini-less: Redis handles SIGTERM itself).
set -eu
umask 077
printf 'requirepass %s\n' "$(cat /run/secrets/redis_password)" >/tmp/vcfarm-auth.conf
exec redis-server /etc/vcfarm/redis.conf --maxmemory "${REDIS_MAXMEMORY:-1gb}" "$@"
