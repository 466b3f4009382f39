# The systemd tier of scripts/deploy-multiuser.sh (sourced by it; uses its plan/render helpers).
#
#   deploy-multiuser.sh systemd <tier> [--dry-run] [--root DIR]
#   deploy-multiuser.sh systemd stop|status [--root DIR]
#
# Renders the units of systemd/ with the tier's drop-ins, /etc/vcfarm/{vcfarm.env,redis.conf,
# haproxy.cfg,haproxy-408.http} and the sysusers entry into a staging tree, then installs the tree, the
# application (/opt/vcfarm, production dependencies only) and generated credentials
# (/etc/vcfarm/credentials, 0600, kept across deploys), enables the tier's instances under
# vcfarm.target and (re)starts it. With --root DIR everything is written under DIR and enabled
# offline (systemctl --root), nothing is started: DIR is an image or container root.
#
# Hosts apart: HOST_ROLE [all] = all (Redis, HAProxy, API instances and workers on this host),
# api (HAProxy and the API instances) or worker (the workers only). A remote Redis: REDIS_URL
# (redis:// or rediss:// for TLS, without a password), REDIS_PASSWORD_FILE (a file holding its
# password, copied into credentials/redis-password) and, for a private CA, REDIS_TLS_CA_FILE
# (copied to /etc/vcfarm/redis-ca.pem); then no local Redis is installed. The api
# and worker roles need a remote Redis, and every host the same workspace mounted at
# /var/lib/vcfarm (README: Hosts apart).

SD_ROOT=/
SD_APP=/opt/vcfarm
# Worker k (in the order of the tier's core sets) serves its metrics on this port + k.
WORKER_METRICS_BASE_PORT=${WORKER_METRICS_BASE_PORT:-9465}

# The role's checks (host_role); sets SD_UNITS, SD_HAS_API, SD_HAS_WORKERS, SD_LOCAL_REDIS.
systemd_role() {
  host_role
  SD_LOCAL_REDIS=$LOCAL_REDIS SD_HAS_API=$HAS_API SD_HAS_WORKERS=$HAS_WORKERS
  SD_UNITS=(vcfarm.target)
  ((SD_HAS_API)) && SD_UNITS+=(vcfarm-api@.service)
  ((SD_HAS_WORKERS)) && SD_UNITS+=(vcfarm-worker@.service)
  ((SD_LOCAL_REDIS)) && SD_UNITS+=(vcfarm-redis.service)
  ((SD_HAS_API)) && SD_UNITS+=(vcfarm-haproxy.service)
  return 0
}

# Renders every file this tier writes into the staging tree $1 (paths relative to the root).
systemd_render() {
  local stage=$1 unitdir=$1/etc/systemd/system
  mkdir -p "$unitdir" "$stage/etc/vcfarm" "$stage/etc/sysusers.d"
  for u in "${SD_UNITS[@]}"; do cp "$ROOT/systemd/$u" "$unitdir/$u"; done
  if ((!SD_LOCAL_REDIS)); then
    # Redis is on another host: the units name no local Redis unit (it would show up as not-found).
    for u in "${SD_UNITS[@]}"; do
      sed -i -e '/^Wants=vcfarm-redis\.service$/d' -e '/^After=/s/ vcfarm-redis\.service//' "$unitdir/$u"
    done
  fi
  if [[ $HOST_ROLE != all || $SD_LOCAL_REDIS == 0 ]]; then
    # The target wants only what this host runs (a missing Wants= unit is no error, but noise).
    local wants=()
    ((SD_LOCAL_REDIS)) && wants+=(vcfarm-redis.service)
    ((SD_HAS_API)) && wants+=(vcfarm-haproxy.service)
    sed -i "s/^Wants=.*/Wants=${wants[*]}/; /^Wants=\$/d" "$unitdir/vcfarm.target"
  fi
  cp "$ROOT/systemd/vcfarm.sysusers" "$stage/etc/sysusers.d/vcfarm.conf"
  ((SD_HAS_API)) && systemd_render_api "$unitdir"
  ((SD_HAS_WORKERS)) && systemd_render_workers "$unitdir"
  systemd_render_env "$stage"
  systemd_render_prometheus "$stage"
  ((SD_LOCAL_REDIS)) && sed "s/@REDIS_MAX_MEMORY@/$TIER_REDIS_MAX_MEMORY/" "$ROOT/systemd/redis.conf" >"$stage/etc/vcfarm/redis.conf"
  # The stats password stays a reference: HAProxy reads it from its environment at start.
  if ((SD_HAS_API)); then
    # The errorfile beside the config (relative names are found there: `default-path config`).
    STATS_PASSWORD='${STATS_PASSWORD}' ERRORFILE_408=haproxy-408.http render_config >"$stage/etc/vcfarm/haproxy.cfg"
    cp "$ERRORFILE_408_SOURCE" "$stage/etc/vcfarm/haproxy-408.http"
  fi
  return 0
}

