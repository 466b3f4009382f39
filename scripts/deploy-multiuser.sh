#!/usr/bin/env bash
# Runs vcfarm for many users on one machine: several API instances behind HAProxy.
#
#   scripts/deploy-multiuser.sh local <api_instances> <max_users> [--dry-run]
#       Starts Redis (unless REDIS_URL is set), <api_instances> API instances on consecutive
#       ports from API_BASE_PORT, worker processes sized from the cores, and HAProxy in front,
#       as background processes with pid files and logs in DATA_DIR/run/ (local-*.pid,
#       local-*.log), then prints the URLs. --dry-run prints the plan and starts nothing.
#   scripts/deploy-multiuser.sh stop
#       Stops exactly the processes `local` started (by their pid files), newest first.
#   scripts/deploy-multiuser.sh config <api_instances> <max_users>
#       Prints the HAProxy config `local` would use (rendered from haproxy.cfg).
#   scripts/deploy-multiuser.sh systemd <tier> [--dry-run] [--root DIR] [--role R --redis-url U]
#   scripts/deploy-multiuser.sh systemd stop|status
#       The systemd tier (scripts/deploy/systemd.sh): units, env file, HAProxy and Redis config
#       for a tier of config/tiers.json (tiny, small, medium, large, xlarge), installed and started.
#   scripts/deploy-multiuser.sh docker <tier> [--dry-run] [--role R --redis-url U]
#   scripts/deploy-multiuser.sh docker stop|status
#       The docker tier (scripts/deploy/docker.sh): docker-compose.production.yml with an
#       override rendered for the tier, run with docker compose (v2) or docker-compose (v1).
#   Hosts apart (systemd and docker): --role api|worker (HOST_ROLE) renders an API-only or a
#       worker-only host against the shared Redis --redis-url (REDIS_URL) + REDIS_PASSWORD_FILE.
#
# Environment (defaults in brackets):
#   DATA_DIR [./data]  REDIS_URL [unset: start redis-server on 127.0.0.1:REDIS_PORT [6379], with
#   the password of DATA_DIR/redis-password (generated, mode 0600)]  REDIS_PASSWORD_FILE [unset]
#   API_BASE_PORT [8081]  HTTP_ADDR [0.0.0.0]  HTTP_PORT [80]  STATS_ADDR [127.0.0.1]
#   STATS_PORT [8404]  STATS_USER [admin]  STATS_PASSWORD [generated into DATA_DIR/run/local-stats-password]
#   WORKER_PROCESSES [1]  POOL_SIZE [cores / WORKER_PROCESSES]  WS_MAX_SOCKETS_PER_USER [4]
#   HTTP_PER_USER [4: HTTP requests one user has in flight, for HAProxy's maxconn]
#   DRAIN_MS [3000]  CHECK_INTER [1s]  CHECK_FALL [2]  CHECK_RISE [2]  LOG_LEVEL [info]
#   UPLOAD_MAX_BYTES [104857600]  and any other vcfarm variable, passed to every instance.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TEMPLATE="$ROOT/haproxy.cfg"
# HAProxy's answer to a request head that did not arrive in time (haproxy.cfg: errorfile 408).
# The local tier reads it where it is; systemd and docker copy it beside their config.
ERRORFILE_408_SOURCE="$ROOT/deploy/haproxy/408.http"
CLI="$ROOT/dist/src/cli.js"

die() {
  echo "deploy-multiuser: $*" >&2
  exit 1
}

