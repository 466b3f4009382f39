# The docker tier of scripts/deploy-multiuser.sh (sourced by it; uses its plan/render helpers).
#
#   deploy-multiuser.sh docker <tier> [--dry-run] [--role api|worker --redis-url rediss://host:port]
#   deploy-multiuser.sh docker stop|status
#
# Renders, into VCFARM_DEPLOY_DIR [./.deploy/docker]: override.yml (the tier's resources on top
# of docker-compose.production.yml), haproxy.cfg (the top-level haproxy.cfg with servers found
# through Docker's DNS), prometheus.yml (+ vcfarm-rules.yml: a scrape config for every API
# replica and the worker) and secrets/ (generated once, kept across deploys); then runs
# `compose up -d --build --scale api=N` and waits until HAProxy answers /health.
#
# Hosts apart: --role api (HOST_ROLE=api: the API replicas and HAProxy) or --role worker (the
# worker only), with --redis-url (REDIS_URL, redis:// or rediss://, no password in it),
# REDIS_PASSWORD_FILE (copied into the redis_password secret), REDIS_TLS_CA_FILE for a rediss://
# Redis signed by a private CA, and WORKSPACES_DIR: the workspace every host shares (an NFS
# mount), bind-mounted at /data instead of the local `workspaces` volume. A role host starts
# only its services (`up --no-deps api haproxy` or `worker`): the stack's own Redis never runs.
# Compose: `docker compose` (v2) when present, else `docker-compose` (v1).
# COMPOSE_PROJECT_NAME [vcfarm] names the stack; HTTP_ADDR/HTTP_PORT [0.0.0.0:80] and
# STATS_ADDR/STATS_PORT [127.0.0.1:8404] are where HAProxy is published on the host.

DK_DIR=
DK_PROJECT=

docker_compose_cmd() {
  if docker compose version >/dev/null 2>&1; then
    echo "docker compose"
  elif command -v docker-compose >/dev/null; then
    echo docker-compose
  else
    die "neither 'docker compose' nor docker-compose is installed"
  fi
}

# The compose command line for this stack, as words.
docker_compose_args() {
  echo "-p $DK_PROJECT -f $ROOT/docker-compose.production.yml -f $DK_DIR/override.yml"
}

# Lower-case size for compose (512M -> 512m).
compose_size() { echo "${1,,}"; }

# The services this host runs: all of them, or (hosts apart) the API replicas and HAProxy, or
# the worker, against the shared Redis (host_role).
docker_services() {
  if ((HAS_API && HAS_WORKERS && LOCAL_REDIS)); then return 0; fi
  local names=()
  ((LOCAL_REDIS)) && names+=(redis)
  ((HAS_API)) && names+=(api haproxy)
  ((HAS_WORKERS)) && names+=(worker)
  echo "${names[*]}"
}

# The environment a remote Redis adds for the API and the worker: its address and CA.
docker_remote_env() {
  ((LOCAL_REDIS)) && return 0
  echo "      REDIS_URL: \"$REDIS_URL\""
  [[ -z ${REDIS_TLS_CA_FILE:-} ]] || echo '      REDIS_TLS_CA_FILE: /run/vcfarm/redis-ca.pem'
  [[ ${1:-} != worker ]] || echo "      WORKER_ID: \"$(hostname)-worker\""
  return 0
}

# What the API and the worker mount for a remote Redis: its CA, the shared workspace.
docker_remote_volumes() {
  ((LOCAL_REDIS)) && return 0
  [[ -n ${WORKSPACES_DIR:-}${REDIS_TLS_CA_FILE:-} ]] || return 0
  echo '    volumes:'
  [[ -z ${WORKSPACES_DIR:-} ]] || echo "      - $WORKSPACES_DIR:/data"
  [[ -z ${REDIS_TLS_CA_FILE:-} ]] || echo "      - $DK_DIR/secrets/redis-ca.pem:/run/vcfarm/redis-ca.pem:ro"
  return 0
}

