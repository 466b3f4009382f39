#!/usr/bin/env bash
# Installs npm dependencies when they are missing or stale, and builds when sources changed.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "vcfarm: installing npm dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund
fi

stamp=dist/.build-stamp
if [[ ! -f $stamp ]] || [[ -n $(find src workers models scripts test bench web/src/lib web/test tsconfig.json package.json -newer "$stamp" -name '*.ts' -o -newer "$stamp" -name '*.json' 2>/dev/null | head -1) ]]; then
  echo "vcfarm: building (tsc)" >&2
  npx tsc -p tsconfig.json
  touch "$stamp"
fi

# The page (web/, Preact + TypeScript): type-checked, then built by Vite into dist/public.
web_stamp=dist/.web-build-stamp
if [[ ! -f $web_stamp ]] || [[ ! -f dist/public/index.html ]] || [[ -n $(find web package.json -newer "$web_stamp" -type f 2>/dev/null | head -1) ]]; then
  echo "vcfarm: building the page (vite)" >&2
  npx tsc -p web/tsconfig.json
  npx vite build --config web/vite.config.ts --logLevel warn
  touch "$web_stamp"
fi