usage() {
  sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

DATA_DIR=$(realpath -m "${DATA_DIR:-./data}")
RUN="$DATA_DIR/run"
export DATA_DIR

# --- the plan: every number `local` uses, derived from the arguments and the machine ----------
plan() {
  local instances=$1 users=$2
  [[ $instances =~ ^[0-9]+$ ]] && ((instances >= 1 && instances <= 64)) || die "api_instances must be 1..64"
  [[ $users =~ ^[0-9]+$ ]] && ((users >= 1 && users <= 1000000)) || die "max_users must be a positive integer"
  INSTANCES=$instances
  USERS=$users
  CORES=$(nproc)
  WORKER_PROCESSES=${WORKER_PROCESSES:-1}
  POOL_SIZE=${POOL_SIZE:-$(((CORES + WORKER_PROCESSES - 1) / WORKER_PROCESSES))}
  API_BASE_PORT=${API_BASE_PORT:-8081}
  HTTP_ADDR=${HTTP_ADDR:-0.0.0.0}
  HTTP_PORT=${HTTP_PORT:-80}
  STATS_ADDR=${STATS_ADDR:-127.0.0.1}
  STATS_PORT=${STATS_PORT:-8404}
  STATS_USER=${STATS_USER:-admin}
  REDIS_PORT=${REDIS_PORT:-6379}
  UPLOAD_MAX_BYTES=${UPLOAD_MAX_BYTES:-104857600}
  # A user has the page open in a few tabs (one WebSocket each) and a handful of HTTP requests
  # in flight at most (uploads, job polls).
  WS_MAX_SOCKETS_PER_USER=${WS_MAX_SOCKETS_PER_USER:-4}
  HTTP_PER_USER=${HTTP_PER_USER:-4}
  [[ $HTTP_PER_USER =~ ^[0-9]+$ ]] || die "HTTP_PER_USER must be a whole number"
  # HAProxy's maxconn from the descriptors it will have: this shell's hard limit, which HAProxy
  # raises its own soft limit to (src/deploy/haproxy-sizing.ts; refuses what cannot fit).
  local sizing
  sizing=$(haproxy_sizing $((users * (WS_MAX_SOCKETS_PER_USER + HTTP_PER_USER))) \
    $((users * HTTP_PER_USER)) "$instances" "$(nofile_limit)") || exit 2
  eval "$sizing"
  WS_TOTAL=$((users * WS_MAX_SOCKETS_PER_USER))
  WS_PER_INSTANCE=$(((WS_TOTAL + instances - 1) / instances))
  DRAIN_MS=${DRAIN_MS:-3000}
  API_PORTS=()
  for ((i = 0; i < instances; i++)); do API_PORTS+=($((API_BASE_PORT + i))); done
}

# The descriptors a process started from here may have: the hard limit (or the kernel's ceiling).
nofile_limit() {
  local hard
  hard=$(ulimit -Hn)
  [[ $hard == unlimited ]] && hard=$(cat /proc/sys/fs/nr_open)
  echo "$hard"
}

# haproxy_sizing <connections> <http_connections> <servers> <nofile_limit>: MAXCONN=... lines.
haproxy_sizing() {
  [[ -f $ROOT/dist/scripts/haproxy-plan.js ]] || bash "$ROOT/scripts/ensure-build.sh" >&2
  node "$ROOT/dist/scripts/haproxy-plan.js" "$@"
}

print_plan() {
  local redis_line="redis-server on 127.0.0.1:$REDIS_PORT, data in $DATA_DIR/redis (appendonly, noeviction, password)"
  [[ -n ${REDIS_URL:-} ]] && redis_line="external: REDIS_URL=$REDIS_URL (none started)"
  local apis=()
  for p in "${API_PORTS[@]}"; do apis+=("127.0.0.1:$p"); done
  cat <<EOF
vcfarm local tier: $INSTANCES API instance(s) for up to $USERS users
  data dir:          $DATA_DIR (pid files and logs in $RUN)
  redis:             $redis_line
  api instances:     $INSTANCES on ${apis[*]} (node dist/src/cli.js api, DRAIN_MS=$DRAIN_MS)
  workers:           $WORKER_PROCESSES process(es) x $POOL_SIZE pinned thread(s) ($CORES cores)
  haproxy:           http://$HTTP_ADDR:$HTTP_PORT/ (HTTP round-robin, /api/ws leastconn, check GET /health)
  stats page:        http://$STATS_ADDR:$STATS_PORT/stats (user $STATS_USER)
  limits:
    haproxy maxconn:             $MAXCONN (frontend $FRONTEND_MAXCONN: max_users x ($WS_MAX_SOCKETS_PER_USER WebSockets + $HTTP_PER_USER HTTP), at least 256; stats $STATS_MAXCONN)
    http requests per instance:  $SERVER_MAXCONN (more wait in HAProxy's queue)
    websockets per user:         $WS_MAX_SOCKETS_PER_USER per instance (WS_MAX_SOCKETS_PER_USER)
    websockets in all:           $WS_TOTAL, about $WS_PER_INSTANCE per instance
    file descriptors:            haproxy $HAPROXY_NOFILE (limit $(nofile_limit)), each API instance $API_NOFILE (limit $(nofile_limit))
    websockets per instance cap: $API_WS_MAX_SOCKETS (WS_MAX_SOCKETS: the instance's limit less $SERVER_MAXCONN requests and 256 for Redis and files)
    upload size:                 $UPLOAD_MAX_BYTES bytes
EOF
}

# --- a deploy tier (systemd, docker): config/tiers.json through dist/scripts/tier-plan.js -------
# The part every rendered Prometheus config shares (after its own header comment): intervals, the
# alert rules beside it, and the start of the scrape list each tier fills in.
prometheus_preamble() {
  cat <<'EOF'
global:
  scrape_interval: 15s
  evaluation_interval: 15s

rule_files:
  - vcfarm-rules.yml

scrape_configs:
EOF
}

tier_plan() {
  [[ -f $ROOT/dist/scripts/tier-plan.js ]] || bash "$ROOT/scripts/ensure-build.sh" >&2
  local vars
  vars=$(node "$ROOT/dist/scripts/tier-plan.js" "$1") || exit 2
  eval "$vars"
  INSTANCES=$TIER_API_INSTANCES
  USERS=$TIER_MAX_USERS
  MAXCONN=$TIER_MAXCONN
  FRONTEND_MAXCONN=$TIER_FRONTEND_MAXCONN
  STATS_MAXCONN=32
  SERVER_MAXCONN=$TIER_SERVER_MAXCONN
  HAPROXY_NOFILE=$TIER_HAPROXY_NOFILE
  API_NOFILE=$TIER_API_NOFILE
  API_WS_MAX_SOCKETS=$TIER_API_WS_MAX_SOCKETS
  API_BASE_PORT=${API_BASE_PORT:-8081}
  HTTP_ADDR=${HTTP_ADDR:-0.0.0.0}
  HTTP_PORT=${HTTP_PORT:-80}
  STATS_ADDR=${STATS_ADDR:-127.0.0.1}
  STATS_PORT=${STATS_PORT:-8404}
  STATS_USER=${STATS_USER:-admin}
  UPLOAD_MAX_BYTES=${UPLOAD_MAX_BYTES:-104857600}
  DRAIN_MS=${DRAIN_MS:-3000}
  API_PORTS=()
  for ((i = 0; i < INSTANCES; i++)); do API_PORTS+=($((API_BASE_PORT + i))); done
}

# --- hosts apart (systemd and docker tiers): HOST_ROLE and a remote Redis --------------------
# Sets HAS_API, HAS_WORKERS and LOCAL_REDIS from HOST_ROLE [all] (--role) and REDIS_URL
# (--redis-url); refuses what cannot work, naming the setting, never printing a secret.
host_role() {
  HOST_ROLE=${HOST_ROLE:-all}
  case $HOST_ROLE in
    all | api | worker) ;;
    *) die "HOST_ROLE must be all, api or worker, not '$HOST_ROLE'" ;;
  esac
  LOCAL_REDIS=1 HAS_API=1 HAS_WORKERS=1
  [[ $HOST_ROLE == worker ]] && HAS_API=0
  [[ $HOST_ROLE == api ]] && HAS_WORKERS=0
  if [[ -n ${REDIS_URL:-} ]]; then
    LOCAL_REDIS=0
    [[ $REDIS_URL =~ ^rediss?://[^@/[:space:]]+(/[0-9]+)?$ ]] ||
      die "REDIS_URL must be redis://host[:port][/db] or rediss://... (TLS), with the password in REDIS_PASSWORD_FILE, not in the URL"
    [[ -n ${REDIS_PASSWORD_FILE:-} && -s $REDIS_PASSWORD_FILE ]] ||
      die "a remote Redis (REDIS_URL) needs REDIS_PASSWORD_FILE, a file holding its password"
  elif [[ $HOST_ROLE != all ]]; then
    die "HOST_ROLE=$HOST_ROLE needs the shared Redis: set REDIS_URL and REDIS_PASSWORD_FILE"
  fi
  if [[ -n ${REDIS_TLS_CA_FILE:-} ]]; then
    [[ ${REDIS_URL:-} == rediss://* ]] || die "REDIS_TLS_CA_FILE is for a TLS Redis: REDIS_URL must be rediss://..."
    [[ -s $REDIS_TLS_CA_FILE ]] || die "REDIS_TLS_CA_FILE: no such file, or empty"
  fi
  return 0
}

# --- the HAProxy config: haproxy.cfg with ${NAME-default} filled in and one server per instance --
render_config() {
  MAXCONN=$MAXCONN FRONTEND_MAXCONN=$FRONTEND_MAXCONN STATS_MAXCONN=$STATS_MAXCONN \
    SERVER_MAXCONN=$SERVER_MAXCONN HTTP_ADDR=$HTTP_ADDR HTTP_PORT=$HTTP_PORT \
    STATS_ADDR=$STATS_ADDR STATS_PORT=$STATS_PORT STATS_USER=$STATS_USER \
    STATS_PASSWORD=${STATS_PASSWORD:-} UPLOAD_LIMIT_BYTES=$((UPLOAD_MAX_BYTES + 65536)) \
    ERRORFILE_408=${ERRORFILE_408:-$ERRORFILE_408_SOURCE} \
    perl -e '
      my ($n, $base) = @ARGV;
      print "# Generated by scripts/deploy-multiuser.sh from haproxy.cfg for $n API instance(s). Do not edit.\n";
      while (my $line = <STDIN>) {
        $line =~ s/\$\{(\w+)-([^}]*)\}/defined $ENV{$1} && $ENV{$1} ne "" ? $ENV{$1} : $2/ge;
        $line =~ s/\$\{(\w+)\}/defined $ENV{$1} ? $ENV{$1} : ""/ge;
        if ($line =~ /^(\s*server )api1 "([^"]*):\d+"(.*)$/) {
          my ($head, $host, $tail) = ($1, $2, $3);
          for my $i (1 .. $n) {
            (my $t = $tail) =~ s{/api1\b}{/api$i}g;
            printf "%sapi%d \"%s:%d\"%s\n", $head, $i, $host, $base + $i - 1, $t;
          }
          next;
        }
        next if $line =~ /^\s*server api\d+ /;
        print $line;
      }' "$INSTANCES" "$API_BASE_PORT" <"$TEMPLATE"
}

# --- processes ---------------------------------------------------------------------------------
# Next to each pid file, local-<name>.start holds the process's start time (from /proc/<pid>/stat):
# `stop` kills a pid only while it still names the process that was started, never a recycled pid.
start_time() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  read -ra fields <<<"$stat"
  echo "${fields[19]}"
}

started_by_us() {
  local pidfile=$1 pid want have
  pid=$(cat "$pidfile")
  want=$(cat "${pidfile%.pid}.start" 2>/dev/null) || return 1
  have=$(start_time "$pid") || return 1
  [[ $want == "$have" ]]
}

launch() {
  local name=$1
  shift
  setsid "$@" </dev/null >>"$RUN/local-$name.log" 2>&1 &
  echo $! >"$RUN/local-$name.pid"
  start_time $! >"$RUN/local-$name.start"
}

port_busy() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

http_status() {
  node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(2000) }).then((r) => console.log(r.status), () => console.log(0))' "$1"
}

