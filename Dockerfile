# syntax=docker/dockerfile:1
# One image for every Kawasan service; the command picks the service (DESIGN §7):
#   docker run kawasan broker | ingest | rollup run | api | simulate | site check FILE | hash-password
# docker-compose.yml runs broker (with ingest inside it), rollup and api from this image.
# Node 24 LTS, pinned; bump deliberately (npm test on the new version first).
ARG NODE_IMAGE=node:24.11.1-bookworm-slim

# --- dependencies: production packages only ---
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# --- build: the TypeScript compiled to JavaScript in place (scripts/build.mjs; esbuild comes with
# tsx), so the image runs plain JavaScript: no compiling at start, less memory (docs/PERFORMANCE.md) ---
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY --from=deps /app/node_modules node_modules
COPY package.json package-lock.json ./
COPY scripts scripts
COPY bin bin
COPY shared shared
COPY services services
COPY infra/local infra/local
COPY infra/mosquitto infra/mosquitto
COPY infra/examples infra/examples
RUN node scripts/build.mjs --in-place /app

# --- runtime ---
FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    KAWASAN_DATA_DIR=/app/data \
    OPS_HOST=0.0.0.0 \
    OPS_PORT=9464
WORKDIR /app
COPY --from=deps /app/node_modules node_modules
COPY package.json package-lock.json ./
# The compiled JavaScript: bin/kawasan.js finds services/cli/main.js and runs it without tsx.
COPY --from=build /app/bin bin
COPY --from=build /app/shared shared
COPY --from=build /app/services services
# infra/local is imported by the CLI (private InfluxDB for `kawasan start`); the example site is the
# default site model (mount your own and set KAWASAN_SITE). TLS keys never go into the image
# (.dockerignore): mount them.
COPY --from=build /app/infra/local infra/local
COPY --from=build /app/infra/mosquitto infra/mosquitto
COPY --from=build /app/infra/examples infra/examples
# Non-root: the node user (uid 1000) of the base image owns only the data directory.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
VOLUME ["/app/data"]
# 1883 MQTT, 8883 MQTT over TLS (when configured), 8080 API and dashboard, 9464 /health /ready /metrics
EXPOSE 1883 8883 8080 9464
# Slim images have no curl: ask /health with node's fetch. /health = the process serves; /ready
# (InfluxDB reachable, broker listening) is for load balancers and orchestrators.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.OPS_PORT||9464)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "bin/kawasan.js"]
CMD ["--help"]
