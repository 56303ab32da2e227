# Production image of the Bike Power Tracker API.
#   docker build -t bike-power-tracker-api .
#   docker compose up -d --build     (with TimescaleDB, Redis and SRH; see docker-compose.yml)
#   production: docker-compose.prod.yml (README.md, "Docker")
FROM denoland/deno:2.9.6

ENV DENO_NO_UPDATE_CHECK=1 \
    DENO_NO_PROMPT=1

# The app folder belongs to the image's non-root user so that `deno install` may write there
# (node_modules, if the project ever enables it); the sources themselves stay read-only.
WORKDIR /app
RUN chown deno:deno /app
USER deno

# Dependencies first: this layer is rebuilt only when deno.json or deno.lock change. Deno
# installs every npm package a lockfile holds, and deno.lock also holds the test- and bench-only
# ones (PGlite, ioredis, the OpenAPI validator: tests/deps/), so the lock is first pruned to what
# deno.json "imports" reach; --frozen keeps the committed versions and integrity.
COPY deno.json deno.lock ./
COPY scripts/runtime_lock.ts ./scripts/
COPY vendor/ ./vendor/
RUN deno run --allow-read=deno.lock --allow-write=deno.lock scripts/runtime_lock.ts \
    && deno install --frozen

COPY src/ ./src/
COPY sql/ ./sql/
# The migration runner, so an upgrade can migrate before it replaces the instances:
#   docker compose run --rm api deno run --allow-net --allow-env --allow-read scripts/migrate.ts
COPY scripts/migrate.ts ./scripts/
RUN deno cache --frozen src/main.ts scripts/migrate.ts

ENV APP_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
EXPOSE 3000

CMD ["deno", "run", "--allow-net", "--allow-env", "--allow-read", "src/main.ts"]
