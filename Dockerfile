# vcfarm image: one image for the API and the worker; the command picks the role
# (`docker run vcfarm api`, `docker run vcfarm worker`). Used by docker-compose.production.yml.
#
# BASE is any Debian 12 image with Node 20 and npm: the official node:20-bookworm-slim by
# default; the tier tests pass a locally built one (no registry is reachable there).
ARG BASE=node:20-bookworm-slim

# ---------------------------------------------------------------------------------------------
# build: every dependency (TypeScript is a dev dependency), compile, then drop the dev
# dependencies and the ONNX runtime builds for other systems, so the final stage copies only
# what runs.
# ---------------------------------------------------------------------------------------------
FROM ${BASE} AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src src
COPY workers workers
COPY models models
RUN npx tsc -p tsconfig.json \
  && npm prune --omit=dev --no-audit --no-fund \
  && rm -rf node_modules/.bin \
  && find node_modules/onnxruntime-node/bin -mindepth 2 -maxdepth 2 ! -name linux -exec rm -rf {} + \
  && find node_modules/onnxruntime-node/bin -mindepth 3 -maxdepth 3 ! -name "$(node -p process.arch)" -exec rm -rf {} +

# ---------------------------------------------------------------------------------------------
# runtime: Node 20 from BASE, ffmpeg from Debian, tini as PID 1 (forwards SIGTERM to Node only,
# so the ffmpeg children of running jobs are not killed with it, and reaps zombies), and an
# unprivileged user that owns nothing but /data.
# ---------------------------------------------------------------------------------------------
FROM ${BASE}
RUN apt-get update \
  && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ffmpeg tini \
  && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home --shell /usr/sbin/nologin vcfarm \
  && mkdir -p /data && chown vcfarm:vcfarm /data && chmod 750 /data
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules node_modules
COPY --from=build /src/dist/src dist/src
COPY --from=build /src/dist/workers dist/workers
COPY config config
COPY web web
COPY --from=build /src/models/default models/default
ENV DATA_DIR=/data MODELS_DIR=/app/models PORT=8080 HOST=0.0.0.0
USER vcfarm
EXPOSE 8080
# The API's /health: 200 while it reaches Redis, 503 while draining. (The worker, which has no
# HTTP port, turns this off in the compose file.)
HEALTHCHECK --interval=5s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/health`).then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/dist/src/cli.js"]
CMD ["api"]
