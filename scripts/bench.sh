#!/usr/bin/env bash
# make bench: start the real services (as make test does), run every benchmark, and let each
# rewrite its own section of docs/BENCHMARKS.md. Stops the services again, also on failure.
# Run one by hand with the services up: . .run/test/env.sh && .venv/bin/python -m bench.health
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

scripts/services.sh install
trap 'scripts/services.sh stop test' EXIT
scripts/services.sh start test
# shellcheck disable=SC1091
. .run/test/env.sh
export DB_NAME=experio_bench

for bench in ${BENCHES:-health config graph scaling}; do
  echo "== bench.$bench"
  "$VENV/bin/python" -m "bench.$bench"
done
