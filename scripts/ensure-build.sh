#!/usr/bin/env bash
# Installs npm dependencies when they are missing or stale, and builds when sources changed.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "vcfarm: installing npm dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund
fi

stamp=dist/.build-stamp
if [[ ! -f $stamp ]] || [[ -n $(find src workers models scripts test bench tsconfig.json package.json -newer "$stamp" -name '*.ts' -o -newer "$stamp" -name '*.json' 2>/dev/null | head -1) ]]; then
  echo "vcfarm: building (tsc)" >&2
  npx tsc -p tsconfig.json
  touch "$stamp"
fi
