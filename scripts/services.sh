# shellcheck shell=bash
# Sourced by scripts/test.sh: starts throwaway PostgreSQL and Redis servers
# on loopback for the backend tests and exports their URLs:
#   TEST_POSTGRES_URL  postgres://sessionless@127.0.0.1:$PGPORT/sessionless?sslmode=disable
#   TEST_REDIS_URL     redis://127.0.0.1:$REDISPORT/0
# Both come from Debian packages (postgresql, redis-server). With CI=true a
# missing package is installed; elsewhere the matching tests skip with a
# message saying how to run them. Servers live in a temp dir and are
# stopped when the test command exits.
#
# The tests of the PHP session bridge (bridge/phpsession) run real PHP:
# Debian's php-cli and php-redis, installed the same way with CI=true.
# They need no server of their own: each test starts `php -S`.
#
# The real-browser tests (integration/browser) run Debian's chromium
# (/usr/bin/chromium), installed the same way with CI=true; elsewhere they
# skip without it. Each test starts its own headless browser.
#
# The tests of npm's OAuth and MCP clients against the demo
# (integration/node) run Debian's nodejs and npm (/usr/bin/node,
# /usr/bin/npm), installed the same way with CI=true; elsewhere they skip
# without them. They run `npm ci` themselves (the npm registry).

SERVICES_DIR=""

find_pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/postgres" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
  done
  return 1
}

install_services() {
  local missing=()
  find_pg_bin >/dev/null || missing+=(postgresql)
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v php >/dev/null || missing+=(php-cli)
  php_has_redis || missing+=(php-redis)
  # Chromium, and a font for its pages and screenshots.
  [ -x /usr/bin/chromium ] || missing+=(chromium fonts-dejavu-core)
  { [ -x /usr/bin/node ] && [ -x /usr/bin/npm ]; } || missing+=(nodejs npm)
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "services: installing ${missing[*]} (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The packages' own service instances are not used: tests run their own.
  service redis-server stop >/dev/null 2>&1 || true
}

php_has_redis() {
  command -v php >/dev/null && php -m 2>/dev/null | grep -qix redis
}

check_php() {
  if ! command -v php >/dev/null; then
    echo "services: PHP not installed (apt-get install php-cli php-redis): the PHP session bridge tests will skip"
  elif ! php_has_redis; then
    echo "services: PHP $(php -r 'echo PHP_VERSION;') without the redis extension (apt-get install php-redis): the phpredis session tests will skip"
  else
    echo "services: PHP $(php -r 'echo PHP_VERSION;') with phpredis $(php -r 'echo phpversion("redis");')"
  fi
}

check_chromium() {
  if [ -x /usr/bin/chromium ]; then
    echo "services: $(/usr/bin/chromium --version 2>/dev/null | head -n 1) for the real-browser tests"
  else
    echo "services: Chromium not installed (apt-get install chromium): the real-browser tests (integration/browser) will skip"
  fi
}

check_node() {
  if command -v node >/dev/null && command -v npm >/dev/null; then
    echo "services: Node.js $(node --version) and npm $(npm --version) for the npm clients' tests (integration/node)"
  else
    echo "services: Node.js or npm not installed (apt-get install nodejs npm): the npm clients' tests (integration/node) will skip"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null \
    || echo $((20000 + RANDOM % 40000))
}

stop_services() {
  [ -n "$SERVICES_DIR" ] || return 0
  if [ -f "$SERVICES_DIR/pg/postmaster.pid" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$SERVICES_DIR/pg" -m immediate stop >/dev/null 2>&1 || true
  fi
  if [ -f "$SERVICES_DIR/redis.pid" ]; then
    kill "$(cat "$SERVICES_DIR/redis.pid")" 2>/dev/null || true
  fi
  rm -rf "$SERVICES_DIR"
}

# PostgreSQL refuses to run as root: run it as the postgres user then.
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

start_postgres() {
  PG_BIN=$(find_pg_bin) || { echo "services: PostgreSQL not installed (apt-get install postgresql): its tests will skip"; return 0; }
  local port; port=$(free_port)
  mkdir -p "$SERVICES_DIR/pg"
  [ "$(id -u)" = 0 ] && chown -R postgres "$SERVICES_DIR"
  as_pg "$PG_BIN/initdb" -D "$SERVICES_DIR/pg" -U sessionless --auth=trust -E UTF8 >"$SERVICES_DIR/initdb.log" 2>&1 \
    || { cat "$SERVICES_DIR/initdb.log"; return 1; }
  as_pg "$PG_BIN/pg_ctl" -D "$SERVICES_DIR/pg" -l "$SERVICES_DIR/pg.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $SERVICES_DIR -c fsync=off -c max_connections=200" start >/dev/null \
    || { cat "$SERVICES_DIR/pg.log"; return 1; }
  "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U sessionless sessionless
  export TEST_POSTGRES_URL="postgres://sessionless@127.0.0.1:$port/sessionless?sslmode=disable"
  export TEST_PG_CTL="$PG_BIN/pg_ctl" TEST_PG_DATA="$SERVICES_DIR/pg"
  echo "services: PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
}

start_redis() {
  command -v redis-server >/dev/null || { echo "services: Redis not installed (apt-get install redis-server): its tests will skip"; return 0; }
  local port; port=$(free_port)
  redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no --daemonize yes \
    --dir "$SERVICES_DIR" --pidfile "$SERVICES_DIR/redis.pid" --logfile "$SERVICES_DIR/redis.log" >/dev/null
  local i
  for i in $(seq 1 100); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  export TEST_REDIS_URL="redis://127.0.0.1:$port/0"
  echo "services: Redis $(redis-server --version | awk '{print $3}' | cut -d= -f2) on 127.0.0.1:$port"
}

start_services() {
  if [ "${CI:-}" = true ]; then
    install_services
  fi
  SERVICES_DIR=$(mktemp -d /tmp/sessionless-services.XXXXXX)
  chmod 755 "$SERVICES_DIR"
  trap stop_services EXIT
  start_postgres
  start_redis
  check_php
  check_chromium
  check_node
}