docker_render() {
  local dir=$1
  mkdir -p "$dir"
  {
    cat <<EOF
# Tier $TIER_NAME of config/tiers.json for docker-compose.production.yml, rendered by
# scripts/deploy-multiuser.sh. Do not edit: rerun the script with another tier.
EOF
    if ((!LOCAL_REDIS)); then
      cat <<EOF
# Host role: $HOST_ROLE, against the shared Redis $REDIS_URL (password: the redis_password
# secret, copied from REDIS_PASSWORD_FILE); this host runs only: $(docker_services).
EOF
    fi
    echo 'services:'
    if ((LOCAL_REDIS)); then
      cat <<EOF
  redis:
    environment:
      REDIS_MAXMEMORY: "$TIER_REDIS_MAX_MEMORY"
EOF
    fi
    if ((HAS_API)); then
      cat <<EOF
  # $TIER_API_INSTANCES replicas (compose up --scale api=$TIER_API_INSTANCES), each limited like one systemd instance.
  api:
    mem_limit: $(compose_size "$TIER_API_MEMORY_MAX")
    ulimits:
      nofile:
        soft: $TIER_API_NOFILE
        hard: $TIER_API_NOFILE
    environment:
      # What that limit leaves for WebSockets after $TIER_SERVER_MAXCONN requests and 256 for Redis and
      # files: past it an upgrade gets 503 (HAProxy retries another replica), never EMFILE.
      WS_MAX_SOCKETS: "$TIER_API_WS_MAX_SOCKETS"
EOF
      docker_remote_env api
      docker_remote_volumes
    fi
    if ((HAS_WORKERS)); then
      cat <<EOF
  # One worker on cores $TIER_WORKER_CPUSET, one pinned pool thread per core, with the memory
  # of the tier's $TIER_WORKER_PROCESSES worker process(es) of $TIER_WORKER_MEMORY_MAX.
  worker:
    cpuset: "$TIER_WORKER_CPUSET"
    cpus: $((TIER_WORKER_PROCESSES * TIER_THREADS_PER_WORKER))
    mem_limit: $TIER_WORKER_MEMORY_TOTAL_BYTES
EOF
      if ((!LOCAL_REDIS)); then
        echo '    environment:'
        docker_remote_env worker
        docker_remote_volumes
      fi
    fi
    if ((HAS_API)); then
      cat <<EOF
  haproxy:
    ulimits:
      nofile:
        soft: $TIER_HAPROXY_NOFILE
        hard: $TIER_HAPROXY_NOFILE
EOF
    fi
  } >"$dir/override.yml"
  ((HAS_API)) || {
    docker_render_prometheus "$dir"
    return 0
  }
  # haproxy.cfg with one server slot per replica, resolved through Docker's embedded DNS
  # (127.0.0.11) so replicas that come and go are found; the stats password stays a reference
  # that HAProxy fills from its environment (the entrypoint reads the secret).
  INSTANCES=1 API_BASE_PORT=8080 HTTP_ADDR=0.0.0.0 HTTP_PORT=8080 STATS_ADDR=0.0.0.0 STATS_PORT=8404 \
    API_HOST=api STATS_PASSWORD='${STATS_PASSWORD}' ERRORFILE_408=haproxy-408.http render_config |
    sed -E -e "s#^( +)server api1 \"api:8080\" (check|track api_http/api1)\$#\1server-template api 1-$TIER_API_INSTANCES api:8080 check resolvers docker init-addr none#" \
      -e "1s/for 1 API instance\(s\)/for $TIER_API_INSTANCES API replicas (docker tier)/" >"$dir/haproxy.cfg"
  # The errorfile beside the config; the compose file mounts both into /etc/vcfarm.
  cp "$ERRORFILE_408_SOURCE" "$dir/haproxy-408.http"
  cat >>"$dir/haproxy.cfg" <<'EOF'

# ---------------------------------------------------------------------------------------------
# resolvers docker: Docker's embedded DNS answers the service name `api` with every replica's
# address; HAProxy fills its server slots from it and follows replicas that restart elsewhere.
# ---------------------------------------------------------------------------------------------
resolvers docker
  nameserver dns 127.0.0.11:53
  resolve_retries 3
  timeout resolve 1s
  timeout retry 1s
  hold valid 5s
  hold obsolete 5s
EOF
  docker_render_prometheus "$dir"
}

