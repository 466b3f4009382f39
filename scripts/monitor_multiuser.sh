#!/usr/bin/env bash
# A terminal view of a running vcfarm: worker processes, threads, queue and throughput,
# refreshed every few seconds. Needs curl and jq.
#   VCFARM_URL=http://localhost:8080 ADMIN_TOKEN=... scripts/monitor_multiuser.sh [interval-seconds]
# ADMIN_TOKEN may also come from ADMIN_TOKEN_FILE or DATA_DIR/admin-token (what `npm start` creates).
# DATA_DIR defaults to this installation's data/ folder, whatever the current folder is. Without
# VCFARM_URL the service is the one `npm start` runs with the same environment: 127.0.0.1:$PORT
# (8080 unset), as `vcfarm users` finds it.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
url=${VCFARM_URL:-http://127.0.0.1:${PORT:-8080}}

usage() {
  cat <<'USAGE'
usage: scripts/monitor_multiuser.sh [interval-seconds]
  A terminal view of a running vcfarm (workers, threads, queue, throughput), refreshed every
  interval-seconds (default 3; a number, at least 1). Ctrl-C quits.
environment:
  VCFARM_URL        the service (default http://127.0.0.1:$PORT, PORT 8080 when unset)
  ADMIN_TOKEN       the admin credential; else read from ADMIN_TOKEN_FILE or DATA_DIR/admin-token
  MONITOR_ONCE=1    print one view and exit
exit status:
  0  the view was printed (with MONITOR_ONCE=1; otherwise it runs until Ctrl-C)
  2  a usage mistake, or no admin token found
  3  the admin token was refused (401/403): it will not be accepted on a retry either
  4  the service cannot be reached (MONITOR_ONCE=1; the refreshing view says so and keeps trying)
  5  the service answered with an error, e.g. 503 while it starts (MONITOR_ONCE=1; likewise)
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

# Asks the admin API for one path; its body goes to stdout. On failure it says why on stdout (the
# view shows it) and returns the exit status above: curl's own error text (a "(22) ... 401") is
# never shown, and a refused token is not reported as an unreachable service.
fetch() {
  local body status reason
  body=$(curl -sS --max-time 10 -H "Authorization: Bearer $token" -w '\n%{http_code}' "$url$1" 2>/dev/null) || {
    echo "cannot reach $url (no answer: is the service running, and is VCFARM_URL right?)"
    return 4
  }
  status=${body##*$'\n'}
  body=${body%$'\n'*}
  case $status in
    2??) printf '%s\n' "$body" ;;
    401 | 403) echo "admin token refused by $url (HTTP $status): check ADMIN_TOKEN, ADMIN_TOKEN_FILE or DATA_DIR/admin-token"; return 3 ;;
    *)
      reason=$(jq -r '.message // empty' <<<"$body" 2>/dev/null || true)
      echo "$url answered HTTP $status to $1${reason:+: $reason}"
      return 5
      ;;
  esac
}

once() {
  local stats queue status
  stats=$(fetch /api/system/stats) || { status=$?; echo "$stats"; return "$status"; }
  queue=$(fetch /api/queue/status) || { status=$?; echo "$queue"; return "$status"; }
  printf 'vcfarm at %s — %s\n\n' "$url" "$(date '+%H:%M:%S')"
  jq -r '"WORKERS " + (.totals.workers|tostring) + "   threads " + (.totals.threads|tostring) + "   busy " + (.totals.busy|tostring) + "   draining " + (.totals.draining|tostring)' <<<"$stats"
  jq -r '.workers[] | "  \(.id)  pid \(.pid)  size \(.size)  busy \(.busy)  done \(.jobsDone)  failed \(.jobsFailed)  speed \((.meanRealTimeFactor // 0)*10|floor/10)× real time  cpu \(.cpuPercent|floor)%  rss \(.rssBytes/1048576|floor) MiB  up \(.uptimeSec|floor)s  autoscale \(if .autoscale.enabled then "\(.autoscale.min)-\(.autoscale.max)" else "off" end)\n    cores: \([.threads[] | "\(.core)\(if .busy then "*" else "" end)\(if .retiring then "(leaving)" else "" end)"] | join(" "))"' <<<"$stats"
  echo
  jq -r '"QUEUE   waiting \(.counts.waiting)  active \(.counts.active)  delayed \(.counts.delayed)  completed \(.counts.completed)  failed \(.counts.failed)  cancelled \(.counts.cancelled)  oldest waiting \(.oldestWaitingAgeSec // 0 | floor)s\n        by class: \(.waitingByPriority | to_entries | map("\(.key) \(.value)") | join(", "))"' <<<"$queue"
  jq -r '"THROUGHPUT " + ([.throughput[] | "\(.window): \(.completed) done (\(.perMinute*10|floor/10)/min), \(.failed) failed, \(.cancelled) cancelled"] | join("   "))' <<<"$stats"
}

if [[ ${MONITOR_ONCE:-} == 1 ]]; then
  status=0
  out=$(once) || status=$?
  if ((status == 0)); then printf '%s\n' "$out"; else printf 'monitor_multiuser.sh: %s\n' "$out" >&2; fi
  exit "$status"
fi
while true; do
  status=0
  out=$(once) || status=$?
  # A refused token stays refused: stop rather than ask again every few seconds.
  if ((status == 3)); then printf 'monitor_multiuser.sh: %s\n' "$out" >&2; exit 3; fi
  clear 2>/dev/null || true # no terminal (a pipe, TERM unset): plain output
  printf '%s\n\n(refreshing every %ss; Ctrl-C to quit)\n' "$out" "$interval"
  sleep "$interval"
done
