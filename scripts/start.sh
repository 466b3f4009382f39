#!/usr/bin/env bash
# `npm start`: everything needed on a fresh machine, then the single-machine service.
# package.json runs this with `exec` and it execs node: npm's child is the service itself, so the
# SIGTERM or SIGINT npm forwards reaches it (npm forwards to its child only: a shell left between
# them died of the signal, and npm exited with the service still running).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system-deps.sh
bash scripts/ensure-build.sh
exec node dist/src/cli.js all