wait_for() {
  local what=$1 seconds=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    ((SECONDS < deadline)) || {
      echo "deploy-multiuser: $what did not come up in ${seconds}s; see $RUN/local-*.log" >&2
      return 1
    }
    sleep 0.2
  done
}

healthy() { [[ $(http_status "$1") == 200 ]]; }
# REDISCLI_AUTH: redis-cli takes the password from its environment, not its command line.
redis_ping() { REDISCLI_AUTH=$(cat "$DATA_DIR/redis-password") redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }
alive() { kill -0 "$(cat "$RUN/local-$1.pid")" 2>/dev/null; }

start_local() {
  mkdir -p "$RUN"
  chmod 700 "$RUN"
  for f in "$RUN"/local-*.pid; do
    [[ -f $f ]] && started_by_us "$f" && die "already running (see $RUN); run: $0 stop"
  done
  command -v haproxy >/dev/null && command -v redis-server >/dev/null && command -v ffmpeg >/dev/null ||
    bash "$ROOT/scripts/ensure-system-deps.sh"
  [[ -f $CLI ]] || bash "$ROOT/scripts/ensure-build.sh"
  local ports=("${API_PORTS[@]}" "$HTTP_PORT" "$STATS_PORT")
  [[ -z ${REDIS_URL:-} ]] && ports+=("$REDIS_PORT")
  for p in "${ports[@]}"; do port_busy "$p" && die "port $p is already in use"; done

  # From here on, a failure stops whatever was started so far.
  trap 'echo "deploy-multiuser: start failed; stopping what was started" >&2; stop_all >&2' EXIT

  password_from='$STATS_PASSWORD'
  if [[ -z ${STATS_PASSWORD:-} ]]; then
    password_from="$RUN/local-stats-password"
    [[ -s $RUN/local-stats-password ]] ||
      (umask 077 && od -An -N18 -tx1 /dev/urandom | tr -d ' \n' >"$RUN/local-stats-password")
    STATS_PASSWORD=$(cat "$RUN/local-stats-password")
  fi
  # Admin endpoints get a token of their own, as with `vcfarm all`, unless one is configured.
  if [[ -z ${ADMIN_TOKEN:-} && -z ${ADMIN_TOKEN_FILE:-} ]]; then
    [[ -s $DATA_DIR/admin-token ]] ||
      (umask 077 && od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$DATA_DIR/admin-token")
    export ADMIN_TOKEN_FILE="$DATA_DIR/admin-token"
  fi

  if [[ -z ${REDIS_URL:-} ]]; then
    mkdir -p "$DATA_DIR/redis"
    chmod 700 "$DATA_DIR/redis"
    # Redis requires a password (as with `vcfarm all`): DATA_DIR/redis-password, mode 0600. It
    # reaches redis-server through a 0600 config file in the 0700 run dir, and vcfarm processes
    # through REDIS_PASSWORD_FILE: never on a command line, where `ps` would show it.
    [[ -s $DATA_DIR/redis-password ]] ||
      (umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$DATA_DIR/redis-password")
    (umask 077 && echo "requirepass $(cat "$DATA_DIR/redis-password")" >"$RUN/local-redis.conf")
    launch redis redis-server "$RUN/local-redis.conf" --bind 127.0.0.1 --port "$REDIS_PORT" \
      --dir "$DATA_DIR/redis" --appendonly yes --maxmemory-policy noeviction --save '' \
      --daemonize no --protected-mode yes
    REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
    export REDIS_PASSWORD_FILE="$DATA_DIR/redis-password"
    wait_for redis 10 redis_ping
  fi
  # The instances inherit this shell's descriptor limit (Node raises its soft limit to the hard
  # one): WS_MAX_SOCKETS is what that limit leaves after requests and files.
  WS_MAX_SOCKETS=${WS_MAX_SOCKETS:-$API_WS_MAX_SOCKETS}
  export REDIS_URL WS_MAX_SOCKETS_PER_USER WS_MAX_SOCKETS DRAIN_MS UPLOAD_MAX_BYTES

  for ((w = 1; w <= WORKER_PROCESSES; w++)); do
    launch "worker-$w" env POOL_SIZE="$POOL_SIZE" WORKER_ID="$(hostname)-local-$w" node "$CLI" worker
  done
  for ((i = 1; i <= INSTANCES; i++)); do
    launch "api-$i" env PORT="${API_PORTS[i - 1]}" HOST=127.0.0.1 node "$CLI" api
  done
  for ((i = 1; i <= INSTANCES; i++)); do
    wait_for "api-$i" 30 healthy "http://127.0.0.1:${API_PORTS[i - 1]}/health"
  done

  (umask 077 && render_config >"$RUN/local-haproxy.cfg")
  haproxy -c -q -f "$RUN/local-haproxy.cfg" || die "the generated $RUN/local-haproxy.cfg is not valid"
  launch haproxy haproxy -db -f "$RUN/local-haproxy.cfg"
  wait_for haproxy 10 healthy "http://127.0.0.1:$HTTP_PORT/health"
  trap - EXIT

  local shown=$HTTP_ADDR
  [[ $shown == 0.0.0.0 ]] && shown=localhost
  cat <<EOF
vcfarm is running: $INSTANCES API instance(s) behind HAProxy
  app:         http://$shown:$HTTP_PORT/
  stats page:  http://$STATS_ADDR:$STATS_PORT/stats (user $STATS_USER, password: $password_from)
  logs, pids:  $RUN/local-*
  stop with:   $0 stop
EOF
}

# Stops what the pid files name, newest first, each group in parallel: HAProxy, the API
# instances (they drain), the workers (running jobs finish, up to 60 s), then Redis.
stop_all() {
  compgen -G "$RUN/local-*.pid" >/dev/null || {
    echo "deploy-multiuser: nothing to stop in $RUN"
    return 0
  }
  local group
  for group in haproxy 'api-*' 'worker-*' redis; do
    local pids=() files=()
    for f in "$RUN"/local-$group.pid; do
      [[ -f $f ]] || continue
      files+=("$f" "${f%.pid}.start")
      local pid
      pid=$(cat "$f")
      if started_by_us "$f"; then
        kill -TERM "$pid" 2>/dev/null || true
        pids+=("$pid")
      fi
    done
    local grace=15
    [[ $group == 'worker-*' ]] && grace=60
    local deadline=$((SECONDS + grace))
    for pid in "${pids[@]}"; do
      while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
      if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
      fi
    done
    ((${#files[@]} == 0)) || rm -f "${files[@]}"
  done
  echo "deploy-multiuser: stopped"
}

dry_run=0
args=()
while (($# > 0)); do
  case $1 in
    --dry-run) dry_run=1 ;;
    --root)
      (($# >= 2)) || usage
      DEPLOY_ROOT=$2
      shift
      ;;
    --role)
      (($# >= 2)) || usage
      HOST_ROLE=$2
      shift
      ;;
    --redis-url)
      (($# >= 2)) || usage
      REDIS_URL=$2
      shift
      ;;
    *) args+=("$1") ;;
  esac
  shift
done
set -- "${args[@]}"

case "${1:-}" in
  local)
    (($# == 3)) || usage
    plan "$2" "$3"
    if ((dry_run)); then
      print_plan
      echo "dry run: nothing was started"
    else
      print_plan
      start_local
    fi
    ;;
  config)
    (($# == 3)) || usage
    plan "$2" "$3"
    render_config
    ;;
  stop)
    stop_all
    ;;
  systemd)
    (($# == 2)) || usage
    . "$ROOT/scripts/deploy/systemd.sh"
    systemd_main "$2"
    ;;
  docker)
    (($# == 2)) || usage
    [[ -z ${DEPLOY_ROOT:-} ]] || die "--root is for the systemd tier"
    . "$ROOT/scripts/deploy/docker.sh"
    docker_main "$2"
    ;;
  *) usage ;;
esac
