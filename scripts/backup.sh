#!/usr/bin/env bash
# Backs up a vcfarm: a consistent Redis snapshot, the workspaces and the models, into one dated
# archive with a manifest and SHA-256 checksums. Prints the archive's path on stdout.
#
#   scripts/backup.sh [--out DIR]
#
# Reads the service's own environment: DATA_DIR (default ./data), MODELS_DIR (default ./models),
# REDIS_URL, or REDIS_SENTINELS with REDIS_MASTER_NAME (default vcfarm) and REDIS_SENTINEL_TLS: the
# snapshot is taken from the master the sentinels name now (neither set: the embedded Redis of
# `vcfarm all`, found from DATA_DIR/run/redis.pid), and REDIS_PASSWORD_FILE (unset with the
# embedded Redis: DATA_DIR/redis-password). The password goes to redis-cli through REDISCLI_AUTH,
# never on a command line. A TLS Redis (REDIS_URL=rediss://..., or REDIS_SENTINEL_TLS) is reached
# over TLS, trusting REDIS_TLS_CA_FILE when set (as the service does), else the system's CAs.
# REDIS_CLUSTER_NODES is refused: a cluster's data is on several masters.
#
# Order: Redis first, then the files. A job that finishes in between has its result in the archive
# but not its record (harmless: the sweeper removes it); the other order could restore a
# "completed" job whose result is missing.
set -euo pipefail

out=.
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="${2:?--out needs a directory}"; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "backup: unknown argument: $1" >&2; exit 64 ;;
  esac
done

data_dir="${DATA_DIR:-./data}"
models_dir="${MODELS_DIR:-./models}"
[ -d "$data_dir" ] || { echo "backup: DATA_DIR $data_dir is not a directory" >&2; exit 66; }
mkdir -p "$out"

redis_url="${REDIS_URL:-}"
password_file="${REDIS_PASSWORD_FILE:-}"
sentinels="${REDIS_SENTINELS:-}"
[ -z "${REDIS_CLUSTER_NODES:-}" ] ||
  { echo "backup: REDIS_CLUSTER_NODES is set: a Redis Cluster is not backed up by this script (its data is on several masters)" >&2; exit 64; }
case "${REDIS_SENTINEL_TLS:-false}" in
  true|1|yes|on) sentinel_tls=(--tls) ;;
  false|0|no|off|'') sentinel_tls=() ;;
  *) echo "backup: REDIS_SENTINEL_TLS must be true or false" >&2; exit 64 ;;
