#!/usr/bin/env bash
# make test: install and start the real services, lint, check migrations, run the whole suite,
# and stop what was started, also on failure or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

scripts/services.sh install
trap 'scripts/services.sh stop test' EXIT
scripts/services.sh start test
# shellcheck disable=SC1091
. .run/test/env.sh
export DJANGO_SETTINGS_MODULE=tests.settings

echo "== ruff"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
echo "== makemigrations --check"
"$VENV/bin/python" manage.py makemigrations --check --dry-run --settings=tests.settings
echo "== pytest"
"$VENV/bin/pytest" "$@"
