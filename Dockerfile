# One image for every Kawasan service (the command picks the service). Node 24 LTS for production.
FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY bin bin
COPY shared shared
COPY services services
COPY infra infra
USER node
ENTRYPOINT ["node", "bin/kawasan.js"]
CMD ["--help"]
