#!/usr/bin/env bash
# Installs npm dependencies when they are missing or stale, and builds when sources changed.
set -euo pipefail
cd "$(dirname "$0")/.."

# Stale means the lockfile's content differs from the one last installed (a hash kept in node_modules),
# not merely a newer file time: a checkout or a copied node_modules must not trigger a reinstall.
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
installed=node_modules/.vcfarm-lock.sha256
# No hash kept yet (installed by a bare `npm ci`, or copied): npm's record of what it installed
# (node_modules/.package-lock.json) decides, by content: current when every package it holds has
# the version the lockfile names and every package the lockfile needs (all but optional ones,
# another platform's builds) is there.
if [[ -d node_modules && ! -f $installed ]] && node -e '
  const fs = require("node:fs");
  const want = JSON.parse(fs.readFileSync("package-lock.json", "utf8")).packages ?? {};
  const have = JSON.parse(fs.readFileSync("node_modules/.package-lock.json", "utf8")).packages ?? {};
  const same = Object.entries(have).every(([k, p]) => want[k]?.version === p.version) &&
    Object.entries(want).every(([k, p]) => k === "" || p.optional || k in have);
  process.exit(same ? 0 : 1);' 2>/dev/null; then
  echo "$lock_hash" > "$installed"
fi
if [[ ! -d node_modules ]] || [[ $(cat "$installed" 2>/dev/null) != "$lock_hash" ]]; then
  echo "vcfarm: installing npm dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund
  echo "$lock_hash" > "$installed"
fi

stamp=dist/.build-stamp
# What tsc compiles (tsconfig.json's include) and its settings; a model folder's *.json is data
# read at run time (a new voice or model needs no build).
if [[ ! -f $stamp ]] || [[ -n $(find src workers models scripts test bench chaos web/src/lib web/test -newer "$stamp" -name '*.ts' 2>/dev/null | head -1) ]] ||
  [[ tsconfig.json -nt $stamp || package.json -nt $stamp ]]; then
  echo "vcfarm: building (tsc)" >&2
  npx tsc -p tsconfig.json
  touch "$stamp"
fi
# package.json's bin (`npx vcfarm`): tsc writes files without the execute bit.
chmod +x dist/src/cli.js

# The page (web/, Preact + TypeScript): type-checked, then built by Vite into dist/public.
web_stamp=dist/.web-build-stamp
if [[ ! -f $web_stamp ]] || [[ ! -f dist/public/index.html ]] || [[ -n $(find web package.json -newer "$web_stamp" -type f 2>/dev/null | head -1) ]]; then
  echo "vcfarm: building the page (vite)" >&2
  npx tsc -p web/tsconfig.json
  npx vite build --config web/vite.config.ts --logLevel warn
  touch "$web_stamp"
fi
