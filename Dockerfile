# The Gearshift platform image (broker, node agent and router), for machines that can pull images from a registry.
# On a machine without one, `npm run up` runs the same code directly on the host.
FROM node:24-bookworm-slim AS build
WORKDIR /opt/gearshift
COPY package.json package-lock.json ./
COPY libs/cartridges/package.json libs/cartridges/index.js libs/cartridges/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY apps apps
COPY libs libs
COPY migrations migrations
COPY test test
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends haproxy && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/gearshift
COPY --from=build /opt/gearshift/node_modules node_modules
COPY --from=build /opt/gearshift/dist dist
COPY --from=build /opt/gearshift/libs libs
COPY package.json ./
COPY cartridges cartridges
ENV NODE_ENV=production MALLOC_ARENA_MAX=2
USER node
EXPOSE 8080
CMD ["node", "--max-semi-space-size=1", "--max-old-space-size=128", "dist/apps/broker/src/main.js"]
