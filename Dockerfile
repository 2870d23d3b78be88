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
ENV NODE_ENV=production \
    PORT=3000 \
    HOST=0.0.0.0 \
    PGLITE_DATA_DIR=/app/data/pglite
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/migrations ./dist/migrations
COPY bin ./bin
# The embedded database's folder, used only when DATABASE_URL is unset.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 3000
# No curl in slim images: Node's fetch. Ready means the database answers.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# What npm start runs, with the runtime settings (heap, glibc); it execs node, so SIGTERM reaches
# the service and it drains before exiting.
CMD ["sh", "bin/start"]
