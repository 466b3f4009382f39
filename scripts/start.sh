#!/usr/bin/env bash
# `npm start`: everything needed on a fresh machine, then the single-machine service.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system-deps.sh
bash scripts/ensure-build.sh
exec node dist/src/cli.js all
