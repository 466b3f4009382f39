#!/usr/bin/env bash
# Restores a scripts/backup.sh archive into a fresh DATA_DIR (and MODELS_DIR).
#
#   scripts/restore.sh ARCHIVE [--data-dir DIR] [--models-dir DIR]
#
# DIR defaults: DATA_DIR (./data) and MODELS_DIR (./models) from the environment. Both must be
# missing or empty. The archive's checksums are verified before anything is written; the result
# appears under its final names only once complete (nothing half-restored).
#
# Redis comes back as DATA_DIR/redis/appendonlydir, the form `vcfarm all`'s embedded Redis loads.
# For an external Redis (REDIS_URL), stop it, put that appendonlydir in its `dir` (with
# `appendonly yes`), and start it again. The embedded Redis's password is not in the backup: a
# restored `vcfarm all` generates a new one.
set -euo pipefail

archive=""
data_dir="${DATA_DIR:-./data}"
models_dir="${MODELS_DIR:-./models}"
while [ $# -gt 0 ]; do
  case "$1" in
    --data-dir) data_dir="${2:?--data-dir needs a directory}"; shift 2 ;;
    --models-dir) models_dir="${2:?--models-dir needs a directory}"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "restore: unknown argument: $1" >&2; exit 64 ;;
    *) [ -z "$archive" ] || { echo "restore: one archive only" >&2; exit 64; }; archive="$1"; shift ;;
  esac
done
[ -n "$archive" ] || { echo "usage: scripts/restore.sh ARCHIVE [--data-dir DIR] [--models-dir DIR]" >&2; exit 64; }
[ -f "$archive" ] || { echo "restore: $archive is not a file" >&2; exit 66; }

fresh() { [ ! -e "$1" ] || { [ -d "$1" ] && [ -z "$(ls -A "$1")" ]; }; }
fresh "$data_dir" || { echo "restore: $data_dir is not empty; restore into a fresh DATA_DIR" >&2; exit 73; }
fresh "$models_dir" || { echo "restore: $models_dir is not empty; restore into a fresh MODELS_DIR" >&2; exit 73; }

# Staged beside the target, so the final step is a rename on the same filesystem.
parent="$(dirname "$data_dir")"
mkdir -p "$parent"
stage="$(mktemp -d "$parent/.vcfarm-restore.XXXXXX")"
redis_pid=""
cleanup() {
  [ -z "$redis_pid" ] || kill -9 "$redis_pid" 2>/dev/null || true
  rm -rf "$stage"
}
trap cleanup EXIT

# 1. Unpack and verify: one top folder, regular files and folders only, every file listed in
# SHA256SUMS and every listed file intact.
tar -C "$stage" --no-same-owner --no-same-permissions -xzf "$archive" ||
  { echo "restore: $archive is not a readable archive" >&2; exit 65; }
tops=("$stage"/*)
[ ${#tops[@]} -eq 1 ] && [ -f "${tops[0]}/manifest.json" ] && [ -f "${tops[0]}/SHA256SUMS" ] ||
  { echo "restore: $archive is not a vcfarm backup" >&2; exit 65; }
root="${tops[0]}"
grep -q '"format": "vcfarm-backup/1"' "$root/manifest.json" ||
  { echo "restore: unknown backup format" >&2; exit 65; }
[ -z "$(find "$root" ! -type f ! -type d)" ] || { echo "restore: the archive holds links or devices" >&2; exit 65; }
(cd "$root" && sha256sum --quiet --strict -c SHA256SUMS) >/dev/null 2>&1 ||
  { echo "restore: checksum mismatch: the archive is damaged" >&2; exit 65; }
listed="$(sed 's/^[0-9a-f]*  //' "$root/SHA256SUMS" | sort)"
present="$(cd "$root" && find . -type f ! -name SHA256SUMS | sort)"
[ "$listed" = "$present" ] || { echo "restore: the archive holds files its checksums do not list" >&2; exit 65; }

# 2. Redis: load the RDB into a private redis-server (a unix socket, no TCP port), let it write
# its append-only files, and stop it.
mkdir -p "$stage/data/redis" "$stage/run"
chmod 700 "$stage/data/redis"
mv "$root/redis/dump.rdb" "$stage/data/redis/dump.rdb"
sock="$stage/run/redis.sock"
redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 --dir "$stage/data/redis" \
  --dbfilename dump.rdb --appendonly no --save '' --daemonize no --logfile "$stage/run/redis.log" &
redis_pid=$!
for _ in $(seq 1 200); do
  [ "$(redis-cli -s "$sock" PING 2>/dev/null)" = "PONG" ] && break
  kill -0 "$redis_pid" 2>/dev/null || break
  sleep 0.05
done
[ "$(redis-cli -s "$sock" PING 2>/dev/null)" = "PONG" ] ||
  { echo "restore: redis-server could not load the snapshot" >&2; exit 70; }
redis-cli -s "$sock" CONFIG SET appendonly yes >/dev/null
# Turning AOF on rewrites the dataset into appendonlydir; wait until that rewrite is done.
for _ in $(seq 1 1200); do
  info="$(redis-cli -s "$sock" INFO persistence | tr -d '\r')"
  grep -q '^aof_rewrite_in_progress:0' <<<"$info" && grep -q '^aof_rewrite_scheduled:0' <<<"$info" &&
    grep -q '^aof_enabled:1' <<<"$info" && break
  sleep 0.05
done
grep -q '^aof_last_bgrewrite_status:ok' <<<"$info" && grep -q '^aof_enabled:1' <<<"$info" ||
  { echo "restore: Redis could not write its append-only files" >&2; exit 70; }
redis-cli -s "$sock" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
wait "$redis_pid" 2>/dev/null || true
redis_pid=""
rm -f "$stage/data/redis/dump.rdb"
[ -f "$stage/data/redis/appendonlydir/appendonly.aof.manifest" ] ||
  { echo "restore: Redis wrote no append-only files" >&2; exit 70; }

# 3. Files, then the renames into place.
[ ! -d "$root/workspaces" ] || mv "$root/workspaces" "$stage/data/workspaces"
mkdir -p "$stage/models"
[ ! -d "$root/models" ] || cp -a "$root/models/." "$stage/models/"
[ ! -d "$data_dir" ] || rmdir "$data_dir"
mv "$stage/data" "$data_dir"
mkdir -p "$(dirname "$models_dir")"
[ ! -d "$models_dir" ] || rmdir "$models_dir"
mv "$stage/models" "$models_dir" 2>/dev/null || { mkdir -p "$models_dir" && cp -a "$stage/models/." "$models_dir/"; }
echo "restored $(sed -n 's/.*"created": "\(.*\)".*/\1/p' "$root/manifest.json") into $data_dir (models: $models_dir)"
