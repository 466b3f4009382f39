#!/usr/bin/env bash
# A terminal view of a running vcfarm: worker processes, threads, queue and throughput,
# refreshed every few seconds. Needs curl and jq.
#   VCFARM_URL=http://localhost:8080 ADMIN_TOKEN=... scripts/monitor_multiuser.sh [interval-seconds]
# ADMIN_TOKEN may also come from ADMIN_TOKEN_FILE or DATA_DIR/admin-token (what `npm start` creates).
# DATA_DIR defaults to this installation's data/ folder, whatever the current folder is.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
url=${VCFARM_URL:-http://localhost:8080}

usage() {
  cat <<'USAGE'
usage: scripts/monitor_multiuser.sh [interval-seconds]
  A terminal view of a running vcfarm (workers, threads, queue, throughput), refreshed every
  interval-seconds (default 3; a number, at least 1). Ctrl-C quits.
environment:
  VCFARM_URL        the service (default http://localhost:8080)
  ADMIN_TOKEN       the admin credential; else read from ADMIN_TOKEN_FILE or DATA_DIR/admin-token
  MONITOR_ONCE=1    print one view and exit
USAGE
}
# Arguments are checked before anything is asked of the service: a mistyped one must not start a
# loop that polls the admin API as fast as it can.
case $# in
  0) interval=3 ;;
  1)
    case $1 in
      -h | --help) usage; exit 0 ;;
    esac
    interval=$1
    if ! [[ $interval =~ ^[0-9]+([.][0-9]+)?$ ]] || ! awk -v i="$interval" 'BEGIN { exit !(i >= 1) }'; then
      echo "monitor_multiuser.sh: the interval must be a number of seconds, at least 1 (got '$interval'); see --help" >&2
      exit 2
    fi
    ;;
  *) usage >&2; exit 2 ;;
esac
token=${ADMIN_TOKEN:-}
if [[ -z $token ]]; then
  file=${ADMIN_TOKEN_FILE:-${DATA_DIR:-$root/data}/admin-token}
  [[ -r $file ]] && token=$(head -n1 "$file")
fi
[[ -n $token ]] || { echo "set ADMIN_TOKEN (or ADMIN_TOKEN_FILE)" >&2; exit 2; }

once() {
  local stats queue
  stats=$(curl -fsS -H "Authorization: Bearer $token" "$url/api/system/stats") || { echo "cannot reach $url"; return; }
  queue=$(curl -fsS -H "Authorization: Bearer $token" "$url/api/queue/status") || return
  printf 'vcfarm at %s — %s\n\n' "$url" "$(date '+%H:%M:%S')"
  jq -r '"WORKERS " + (.totals.workers|tostring) + "   threads " + (.totals.threads|tostring) + "   busy " + (.totals.busy|tostring) + "   draining " + (.totals.draining|tostring)' <<<"$stats"
  jq -r '.workers[] | "  \(.id)  pid \(.pid)  size \(.size)  busy \(.busy)  done \(.jobsDone)  failed \(.jobsFailed)  speed \((.meanRealTimeFactor // 0)*10|floor/10)× real time  cpu \(.cpuPercent|floor)%  rss \(.rssBytes/1048576|floor) MiB  up \(.uptimeSec|floor)s  autoscale \(if .autoscale.enabled then "\(.autoscale.min)-\(.autoscale.max)" else "off" end)\n    cores: \([.threads[] | "\(.core)\(if .busy then "*" else "" end)\(if .retiring then "(leaving)" else "" end)"] | join(" "))"' <<<"$stats"
  echo
  jq -r '"QUEUE   waiting \(.counts.waiting)  active \(.counts.active)  delayed \(.counts.delayed)  completed \(.counts.completed)  failed \(.counts.failed)  cancelled \(.counts.cancelled)  oldest waiting \(.oldestWaitingAgeSec // 0 | floor)s\n        by class: \(.waitingByPriority | to_entries | map("\(.key) \(.value)") | join(", "))"' <<<"$queue"
  jq -r '"THROUGHPUT " + ([.throughput[] | "\(.window): \(.completed) done (\(.perMinute*10|floor/10)/min), \(.failed) failed, \(.cancelled) cancelled"] | join("   "))' <<<"$stats"
}

if [[ ${MONITOR_ONCE:-} == 1 ]]; then once; exit 0; fi
while true; do
  out=$(once)
  clear 2>/dev/null || true # no terminal (a pipe, TERM unset): plain output
  printf '%s\n\n(refreshing every %ss; Ctrl-C to quit)\n' "$out" "$interval"
  sleep "$interval"
done