systemd_render_api() {
  local unitdir=$1
  mkdir -p "$unitdir/vcfarm-api@.service.d" "$unitdir/vcfarm-haproxy.service.d"
  cat >"$unitdir/vcfarm-api@.service.d/tier.conf" <<EOF
# Tier $TIER_NAME (config/tiers.json), rendered by scripts/deploy-multiuser.sh. Do not edit.
[Service]
MemoryMax=$TIER_API_MEMORY_MAX
TasksMax=$TIER_API_TASKS_MAX
# Its share of the WebSockets and requests (HAProxy balances them) plus files and Redis.
LimitNOFILE=$TIER_API_NOFILE
# What that limit leaves for WebSockets after $TIER_SERVER_MAXCONN requests and 256 for Redis and files:
# past it an upgrade gets 503 (HAProxy retries another instance), never EMFILE.
Environment=WS_MAX_SOCKETS=$TIER_API_WS_MAX_SOCKETS
EOF
  cat >"$unitdir/vcfarm-haproxy.service.d/tier.conf" <<EOF
# Tier $TIER_NAME (config/tiers.json), rendered by scripts/deploy-multiuser.sh. Do not edit.
[Service]
# Two descriptors per proxied connection (maxconn $MAXCONN) plus listeners and checks.
LimitNOFILE=$TIER_HAPROXY_NOFILE
EOF
}

systemd_render_workers() {
  local unitdir=$1
  mkdir -p "$unitdir/vcfarm-worker@.service.d"
  cat >"$unitdir/vcfarm-worker@.service.d/tier.conf" <<EOF
# Tier $TIER_NAME (config/tiers.json), rendered by scripts/deploy-multiuser.sh. Do not edit.
[Service]
# One worker: $TIER_THREADS_PER_WORKER pool thread(s) with their ffmpeg children and ONNX sessions.
MemoryMax=$TIER_WORKER_MEMORY_MAX
TasksMax=$TIER_WORKER_TASKS_MAX
# Below the API and Redis: a busy host still answers requests quickly.
Nice=$TIER_WORKER_NICE
LimitNOFILE=65536
EOF
  # Each worker process serves /metrics and /health/* on a port of its own (127.0.0.1), in the
  # order of its instances: WORKER_METRICS_BASE_PORT, +1, ... (no two workers of a host clash).
  local k
  for k in "${!TIER_WORKER_CPUS[@]}"; do
    mkdir -p "$unitdir/vcfarm-worker@${TIER_WORKER_CPUS[k]}.service.d"
    cat >"$unitdir/vcfarm-worker@${TIER_WORKER_CPUS[k]}.service.d/metrics.conf" <<EOF
# Worker on cores ${TIER_WORKER_CPUS[k]}: /metrics and /health/* on 127.0.0.1 (/etc/vcfarm/prometheus/prometheus.yml).
[Service]
Environment=WORKER_METRICS_PORT=$((WORKER_METRICS_BASE_PORT + k))
EOF
  done
}

