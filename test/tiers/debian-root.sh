#!/usr/bin/env bash
# Prints the path of a cached Debian 12 root for the tier tests, debootstrapping it first when
# missing. The cache is keyed by everything that goes into it (suite, variant, package list), so
# a changed list builds a fresh root and a rerun with the same list takes no time.
#
#   test/tiers/debian-root.sh systemd|docker
#
# TIER_CACHE [/var/cache/vcfarm-tiers]  where roots are kept (several hundred MB each).
set -euo pipefail
kind=${1:?usage: debian-root.sh systemd|docker}
case $kind in
  # systemd as PID 1 plus everything the units start (Redis, HAProxy, ffmpeg, taskset in util-linux).
  systemd) packages=systemd,systemd-sysv,dbus,redis-server,haproxy,ffmpeg,procps ;;
  # The base image the Dockerfile builds FROM in tests: bare minbase, the Dockerfile adds the rest.
  docker) packages= ;;
  *) echo "debian-root: unknown kind $kind" >&2 && exit 2 ;;
esac
suite=bookworm
cache=${TIER_CACHE:-/var/cache/vcfarm-tiers}
key=$(printf '%s\n' "$suite" minbase "$packages" | sha256sum | cut -c1-16)
root="$cache/$kind-$key"
if [[ ! -f $root.done ]]; then
  # Debian's own mirror, as this machine's apt uses it (the only archive reachable).
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [[ -n $mirror ]] || mirror=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list)
  command -v debootstrap >/dev/null ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap >&2
  mkdir -p "$cache"
  rm -rf "$root" "$root.tmp"
  debootstrap --variant=minbase ${packages:+--include="$packages"} "$suite" "$root.tmp" "$mirror" >"$root.log" 2>&1 ||
    { tail -20 "$root.log" >&2 && exit 1; }
  rm -f "$root.tmp"/var/cache/apt/archives/*.deb
  mv "$root.tmp" "$root"
  touch "$root.done"
fi
echo "$root"
