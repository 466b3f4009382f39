# The docker tier of scripts/deploy-multiuser.sh (sourced by it; uses its plan/render helpers).
#
#   deploy-multiuser.sh docker <tier> [--dry-run]
#   deploy-multiuser.sh docker stop|status
#
# Renders, into VCFARM_DEPLOY_DIR [./.deploy/docker]: override.yml (the tier's resources on top
# of docker-compose.production.yml), haproxy.cfg (the top-level haproxy.cfg with servers found
# through Docker's DNS) and secrets/ (generated once, kept across deploys); then runs
# `compose up -d --build --scale api=N` and waits until HAProxy answers /health.
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

docker_render() {
  local dir=$1
  mkdir -p "$dir"
  cat >"$dir/override.yml" <<EOF
# Tier $TIER_NAME of config/tiers.json for docker-compose.production.yml, rendered by
# scripts/deploy-multiuser.sh. Do not edit: rerun the script with another tier.
services:
  redis:
    environment:
      REDIS_MAXMEMORY: "$TIER_REDIS_MAX_MEMORY"
  # $TIER_API_INSTANCES replicas (compose up --scale api=$TIER_API_INSTANCES), each limited like one systemd instance.
  api:
    mem_limit: $(compose_size "$TIER_API_MEMORY_MAX")
    ulimits:
      nofile:
        soft: $TIER_API_NOFILE
        hard: $TIER_API_NOFILE
  # One worker on cores $TIER_WORKER_CPUSET, one pinned pool thread per core, with the memory
  # of the tier's $TIER_WORKER_PROCESSES worker process(es) of $TIER_WORKER_MEMORY_MAX.
  worker:
    cpuset: "$TIER_WORKER_CPUSET"
    cpus: $((TIER_WORKER_PROCESSES * TIER_THREADS_PER_WORKER))
    mem_limit: $TIER_WORKER_MEMORY_TOTAL_BYTES
  haproxy:
    ulimits:
      nofile:
        soft: $TIER_HAPROXY_NOFILE
        hard: $TIER_HAPROXY_NOFILE
EOF
  # haproxy.cfg with one server slot per replica, resolved through Docker's embedded DNS
  # (127.0.0.11) so replicas that come and go are found; the stats password stays a reference
  # that HAProxy fills from its environment (the entrypoint reads the secret).
  INSTANCES=1 API_BASE_PORT=8080 HTTP_ADDR=0.0.0.0 HTTP_PORT=8080 STATS_ADDR=0.0.0.0 STATS_PORT=8404 \
    API_HOST=api STATS_PASSWORD='${STATS_PASSWORD}' render_config |
    sed -E -e "s#^( +)server api1 \"api:8080\" (check|track api_http/api1)\$#\1server-template api 1-$TIER_API_INSTANCES api:8080 check resolvers docker init-addr none#" \
      -e "1s/for 1 API instance\(s\)/for $TIER_API_INSTANCES API replicas (docker tier)/" >"$dir/haproxy.cfg"
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
}

# Containers cannot raise their descriptor limit past the host's hard limit.
docker_nofile() {
  local want=${VCFARM_NOFILE:-65536} hard
  hard=$(ulimit -Hn)
  [[ $hard == unlimited ]] || ((want <= hard)) || want=$hard
  echo "$want"
}

docker_up_cmd() {
  echo "$DK_COMPOSE $(docker_compose_args) up -d --build --remove-orphans --scale api=$TIER_API_INSTANCES"
}

docker_dry_run() {
  local stage f
  stage=$(mktemp -d)
  docker_render "$stage"
  echo "dry run: would write these files in $DK_DIR:"
  for f in override.yml haproxy.cfg; do
    echo
    echo "### $DK_DIR/$f"
    cat "$stage/$f"
  done
  rm -rf "$stage"
  cat <<EOF

### $DK_DIR/secrets/{admin-token,redis-password,stats-password} (generated when missing)

dry run: would run:
  VCFARM_DEPLOY_DIR=$DK_DIR VCFARM_NOFILE=$(docker_nofile) $(docker_up_cmd)
dry run: nothing was written or started
EOF
}

docker_deploy() {
  local stage
  stage=$(mktemp -d)
  docker_render "$stage"
  if command -v haproxy >/dev/null; then
    STATS_PASSWORD=check haproxy -c -q -f "$stage/haproxy.cfg" || die "the rendered haproxy.cfg is not valid"
  fi
  mkdir -p "$DK_DIR"
  install -m 644 "$stage/override.yml" "$stage/haproxy.cfg" "$DK_DIR/"
  rm -rf "$stage"
  docker_secrets "$DK_DIR"
  echo "+ VCFARM_DEPLOY_DIR=$DK_DIR VCFARM_NOFILE=$(docker_nofile) $(docker_up_cmd)"
  VCFARM_DEPLOY_DIR=$DK_DIR VCFARM_NOFILE=$(docker_nofile) $(docker_up_cmd)
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
      tier_plan "$what"
      if ((dry_run)); then
        DK_COMPOSE=$(docker_compose_cmd 2>/dev/null || echo "docker compose")
        docker_dry_run
      else
        DK_COMPOSE=$(docker_compose_cmd)
        docker_deploy
      fi
      ;;
  esac
}