# A Prometheus scrape config listing every process of this host: each API instance's /metrics
# (admin token from the credentials) and each worker's WORKER_METRICS_PORT, with the alert rules.
systemd_render_prometheus() {
  local dir=$1/etc/vcfarm/prometheus p k
  mkdir -p "$dir"
  cp "$ROOT/deploy/prometheus/vcfarm-rules.yml" "$dir/vcfarm-rules.yml"
  {
    cat <<EOF
# Prometheus scrape config for this vcfarm host (tier $TIER_NAME, role $HOST_ROLE), rendered by
# scripts/deploy-multiuser.sh. Do not edit: merge its jobs into your prometheus.yml, or run a
# Prometheus with it (prometheus --config.file=/etc/vcfarm/prometheus/prometheus.yml). The
# targets are loopback: a Prometheus (or agent) on this host scrapes them.
EOF
    prometheus_preamble
    if ((SD_HAS_API)); then
      cat <<EOF
  # API instances: /metrics on each instance's port, admin token only (give Prometheus a copy
  # it can read: install -o prometheus -m 0400 /etc/vcfarm/credentials/admin-token ...).
  - job_name: vcfarm-api
    metrics_path: /metrics
    authorization:
      type: Bearer
      credentials_file: /etc/vcfarm/credentials/admin-token
    static_configs:
      - targets:
EOF
      for p in "${API_PORTS[@]}"; do echo "          - 127.0.0.1:$p"; done
    fi
    if ((SD_HAS_WORKERS)); then
      cat <<EOF
  # Worker processes: one WORKER_METRICS_PORT each (vcfarm-worker@<cores>.service.d/metrics.conf).
  - job_name: vcfarm-worker
    static_configs:
      - targets:
EOF
      for k in "${!TIER_WORKER_CPUS[@]}"; do echo "          - 127.0.0.1:$((WORKER_METRICS_BASE_PORT + k))"; done
    fi
  } >"$dir/prometheus.yml"
}

systemd_render_env() {
  local stage=$1 role_line=""
  [[ $HOST_ROLE == all ]] || role_line="# Host role: $HOST_ROLE. The workspace is shared: mount it at /var/lib/vcfarm on every host.
"
  cat >"$stage/etc/vcfarm/vcfarm.env" <<EOF
# vcfarm settings shared by every API instance and worker of this host (tier $TIER_NAME).
# Rendered by scripts/deploy-multiuser.sh; secrets are not here but in credentials/ (LoadCredential=).
${role_line}REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
DATA_DIR=/var/lib/vcfarm
MODELS_DIR=$SD_APP/models
TRUSTED_PROXIES=127.0.0.1
WS_MAX_SOCKETS_PER_USER=$TIER_WS_PER_USER
DRAIN_MS=$DRAIN_MS
UPLOAD_MAX_BYTES=$UPLOAD_MAX_BYTES
LOG_LEVEL=${LOG_LEVEL:-info}
EOF
  if [[ -n ${REDIS_TLS_CA_FILE:-} ]]; then
    # The CA that signed the remote Redis's certificate (rediss://): public, readable by the units.
    cp "$REDIS_TLS_CA_FILE" "$stage/etc/vcfarm/redis-ca.pem"
    echo "REDIS_TLS_CA_FILE=/etc/vcfarm/redis-ca.pem" >>"$stage/etc/vcfarm/vcfarm.env"
  fi
}

# The units to enable: the target, Redis, HAProxy and one instance per API port / worker core set.
systemd_instances() {
  local units=(vcfarm.target)
  ((SD_LOCAL_REDIS)) && units+=(vcfarm-redis.service)
  ((SD_HAS_API)) && units+=(vcfarm-haproxy.service)
  echo "${units[@]}"
  if ((SD_HAS_API)); then
    for p in "${API_PORTS[@]}"; do echo "vcfarm-api@$p.service"; done
  fi
  if ((SD_HAS_WORKERS)); then
    for c in "${TIER_WORKER_CPUS[@]}"; do echo "vcfarm-worker@$c.service"; done
  fi
  return 0
}

# Instances enabled by an earlier deploy that this tier does not have (a smaller tier, other ports).
systemd_stale_instances() {
  local wants="$SD_ROOT/etc/systemd/system/vcfarm.target.wants" keep f
  keep=" $(systemd_instances | tr '\n' ' ') "
  [[ -d $wants ]] || return 0
  for f in "$wants"/vcfarm-api@*.service "$wants"/vcfarm-worker@*.service; do
    [[ -e $f || -L $f ]] || continue
    f=$(basename "$f")
    [[ $keep == *" $f "* ]] || echo "$f"
  done
}

