#!/usr/bin/env bash
# Install what the enclave needs on a Debian 12 host, as root, and start the Docker engine if none
# answers. Safe to run again: each step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*"; }

need_apt=()
command -v dockerd >/dev/null || need_apt+=(docker.io)
command -v debootstrap >/dev/null || need_apt+=(debootstrap)
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
command -v bcftools >/dev/null || need_apt+=(bcftools)
# Debian's htslib, which the parallel VCF ingest calls directly (bcftools depends on it too).
grep -q 'libhts\.so\.3 ' <(ldconfig -p) || need_apt+=(libhts3)
command -v samtools >/dev/null || need_apt+=(samtools)
command -v age >/dev/null || need_apt+=(age)  # the backup scripts' encryption, tested here
command -v bgzip >/dev/null || need_apt+=(tabix)
command -v chromium >/dev/null || need_apt+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
python3 -c 'import ensurepip, venv' 2>/dev/null || need_apt+=(python3-venv)
if [ "${#need_apt[@]}" -gt 0 ]; then
  log "installing Debian packages: ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  log "starting dockerd (no engine answered)"
  mkdir -p /var/log
  nohup dockerd >/var/log/cirn-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/cirn-dockerd.log" >&2; exit 1; }
fi

if [ ! -x .venv/bin/python ]; then
  log "creating the Python virtual environment (.venv)"
  python3 -m venv .venv
fi
stamp=.venv/.cirn-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  log "installing the cirn package and its dependencies"
  .venv/bin/pip install -q --upgrade pip >/dev/null
  .venv/bin/pip install -q -e '.[test]'
  touch "$stamp"
fi

if [ ! -x node_modules/.bin/configurable-http-proxy ] || [ package.json -nt node_modules/.package-lock.json ]; then
  log "installing Node tools (configurable-http-proxy)"
  npm install --no-audit --no-fund --silent
fi

log "building images (skipped when up to date)"
.venv/bin/cirn images build
log "ready"
