# syntax=docker/dockerfile:1
# The server as an image: `docker build -t distill-serve .` (a bundle in models/<BUNDLE>/ is baked in;
# or mount one at /models and set SERVE_BUNDLE). Kubernetes and KServe manifests: deploy/.

# ── build: dependencies, with the compiler nblas needs to link against OpenBLAS ─────────────────
FROM node:20-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopenblas-dev python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# Runtime dependencies only, from the lockfile; tsx (a dependency) runs the TypeScript as is.
RUN npm ci --omit=dev --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY scripts ./scripts
COPY configs ./configs

# ── runtime: node, OpenBLAS's shared library, the app, a bundle, no compiler, not root ────────────
FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopenblas0-pthread \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build --chown=node:node /app /app
ARG BUNDLE=default
COPY --chown=node:node models/ /models/
USER node
ENV NODE_ENV=production \
    SERVE_BUNDLE=/models/${BUNDLE} \
    SERVE_HOST=0.0.0.0 \
    PORT=8080 \
    SERVE_HEALTH_PORT=8081 \
    SERVE_ALLOWED_HOSTS=* \
    LOG_LEVEL=info
EXPOSE 8080 8081
# The probe port answers from its own thread, so a busy server is not marked unhealthy.
HEALTHCHECK --interval=10s --timeout=2s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8081/v2/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node itself is PID 1 (no npm, no shell), so SIGTERM reaches the server and starts its drain.
CMD ["node", "--import", "tsx", "scripts/serve.ts"]