# Every command the install runs, one per line, in order (printed as is by --dry-run).
systemd_commands() {
  local sc="systemctl" ss="systemd-sysusers"
  if [[ $SD_ROOT != / ]]; then sc="systemctl --root=$SD_ROOT" ss="systemd-sysusers --root=$SD_ROOT"; fi
  echo "$ss"
  # Debian's own Redis and HAProxy services would hold the same ports (6379, 80).
  local u debian=()
  ((SD_LOCAL_REDIS)) && debian+=(redis-server.service)
  ((SD_HAS_API)) && debian+=(haproxy.service)
  for u in "${debian[@]}"; do
    [[ -e $SD_ROOT/lib/systemd/system/$u ]] || continue
    if [[ $SD_ROOT == / ]]; then echo "systemctl disable --now $u"; else echo "$sc disable $u"; fi
  done
  local stale
  stale=$(systemd_stale_instances | tr '\n' ' ')
  if [[ -n $stale ]]; then
    if [[ $SD_ROOT == / ]]; then echo "systemctl disable --now $stale"; else echo "$sc disable $stale"; fi
  fi
  echo "$sc enable $(systemd_instances | tr '\n' ' ')"
  if [[ $SD_ROOT == / ]]; then
    echo "systemctl daemon-reload"
    echo "systemctl restart vcfarm.target"
  fi
}

# Copies the application with production dependencies only into $1.
systemd_install_app() {
  local dest=$1 tmp
  tmp=$(mktemp -d "$(dirname "$dest")/.vcfarm-app.XXXXXX")
  (cd "$ROOT" && cp -a --parents package.json package-lock.json README.md config models web scripts dist/src dist/workers dist/scripts "$tmp/")
  rm -rf "$tmp/models/builder"
  # `npm ls --omit=dev` names exactly the installed production packages (offline, from the lockfile).
  (cd "$ROOT" && npm ls --omit=dev --all --parseable 2>/dev/null | sed -n "s|^$ROOT/||p" | grep '^node_modules/') |
    while read -r dir; do
      mkdir -p "$tmp/$(dirname "$dir")"
      [[ -e $tmp/$dir ]] || cp -a "$ROOT/$dir" "$tmp/$dir"
    done
  # Package binaries point into dev packages; none is needed at run time. onnxruntime-node
  # ships its native library for every OS and CPU: keep Linux on this machine's CPU only.
  rm -rf "$tmp/node_modules/.bin"
  local arch
  arch=$(node -p process.arch)
  find "$tmp/node_modules/onnxruntime-node/bin" -mindepth 2 -maxdepth 2 ! -name linux -exec rm -rf {} +
  find "$tmp/node_modules/onnxruntime-node/bin" -mindepth 3 -maxdepth 3 ! -name "$arch" -exec rm -rf {} +
  rm -rf "$dest.old"
  [[ -e $dest ]] && mv "$dest" "$dest.old"
  mv "$tmp" "$dest"
  chmod -R u=rwX,go=rX "$dest"
  rm -rf "$dest.old"
}

