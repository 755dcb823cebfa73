# syntax=docker/dockerfile:1
# brupop-ts: one image for the controller, the agent and the apiserver. The entrypoint is the
# `brupop` CLI; the chart picks the component with the container args (`agent`, `apiserver`,
# `controller`). Build: docker build -t brupop-ts:0.1.0 .
ARG NODE_IMAGE=node:24-bookworm-slim

# 1. Compile TypeScript (needs the dev dependencies).
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# 2. Production dependencies only (no install scripts: nothing at runtime needs them).
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# 3. Runtime: Node 24, the compiled code and production node_modules, as an unprivileged user.
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
# `brupop` on PATH too, for `kubectl exec ... -- brupop status`.
RUN chmod 0755 /app/dist/cli/main.js && ln -s /app/dist/cli/main.js /usr/local/bin/brupop
# Numeric, so the kubelet can verify runAsNonRoot (the image's `node` user). The agent's pod
# overrides it with UID 0 to reach the host's API socket (see docs/install.md).
USER 1000:1000
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["--help"]
