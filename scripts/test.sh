#!/usr/bin/env bash
# Run every test suite: unit, integration (real Docker engine and hub), end-to-end (real browser).
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/pytest tests -q -p no:cacheprovider --timeout=900 "$@"