# A Prometheus scrape config for a Prometheus on the stack's network: every API replica (found
# through Docker's DNS, /metrics with the admin token) and the worker's WORKER_METRICS_PORT.
docker_render_prometheus() {
  local dir=$1
  cp "$ROOT/deploy/prometheus/vcfarm-rules.yml" "$dir/vcfarm-rules.yml"
  cat >"$dir/prometheus.yml" <<EOF
# Prometheus scrape config for the vcfarm compose stack (tier $TIER_NAME), rendered by
# scripts/deploy-multiuser.sh. Do not edit. For a Prometheus attached to the stack's network
# (e.g. docker run --network ${DK_PROJECT}_default with this file, vcfarm-rules.yml and the
# admin token mounted at /etc/prometheus/admin-token); no vcfarm port is published for it.
EOF
  prometheus_preamble >>"$dir/prometheus.yml"
  ((HAS_API)) && cat >>"$dir/prometheus.yml" <<EOF
  # API replicas ($TIER_API_INSTANCES): every address Docker's DNS gives for the service name.
  - job_name: vcfarm-api
    metrics_path: /metrics
    authorization:
      type: Bearer
      credentials_file: /etc/prometheus/admin-token
    dns_sd_configs:
      - names: [api]
        type: A
        port: 8080
        refresh_interval: 15s
EOF
  ((HAS_WORKERS)) && cat >>"$dir/prometheus.yml" <<EOF
  # The worker container: one process, all worker cores ($TIER_WORKER_CPUSET).
  - job_name: vcfarm-worker
    static_configs:
      - targets: ["worker:9465"]
EOF
  return 0
}

