#!/usr/bin/env bash
# Builds another commit of this repository for a bench's same-run baseline and prints its dist/
# folder (BENCH_BASELINE_DIST for bench/ws-fanout.ts, the baseline argument of api-latency.ts).
# The tree is extracted with `git archive` into a temporary folder (left for the bench to use;
# printed on stderr) and built with this checkout's node_modules.
#   BENCH_BASELINE_DIST=$(bash bench/baseline-dist.sh <commit>) node dist/bench/ws-fanout.js ...
set -euo pipefail
ref="${1:?usage: baseline-dist.sh <commit>}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$(mktemp -d "${TMPDIR:-/tmp}/vcfarm-baseline.XXXXXX")"
git -C "$root" archive "$ref" | tar -x -C "$out"
ln -s "$root/node_modules" "$out/node_modules"
(cd "$out" && npx tsc -p tsconfig.json >&2)
echo "baseline $ref built in $out" >&2
echo "$out/dist"
