#!/usr/bin/env bash
# Makes sure the Debian packages vcfarm needs are installed: with apt-get as root, with sudo
# otherwise, or stops with a message naming the packages.
#   scripts/ensure-system-deps.sh           packages the service needs
#   scripts/ensure-system-deps.sh --test    plus what the tests need
set -euo pipefail

# command-or-file  package
runtime=(
  "ffmpeg ffmpeg"
  "ffprobe ffmpeg"
  "redis-server redis-server"
  "taskset util-linux"
  "haproxy haproxy"
)
testing=(
  "espeak-ng espeak-ng"
  "redis-sentinel redis-sentinel"
  "chromium chromium"
  "/usr/share/sounds/alsa/Front_Center.wav alsa-utils"
  "prometheus prometheus"
  "promtool prometheus"
  "docker-compose docker-compose"
  "openssl openssl"
  "curl curl"
  "jq jq"
)

wanted=("${runtime[@]}")
if [[ "${1:-}" == "--test" ]]; then wanted+=("${testing[@]}"); fi

missing=()
for entry in "${wanted[@]}"; do
  what=${entry% *}
  pkg=${entry#* }
  if [[ "$what" == /* ]]; then [[ -e "$what" ]] && continue
  else command -v "$what" >/dev/null 2>&1 && continue; fi
  [[ " ${missing[*]} " == *" $pkg "* ]] || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then exit 0; fi

echo "vcfarm: installing Debian packages: ${missing[*]}" >&2
if [[ $(id -u) -eq 0 ]]; then
  apt_get=(apt-get)
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  apt_get=(sudo apt-get)
else
  echo "vcfarm: cannot install packages (not root, no password-less sudo). Please run:" >&2
  echo "  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${apt_get[@]}" update -qq
"${apt_get[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
