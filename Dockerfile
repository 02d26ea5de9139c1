# One image for every Vigil service; the compose/k8s command names the service's main.ts.
# (Issue: container images — to be slimmed into per-service production builds.)
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY schemas/package.json schemas/
COPY packages/platform/package.json packages/platform/
COPY packages/models/package.json packages/models/
COPY packages/syslog/package.json packages/syslog/
COPY packages/testkit/package.json packages/testkit/
COPY services/ingestor/package.json services/ingestor/
COPY services/featurizer/package.json services/featurizer/
COPY services/scorer/package.json services/scorer/
COPY services/alerter/package.json services/alerter/
COPY services/trainer/package.json services/trainer/
RUN npm ci --omit=dev
COPY schemas schemas
COPY packages packages
COPY services services
USER node
ENTRYPOINT ["node", "--import", "tsx"]