docker_secrets() {
  local dir=$1/secrets name
  mkdir -p "$dir"
  # The directory keeps other host users out. The files are world-readable because compose
  # bind-mounts them as they are into containers whose users differ (vcfarm, redis, haproxy).
  chmod 700 "$dir"
  for name in admin-token redis-password stats-password; do
    [[ -s $dir/$name ]] || (umask 022 && od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$dir/$name" && echo >>"$dir/$name")
  done
  [[ -z ${STATS_PASSWORD:-} ]] || echo "$STATS_PASSWORD" >"$dir/stats-password"
  # A remote Redis's password is the operator's (REDIS_PASSWORD_FILE): its first line, copied.
  ((LOCAL_REDIS)) || (umask 022 && head -n1 "$REDIS_PASSWORD_FILE" >"$dir/redis-password")
  [[ -z ${REDIS_TLS_CA_FILE:-} ]] || install -m 644 "$REDIS_TLS_CA_FILE" "$dir/redis-ca.pem"
  return 0
}

# Containers cannot raise their descriptor limit past the host's hard limit.
docker_nofile() {
  local want=${VCFARM_NOFILE:-65536} hard
  hard=$(ulimit -Hn)
  [[ $hard == unlimited ]] || ((want <= hard)) || want=$hard
  echo "$want"
}

# A role host starts its own services only (--no-deps: not the stack's Redis).
docker_up_cmd() {
  local scale="" only
  only=$(docker_services)
  ((HAS_API)) && scale=" --scale api=$TIER_API_INSTANCES"
  if [[ -z $only ]]; then
    echo "$DK_COMPOSE $(docker_compose_args) up -d --build --remove-orphans$scale"
  else
    echo "$DK_COMPOSE $(docker_compose_args) up -d --build --no-deps$scale $only"
  fi
}

# With more than one API replica, one first: replicas created at once on a new models volume race
# in docker's filling of it from the image ("failed to mkdir .../_data/default/previews: file
# exists", seen on an API-only host). Empty when there is one replica or none.
docker_first_up_cmd() {
  ((HAS_API)) && ((TIER_API_INSTANCES > 1)) || return 0
  (
    TIER_API_INSTANCES=1
    docker_up_cmd
  )
}

docker_dry_run() {
  local stage f
  stage=$(mktemp -d)
  docker_render "$stage"
  echo "dry run: would write these files in $DK_DIR:"
  for f in override.yml haproxy.cfg haproxy-408.http prometheus.yml; do
    [[ -f $stage/$f ]] || continue
    echo
    echo "### $DK_DIR/$f"
    cat "$stage/$f"
  done
  rm -rf "$stage"
  cat <<EOF

### $DK_DIR/secrets/{admin-token,redis-password,stats-password} (generated when missing$( ((LOCAL_REDIS)) || echo '; redis-password copied from REDIS_PASSWORD_FILE'))

dry run: would run:$(
    first=$(docker_first_up_cmd)
    [[ -z $first ]] || printf '\n  VCFARM_DEPLOY_DIR=%s VCFARM_NOFILE=%s %s' "$DK_DIR" "$(docker_nofile)" "$first"
  )
  VCFARM_DEPLOY_DIR=$DK_DIR VCFARM_NOFILE=$(docker_nofile) $(docker_up_cmd)
dry run: nothing was written or started
EOF
}

docker_deploy() {
  local stage
  stage=$(mktemp -d)
  docker_render "$stage"
  if ((HAS_API)) && command -v haproxy >/dev/null; then
    STATS_PASSWORD=check haproxy -c -q -f "$stage/haproxy.cfg" || die "the rendered haproxy.cfg is not valid"
  fi
  mkdir -p "$DK_DIR"
  local f
  for f in "$stage"/*; do [[ ! -f $f ]] || install -m 644 "$f" "$DK_DIR/"; done
  rm -rf "$stage"
  docker_secrets "$DK_DIR"
  local up
  for up in "$(docker_first_up_cmd)" "$(docker_up_cmd)"; do
    [[ -n $up ]] || continue
    echo "+ VCFARM_DEPLOY_DIR=$DK_DIR VCFARM_NOFILE=$(docker_nofile) $up"
    VCFARM_DEPLOY_DIR=$DK_DIR VCFARM_NOFILE=$(docker_nofile) $up
  done
  if ((!HAS_API)); then
    echo "vcfarm ($TIER_NAME, worker only) is running in compose project $DK_PROJECT (status: $0 docker status)"
    return 0
  fi
  local host=$HTTP_ADDR
  [[ $host == 0.0.0.0 ]] && host=127.0.0.1
  wait_for haproxy 180 healthy "http://$host:$HTTP_PORT/health"
  echo "vcfarm ($TIER_NAME) is running in compose project $DK_PROJECT: http://$host:$HTTP_PORT/"
}

# Entry point: docker <tier>|stop|status.
docker_main() {
  local what=${1:-}
  DK_DIR=$(realpath -m "${VCFARM_DEPLOY_DIR:-$ROOT/.deploy/docker}")
  DK_PROJECT=${COMPOSE_PROJECT_NAME:-vcfarm}
  case $what in
    stop)
      DK_COMPOSE=$(docker_compose_cmd)
      # Reverse dependency order, each within its stop_grace_period: HAProxy soft-stops, the
      # API replicas drain, the worker finishes its running jobs, Redis writes its file last.
      VCFARM_DEPLOY_DIR=$DK_DIR VCFARM_NOFILE=$(docker_nofile) $DK_COMPOSE $(docker_compose_args) stop
      ;;
    status)
      DK_COMPOSE=$(docker_compose_cmd)
      VCFARM_DEPLOY_DIR=$DK_DIR VCFARM_NOFILE=$(docker_nofile) $DK_COMPOSE $(docker_compose_args) ps
      ;;
    '') usage ;;
    *)
      host_role
      [[ $HOST_ROLE == all ]] || ((!LOCAL_REDIS)) || die "HOST_ROLE=$HOST_ROLE needs the shared Redis"
      if ((!LOCAL_REDIS)) && [[ $HOST_ROLE != all && -z ${WORKSPACES_DIR:-} ]]; then
        die "HOST_ROLE=$HOST_ROLE needs WORKSPACES_DIR: the workspace shared by every host (an NFS mount), bind-mounted at /data"
      fi
      tier_plan "$what"
      if ((dry_run)); then
        # A dry run prints what it would run: without compose here, the plugin's command line.
        DK_COMPOSE=$(docker_compose_cmd 2>/dev/null) || DK_COMPOSE="docker compose"
        docker_dry_run
      else
        DK_COMPOSE=$(docker_compose_cmd)
        docker_deploy
      fi
      ;;
  esac
}
