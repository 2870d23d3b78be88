# syntax=docker/dockerfile:1
# command-tracker: build with the dev dependencies, run with the production ones only.
# The Node.js major version must satisfy package.json "engines" (test/deployment.spec.ts checks).
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The dev dependencies include the `node` package (Node.js 24 for machines whose own is older):
# here a second copy of what the image has, left behind with this stage.
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY migrations ./migrations
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
# GLIBC_TUNABLES: glibc keeps up to 16 MB of freed memory instead of returning it to the kernel
# after each response (by default, anything over 128 KB at the top of the heap). Writing a list
# page copies it into a fresh malloc'd buffer; with the default, that took 1 to 3 page faults per
# request, and returning the memory flushed the TLBs of both CPUs, about a tenth of the service's
# CPU on a virtual machine (bench/RESULTS.md). It costs about 10 MB of resident memory.
ENV NODE_ENV=production \
    PORT=3000 \
    HOST=0.0.0.0 \
    PGLITE_DATA_DIR=/app/data/pglite \
    GLIBC_TUNABLES=glibc.malloc.trim_threshold=16777216
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/migrations ./dist/migrations
# The embedded database's folder, used only when DATABASE_URL is unset.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 3000
# No curl in slim images: Node's fetch. Ready means the database answers.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node directly (not npm) so that SIGTERM reaches the service and it drains before exiting. As
# npm start: V8's old generation capped at 128 MB, about three times the live heap under load,
# which keeps the resident set under 200 MB (raise it for very many /changes clients); and no
# allocation-site pretenuring, which here moves every pg result row into the old generation (see
# docs/deployment.md).
CMD ["node", "--max-old-space-size=128", "--no-allocation-site-pretenuring", "dist/src/main.js"]
