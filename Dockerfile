# syntax=docker/dockerfile:1
# brupop-ts: one image for the controller, the agent and the apiserver. The entrypoint is the
# `brupop` CLI; the chart picks the component with the container args (`agent`, `apiserver`,
# `controller`). Build: docker build -t brupop-ts:0.1.0 .
# This is the plain single-arch Docker build on node:24-bookworm-slim. The shipped image is
# `npm run image` (tools/image/build.sh): FROM scratch, amd64 + arm64 under one OCI index, SBOM.
#
# The image ships bundles, not node_modules: `npm run bundle` (tools/bundle.ts) writes one minified
# file per component, and each process loads only its own (docs/benchmarks.md, "Where the memory
# goes"). Every runtime dependency is inside them, so there is no production `npm ci` stage.
ARG NODE_IMAGE=node:24-bookworm-slim

# 1. Bundle the TypeScript (needs the dev dependencies: esbuild, tsx).
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY tools/bundle.ts ./tools/bundle.ts
COPY tools/bundle ./tools/bundle
COPY src ./src
RUN npm run bundle

# 2. Runtime: Node 24 and the bundles, as an unprivileged user. dist/bundle becomes /app/dist/cli,
# so /app/dist/cli/main.js (the `brupop` launcher) is where the chart's commands expect it.
FROM ${NODE_IMAGE} AS runtime
# glibc's malloc: two arenas (not one per thread) and no growing trim threshold, so memory that
# start-up allocated and freed goes back to the kernel (~1-2 MiB per process: docs/benchmarks.md).
ENV NODE_ENV=production MALLOC_ARENA_MAX=2 MALLOC_TRIM_THRESHOLD_=131072
WORKDIR /app
COPY --from=build /src/dist/bundle ./dist/cli
# `brupop` on PATH too, for `kubectl exec ... -- brupop status`.
RUN chmod 0755 /app/dist/cli/main.js && ln -s /app/dist/cli/main.js /usr/local/bin/brupop
# Numeric, so the kubelet can verify runAsNonRoot (the image's `node` user). The agent's pod
# overrides it with UID 0 to reach the host's API socket (see docs/install.md).
USER 1000:1000
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["--help"]
