#!/usr/bin/env bash
# `npm run chaos`: fault scenarios on real processes (outside `npm test`; takes several minutes).
# Needs root for the tmpfs and immutable-folder scenarios. CHAOS_ONLY=<text> picks scenarios.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system-deps.sh --test
bash scripts/ensure-build.sh
exec node dist/chaos/run.js
