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
echo "== mypy (django-stubs)"
"$VENV/bin/mypy"
echo "== makemigrations --check"
"$VENV/bin/python" manage.py makemigrations --check --dry-run --settings=tests.settings
echo "== pytest (Django $("$VENV/bin/python" -c 'import django; print(django.get_version())'))"
"$VENV/bin/pytest" "$@"
# The other supported LTS line (pyproject promises Django 4.2 and 5.2); skip with EXPERIO_DJANGO42=0.
if [ "${EXPERIO_DJANGO42:-1}" != 0 ] && [ -x .venv-django42/bin/pytest ]; then
  echo "== pytest (Django $(.venv-django42/bin/python -c 'import django; print(django.get_version())'))"
  DB_NAME=experio_django42 .venv-django42/bin/pytest -q "$@"
fi
