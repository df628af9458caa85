# Recall: GraphQL API server. Runs the TypeScript sources through tsx, as `npm start` does.
FROM node:20-bookworm-slim

ENV NODE_ENV=production
WORKDIR /app

COPY package.json package-lock.json ./
# --ignore-scripts: the postinstall builds the embedded database template, which needs the sources
# (not copied yet) and which this image does not use (compose gives it PostgreSQL; a container
# without DATABASE_URL builds it on its first start).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

COPY tsconfig.json ./
COPY schema ./schema
COPY resolvers ./resolvers
COPY src ./src

RUN mkdir -p /app/data && chown node:node /app/data
USER node

EXPOSE 4000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:' + (process.env.PORT || 4000) + '/health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"

# node directly, not npm: npm does not pass SIGTERM on, and the graceful drain needs it.
CMD ["node", "--import", "tsx", "src/main.ts"]
