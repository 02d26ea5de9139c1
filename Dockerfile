# syntax=docker/dockerfile:1
# Vigil's images: one build, one target per service.
#
#   docker build --target featurizer -t vigil-featurizer .     # ingestor, featurizer, scorer, alerter, trainer
#   docker run --rm vigil-trainer services/trainer/src/cli/models-cli.ts list   # another entry point of the same image
#
# Each target runs its service's src/main.ts through tsx (a production dependency: the workspace
# packages export their TypeScript source, so there is no compiled JavaScript to run) as the node
# user (uid 1000), with METRICS_PORT 9464. Nothing in the image is written at run time (code and
# assets are root's; tsx's transform cache, which would go to /tmp, is off), so it runs on a
# read-only root filesystem. The one file a service writes is the ingestor's ZEEK_STATE_FILE, when
# Zeek logs are tailed: put it on a volume. test/deploy/container-images.test.ts checks this file.
ARG NODE_IMAGE=node:20-bookworm-slim

# Production dependencies of every workspace, from the lockfile. npm ci needs every workspace's
# package.json (the lockfile lists them all), so they come first and the layer is cached until one changes.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY schemas/package.json schemas/
COPY packages/models/package.json packages/models/
COPY packages/platform/package.json packages/platform/
COPY packages/sigma/package.json packages/sigma/
COPY packages/syslog/package.json packages/syslog/
COPY packages/testkit/package.json packages/testkit/
COPY services/alerter/package.json services/alerter/
COPY services/featurizer/package.json services/featurizer/
COPY services/ingestor/package.json services/ingestor/
COPY services/scorer/package.json services/scorer/
COPY services/trainer/package.json services/trainer/
# onnxruntime-node ships its CPU runtime for every OS and CPU (.npmrc skips its GPU download):
# keep only this platform's (linux/x64 or linux/arm64), about 240 MB less.
RUN npm ci --omit=dev \
 && ort=node_modules/onnxruntime-node/bin/napi-v6 \
 && find "$ort" -mindepth 1 -maxdepth 1 ! -name linux -exec rm -rf {} + \
 && find "$ort/linux" -mindepth 1 -maxdepth 1 ! -name "$(node -p process.arch)" -exec rm -rf {} + \
 && test -f "$ort/linux/$(node -p process.arch)/onnxruntime_binding.node"

# What every service runs on: the dependencies, the wire contract and the runtime packages with
# their assets (Avro schemas, shared-table and model-registry migrations, Sigma rules and Lua). Not packages/testkit.
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
ENV NODE_ENV=production \
    METRICS_PORT=9464 \
    TSX_DISABLE_CACHE=1
COPY --from=deps /app/node_modules node_modules
COPY package.json tsconfig.json tsconfig.base.json ./
COPY schemas schemas
COPY packages/platform packages/platform
COPY packages/models packages/models
COPY packages/syslog packages/syslog
COPY packages/sigma packages/sigma
# the node user, by number: Kubernetes' runAsNonRoot can only verify a numeric one
USER 1000:1000
EXPOSE 9464
ENTRYPOINT ["node", "--import", "tsx"]

FROM runtime AS ingestor
COPY services/ingestor services/ingestor
# syslog UDP and TCP (SYSLOG_*_PORT); Zeek over TCP when ZEEK_TCP_PORT is set (compose uses 5515)
EXPOSE 5514/tcp 5514/udp 5515/tcp
CMD ["services/ingestor/src/main.ts"]

FROM runtime AS featurizer
COPY services/featurizer services/featurizer
CMD ["services/featurizer/src/main.ts"]

FROM runtime AS scorer
COPY services/scorer services/scorer
CMD ["services/scorer/src/main.ts"]

FROM runtime AS alerter
COPY services/alerter services/alerter
# the feedback API (on when API_TOKEN is set) listens beyond the container's loopback
ENV API_BIND=0.0.0.0
EXPOSE 8088
CMD ["services/alerter/src/main.ts"]

FROM runtime AS trainer
COPY services/trainer services/trainer
CMD ["services/trainer/src/main.ts"]
