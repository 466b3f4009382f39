#!/usr/bin/env bash
# Prints the path of Docker Compose v2 for the tier tests, fetched once into the cache. Debian 12
# packages only docker-compose v1 (1.29); Debian 13 (trixie) packages v2 (2.26) as a static Go
# binary (it depends on libc6 only), a docker CLI plugin. It is taken from trixie's package with
# `apt-get download` against a private package list (this machine's apt sources and installed
# packages are left as they are) and extracted with dpkg-deb: nothing of trixie is installed.
#
#   test/tiers/compose-v2.sh     -> $TIER_CACHE/compose-v2/cli-plugins/docker-compose
#
# TIER_CACHE [/var/cache/vcfarm-tiers]; COMPOSE_V2_VERSION [trixie's current one; 2.26.1-4 when written].
set -euo pipefail
cache=${TIER_CACHE:-/var/cache/vcfarm-tiers}
version=${COMPOSE_V2_VERSION:-}
dir="$cache/compose-v2"
bin="$dir/cli-plugins/docker-compose"
if [[ ! -f $dir/done ]]; then
  # Debian's own mirror, as this machine's apt uses it (the only archive reachable).
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [[ -n $mirror ]] || mirror=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list)
  apt="$dir/apt"
  rm -rf "$dir"
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$dir/cli-plugins"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" >"$apt/sources.list"
  opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o APT::Sandbox::User=root)
  apt-get "${opts[@]}" -q update >"$dir/apt.log" 2>&1 || { tail -5 "$dir/apt.log" >&2 && exit 1; }
  pkg=docker-compose/trixie
  [[ -z $version ]] || pkg="docker-compose=$version"
  (cd "$apt" && apt-get "${opts[@]}" -q download "$pkg") >>"$dir/apt.log" 2>&1 ||
    { tail -5 "$dir/apt.log" >&2 && exit 1; }
  dpkg-deb -x "$apt"/docker-compose_*.deb "$apt/x"
  install -m 755 "$apt/x/usr/libexec/docker/cli-plugins/docker-compose" "$bin"
  rm -rf "$apt"
  "$bin" version >&2
  touch "$dir/done"
fi
echo "$bin"
