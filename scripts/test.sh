#!/usr/bin/env bash
# Install what the tests need (redis-server, a virtualenv with the package and its test
# extras), then run the linters, the type checker and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing redis-server (Debian package)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    echo "redis-server is missing: install it (Debian/Ubuntu: apt-get install redis-server)" >&2
  fi
fi

venv=${VENV:-.venv}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e '.[test]'

"$venv/bin/ruff" check exporter tests
"$venv/bin/mypy"
"$venv/bin/python" -m pytest "$@"