esac
if [ -n "$sentinels" ]; then
  # As the service does: the sentinels name the master, asked now, one sentinel after another.
  [ -z "$redis_url" ] || { echo "backup: REDIS_SENTINELS and REDIS_URL are both set; set one" >&2; exit 64; }
  [[ $sentinels =~ ^[^,:[:space:]]+:[0-9]+(,[^,:[:space:]]+:[0-9]+)*$ ]] ||
    { echo "backup: REDIS_SENTINELS must be host:port pairs separated by commas" >&2; exit 64; }
  master_name="${REDIS_MASTER_NAME:-vcfarm}"
  [[ $master_name =~ ^[a-zA-Z0-9._-]+$ ]] ||
    { echo "backup: REDIS_MASTER_NAME must be a name of letters, digits, '.', '-' or '_'" >&2; exit 64; }
  ca=()
  if [ ${#sentinel_tls[@]} -gt 0 ] && [ -n "${REDIS_TLS_CA_FILE:-}" ]; then ca=(--cacert "$REDIS_TLS_CA_FILE"); fi
  IFS=, read -ra hosts <<<"$sentinels"
  for hp in "${hosts[@]}"; do
    # The sentinels themselves take no password (the service sends them none).
    addr="$(env -u REDISCLI_AUTH redis-cli "${sentinel_tls[@]}" "${ca[@]}" -h "${hp%:*}" -p "${hp##*:}" \
      SENTINEL get-master-addr-by-name "$master_name" 2>/dev/null | tr -d '\r' | paste -sd' ' || true)"
    if [[ $addr =~ ^([^[:space:]]+)\ ([0-9]+)$ ]]; then
      scheme=redis; [ ${#sentinel_tls[@]} -eq 0 ] || scheme=rediss
      redis_url="$scheme://${BASH_REMATCH[1]}:${BASH_REMATCH[2]}"
      break
    fi
  done
  [ -n "$redis_url" ] ||
    { echo "backup: no sentinel of REDIS_SENTINELS ($sentinels) named a master \"$master_name\"" >&2; exit 69; }
elif [ ${#sentinel_tls[@]} -gt 0 ]; then
  echo "backup: REDIS_SENTINEL_TLS is for REDIS_SENTINELS, which is unset" >&2; exit 64
fi
if [ -z "$redis_url" ]; then
  pid="$(cat "$data_dir/run/redis.pid" 2>/dev/null || true)"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] ||
    { echo "backup: REDIS_URL is unset and the embedded Redis of $data_dir is not running" >&2; exit 69; }
  # redis-server retitles itself "redis-server 127.0.0.1:<port>".
  title="$(tr '\0' ' ' <"/proc/$pid/cmdline")"
  port="$(sed -n 's/^redis-server [0-9.]*:\([0-9]*\).*/\1/p' <<<"$title")"
  [ -n "$port" ] || { echo "backup: process $pid is not a redis-server" >&2; exit 69; }
  redis_url="redis://127.0.0.1:$port"
  [ -n "$password_file" ] || password_file="$data_dir/redis-password"
fi
# A password inside REDIS_URL goes to REDISCLI_AUTH too, and the URL on the command line loses it.
url_password="$(sed -nE 's#^rediss?://[^:@/]*:([^@/]*)@.*#\1#p' <<<"$redis_url")"
redis_shown="$(sed -E 's#^(rediss?://)[^@/]*@#\1#' <<<"$redis_url")"
if [ -n "$url_password" ] && [ -z "$password_file" ]; then
  REDISCLI_AUTH="$(printf '%b' "${url_password//%/\\x}")"
  export REDISCLI_AUTH
fi
redis_url="$redis_shown"
if [ -n "$password_file" ]; then
  [ -r "$password_file" ] || { echo "backup: cannot read the Redis password file" >&2; exit 66; }
  REDISCLI_AUTH="$(head -n1 "$password_file")"
  export REDISCLI_AUTH
fi
tls=()
case "$redis_url" in rediss://*) tls=(--tls) ;; esac
if [ -n "${REDIS_TLS_CA_FILE:-}" ]; then
  [ ${#tls[@]} -gt 0 ] || { echo "backup: REDIS_TLS_CA_FILE is for a TLS Redis: REDIS_URL must be rediss://... (or REDIS_SENTINEL_TLS set)" >&2; exit 64; }
  [ -r "$REDIS_TLS_CA_FILE" ] || { echo "backup: cannot read REDIS_TLS_CA_FILE" >&2; exit 66; }
  tls+=(--cacert "$REDIS_TLS_CA_FILE")
fi

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
name="vcfarm-backup-$stamp"
stage="$(mktemp -d "$out/.$name.XXXXXX")"
trap 'rm -rf "$stage" "$out/$name.tar.gz.part"' EXIT
umask 077
mkdir -p "$stage/$name/redis"
root="$stage/$name"

# 1. Redis: a fork-made point-in-time snapshot (the same BGSAVE a replica's full sync uses),
# streamed here; redis-cli returns once the whole RDB has arrived and fails otherwise.
# (A refused connection must reach the message below, not end the script through pipefail.)
version="$({ redis-cli "${tls[@]}" -u "$redis_url" --no-auth-warning INFO server || true; } | sed -n 's/^redis_version:\([^\r]*\).*/\1/p')"
[ -n "$version" ] || {
  echo "backup: Redis at $redis_shown did not answer (check REDIS_URL or REDIS_SENTINELS, the password, and REDIS_TLS_CA_FILE for a TLS Redis)" >&2
  exit 69
}
if ! redis-cli "${tls[@]}" -u "$redis_url" --no-auth-warning --rdb "$root/redis/dump.rdb" >"$stage/rdb.log" 2>&1 ||
  ! grep -q 'Transfer finished with success' "$stage/rdb.log"; then
  echo "backup: the Redis snapshot from $redis_shown failed:" >&2
  grep -v -i auth "$stage/rdb.log" >&2 || true
  exit 70
fi
[ "$(head -c5 "$root/redis/dump.rdb")" = "REDIS" ] || { echo "backup: the snapshot is not an RDB file" >&2; exit 70; }

# 2. Files: workspaces (uploads, voices, outputs) and models. Files are written by rename, so each
# copied file is whole; unfinished `.part` files are left out.
copy_tree() { # from, to
  [ -d "$1" ] || return 0
  mkdir -p "$2"
  tar -C "$1" --exclude='*.part' -cf - . | tar -C "$2" -xf -
}
copy_tree "$data_dir/workspaces" "$root/workspaces"
copy_tree "$models_dir" "$root/models"

# 3. Manifest and checksums of every file.
files="$(cd "$root" && find . -type f | wc -l)"
cat >"$root/manifest.json" <<EOF
{
  "format": "vcfarm-backup/1",
  "created": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "vcfarm": "$(sed -n 's/^  "version": "\(.*\)",/\1/p' "$(dirname "$0")/../package.json" | head -n1)",
  "redis": { "source": "$redis_shown", "version": "$version", "file": "redis/dump.rdb" },
  "contents": ["redis/dump.rdb", "workspaces/", "models/"],
  "files": $((files + 1))
}
EOF
(cd "$root" && find . -type f ! -name SHA256SUMS -print0 | sort -z | xargs -0 sha256sum >SHA256SUMS)

# 4. The archive appears under its final name only once complete.
tar -C "$stage" -czf "$out/$name.tar.gz.part" "$name"
mv "$out/$name.tar.gz.part" "$out/$name.tar.gz"
echo "$out/$name.tar.gz"