# Generated once, kept across deploys: the admin token, Redis's password, HAProxy's stats password.
systemd_credentials() {
  local dir=$1/etc/vcfarm/credentials name names=()
  mkdir -p "$dir"
  chmod 700 "$dir"
  # A remote Redis's password is the operator's (REDIS_PASSWORD_FILE): its first line, copied.
  ((SD_LOCAL_REDIS)) || (umask 077 && head -n1 "$REDIS_PASSWORD_FILE" >"$dir/redis-password")
  ((SD_HAS_API)) && names+=(admin-token)
  ((SD_LOCAL_REDIS)) && names+=(redis-password)
  ((SD_HAS_API)) && names+=(stats-password)
  for name in "${names[@]}"; do
    [[ -s $dir/$name ]] || (umask 077 && od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$dir/$name" && echo >>"$dir/$name")
  done
  [[ -z ${STATS_PASSWORD:-} ]] || ((!SD_HAS_API)) || (umask 077 && echo "$STATS_PASSWORD" >"$dir/stats-password")
}

# The credential files of this host, as the dry run names them.
systemd_credential_list() {
  if ((SD_HAS_API)); then echo '{admin-token,redis-password,stats-password}'; else echo redis-password; fi
}

systemd_dry_run() {
  local stage f
  stage=$(mktemp -d)
  systemd_render "$stage"
  echo "dry run: would write these files under $SD_ROOT (units and config 0644, the rest as shown):"
  (cd "$stage" && find . -type f | sort) | while read -r f; do
    echo
    echo "### ${SD_ROOT%/}/${f#./}"
    cat "$stage/$f"
  done
  rm -rf "$stage"
  cat <<EOF

### ${SD_ROOT%/}$SD_APP/ (the application: dist, config, models, web, scripts, production node_modules)
### ${SD_ROOT%/}/etc/vcfarm/credentials/$(systemd_credential_list) (0600, generated when missing$( ((SD_LOCAL_REDIS)) || echo '; redis-password copied from REDIS_PASSWORD_FILE'))

dry run: would run:
$(systemd_commands | sed 's/^/  /')
dry run: nothing was written or started
EOF
}

systemd_deploy() {
  command -v systemctl >/dev/null || die "systemctl not found: the systemd tier needs systemd"
  if [[ $SD_ROOT == / ]]; then
    [[ $(readlink /proc/1/exe 2>/dev/null) == */systemd ]] || die "PID 1 is not systemd; use --root DIR to install into an image"
    command -v redis-server >/dev/null && command -v haproxy >/dev/null && command -v ffmpeg >/dev/null ||
      bash "$ROOT/scripts/ensure-system-deps.sh"
  fi
  [[ -x $SD_ROOT/usr/bin/node || -L $SD_ROOT/usr/bin/node ]] || die "$SD_ROOT/usr/bin/node not found: install Node 20 there first"
  local stage cmd
  stage=$(mktemp -d)
  systemd_render "$stage"
  if ((SD_HAS_API)); then
    STATS_PASSWORD=check haproxy -c -q -f "$stage/etc/vcfarm/haproxy.cfg" || die "the rendered haproxy.cfg is not valid"
  fi
  mkdir -p "$SD_ROOT/opt"
  systemd_install_app "${SD_ROOT%/}$SD_APP"
  # Files only, never the staging directories' own modes (mktemp makes them 0700; `cp -a stage/.`
  # would give the root directory that mode).
  (cd "$stage" && find . -type f -print0 | xargs -0 -I{} install -D -m 644 {} "$SD_ROOT/{}")
  rm -rf "$stage"
  chmod 644 "$SD_ROOT"/etc/vcfarm/vcfarm.env
  if ((SD_LOCAL_REDIS)); then chmod 644 "$SD_ROOT"/etc/vcfarm/redis.conf; fi
  systemd_credentials "$SD_ROOT"
  while read -r cmd; do
    echo "+ $cmd"
    $cmd
  done < <(systemd_commands)
  if [[ $SD_ROOT == / ]] && ((!SD_HAS_API)); then
    echo "vcfarm ($TIER_NAME, workers only) is running under systemd (systemctl status vcfarm.target)"
  elif [[ $SD_ROOT == / ]]; then
    wait_for haproxy 60 healthy "http://127.0.0.1:$HTTP_PORT/health"
    echo "vcfarm ($TIER_NAME) is running under systemd: http://localhost:$HTTP_PORT/ (systemctl status vcfarm.target)"
  else
    echo "vcfarm ($TIER_NAME) installed into $SD_ROOT and enabled; boot it to start"
  fi
}

systemd_stop() {
  if [[ $SD_ROOT != / ]]; then die "stop needs a running systemd, not --root"; fi
  # PartOf= carries the stop of the target to every unit, in reverse order (HAProxy; API
  # instances and workers; Redis). Naming the units too makes systemctl wait for all of them,
  # not just for the target: it returns once the workers have finished their running jobs.
  systemctl stop vcfarm.target 'vcfarm-*.service'
  echo "deploy-multiuser: vcfarm.target stopped"
}

systemd_status() {
  if [[ $SD_ROOT != / ]]; then die "status needs a running systemd, not --root"; fi
  systemctl list-units --all --no-legend --plain 'vcfarm*' | awk '{printf "%-40s %s %s\n", $1, $3, $4}'
  # Exit status as `systemctl is-active`: 0 running, 3 stopped.
  systemctl is-active --quiet vcfarm.target
}

# Entry point: systemd <tier>|stop|status.
systemd_main() {
  local what=${1:-}
  SD_ROOT=$(realpath -m "${DEPLOY_ROOT:-/}")
  case $what in
    stop) systemd_stop ;;
    status) systemd_status ;;
    '') usage ;;
    *)
      systemd_role
      tier_plan "$what"
      if ((dry_run)); then systemd_dry_run; else systemd_deploy; fi
      ;;
  esac
}
