#!/usr/bin/env bash
# Installs npm dependencies when they are missing or stale, and builds when sources changed.
set -euo pipefail
cd "$(dirname "$0")/.."

# Stale means the lockfile's content differs from the one last installed (a hash kept in node_modules),
# not merely a newer file time: a checkout or a copied node_modules must not trigger a reinstall.
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
installed=node_modules/.vcfarm-lock.sha256
if [[ -d node_modules && ! -f $installed && ! package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "$lock_hash" > "$installed" # installed before the hash was kept, and current by its time
fi
if [[ ! -d node_modules ]] || [[ $(cat "$installed" 2>/dev/null) != "$lock_hash" ]]; then
  echo "vcfarm: installing npm dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund
  echo "$lock_hash" > "$installed"
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
