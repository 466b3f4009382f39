#!/usr/bin/env bash
# `npm run test:tiers`: boots the deploy tiers for real and tests them (not part of `npm test`).
#   systemd: a debootstrapped Debian 12 root with systemd as PID 1 under systemd-nspawn.
#   docker:  a hand-started dockerd (own data root and socket) with a locally built base image.
# Needs root (nspawn, dockerd), Debian's archive and the npm registry; nothing else.
# The debootstrapped roots are cached in TIER_CACHE [/var/cache/vcfarm-tiers], keyed by their
# package lists, so only the first run pays for debootstrap.
#   VCFARM_TIER_FILES=dist/test/tiers/systemd.tier.js npm run test:tiers   runs one tier.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) == 0 ]] || {
  echo "test:tiers needs root (systemd-nspawn, dockerd)" >&2
  exit 1
}
need=()
for entry in "debootstrap debootstrap" "systemd-nspawn systemd-container" "dockerd docker.io" \
  "docker-compose docker-compose" "haproxy haproxy" "ffmpeg ffmpeg" "redis-server redis-server"; do
  command -v "${entry% *}" >/dev/null || need+=("${entry#* }")
done
if ((${#need[@]} > 0)); then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi
bash scripts/ensure-system-deps.sh --test
bash scripts/ensure-build.sh
npx biome check .
npx tsc -p tsconfig.json
mapfile -t files < <(find ${VCFARM_TIER_FILES:-dist/test/tiers} -name '*.tier.js' | sort)
exec node --test --test-concurrency=1 --test-timeout=1800000 "${files[@]}"
