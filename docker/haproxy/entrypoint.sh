#!/bin/sh
# The stats password comes from the compose secret into HAProxy's environment, where the
# config reads it ("${STATS_PASSWORD}"). -W: master-worker, so SIGUSR1 is a soft stop (finish
# the requests in flight) and the compose file uses it as stop_signal.
set -eu
STATS_PASSWORD=$(cat /run/secrets/stats_password)
export STATS_PASSWORD
exec haproxy -W -db -f /etc/vcfarm/haproxy.cfg "$@"
