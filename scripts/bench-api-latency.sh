#!/usr/bin/env bash
# `npm run bench:api-latency -- [baseline-ref] [jobs=100] [runs=3]`: bench/api-latency.ts in one
# command. With a git ref (a commit, a branch, e.g. `main`), that tree is built in a temporary
# folder and every run measures it and this tree's build on the same minutes, in alternating
# order; each run prints its phases and ratios, and the script ends with every run's summary.
# Run it on an idle machine for figures; on a shared one, compare ratios and say the load.
set -euo pipefail
cd "$(dirname "$0")/.."
base_ref=${1:-}
jobs=${2:-100}
runs=${3:-3}
bash scripts/ensure-system-deps.sh --test
bash scripts/ensure-build.sh
work=$(mktemp -d "${TMPDIR:-/tmp}/vcfarm-bench-api.XXXXXX")
trap 'rm -rf "$work"' EXIT
base_dist=()
if [[ -n $base_ref ]]; then
  echo "vcfarm: building $base_ref ($(git rev-parse --short "$base_ref")) as the baseline" >&2
  mkdir "$work/base"
  git archive "$base_ref" | tar -x -C "$work/base"
  ln -s "$PWD/node_modules" "$work/base/node_modules"
  (cd "$work/base" && npx tsc -p tsconfig.json)
  # The page is served from dist/public; the baseline uses this tree's (the bench never loads it).
  ln -s "$PWD/dist/public" "$work/base/dist/public"
  base_dist=("$work/base/dist")
fi
for ((i = 1; i <= runs; i++)); do
  order=baseline-first
  ((i % 2 == 0)) && order=this-first
  echo "== run $i of $runs (${base_ref:+$order, }load average $(cut -d' ' -f1-3 /proc/loadavg))"
  node dist/bench/api-latency.js "$jobs" "${base_dist[@]}" ${base_ref:+"$order"} | tee "$work/run-$i.txt"
done
echo "== every run's summary"
for ((i = 1; i <= runs; i++)); do
  echo "-- run $i"
  sed -n '/^== summary/,$p' "$work/run-$i.txt"
done
