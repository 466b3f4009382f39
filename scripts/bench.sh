#!/usr/bin/env bash
# `npm run bench`: every benchmark under bench/, one after another, after a build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system-deps.sh --test
bash scripts/ensure-build.sh
shopt -s nullglob
benches=(dist/bench/*.js)
if ((${#benches[@]} == 0)); then echo "no benchmarks yet"; exit 0; fi
# The WebSocket fan-out bench holds thousands of sockets (and HAProxy two descriptors per socket).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
for b in "${benches[@]}"; do echo "== $b"; node "$b"; done
