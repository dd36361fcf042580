#!/usr/bin/env bash
# Start the services the tests need (exports their URLs), then run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/test_services.sh
exec .venv/bin/python -m pytest -q "$@"
