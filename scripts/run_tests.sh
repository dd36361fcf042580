#!/usr/bin/env bash
# Start the services the tests need (exports their URLs), then run the whole suite on two processes
# (pytest-xdist; FER3D_TEST_PROCESSES=0 runs it in this process).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/test_services.sh
exec .venv/bin/python -m pytest -q -n "${FER3D_TEST_PROCESSES:-2}" "$@"
