#!/usr/bin/env bash
# `npm run chaos`: fault scenarios on real processes (outside `npm test`; takes several minutes).
# Needs root (the tmpfs and immutable-folder scenarios, and the network namespace).
# CHAOS_ONLY=<text> picks scenarios.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system-deps.sh --test
bash scripts/ensure-build.sh
# Every process of the suite (vcfarm, redis-server, HAProxy) runs in a network namespace of its
# own, with only a loopback: its ports never meet the host's services, and nothing it starts can
# reach out. The namespace ends with the last process in it.
exec unshare --net -- sh -c 'ip link set lo up && exec node dist/chaos/run.js'
