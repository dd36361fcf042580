#!/usr/bin/env bash
# Starts the services the test suite needs. Each service script is idempotent.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ -f "$here/postgres.sh" ]; then
  source "$here/postgres.sh"
fi
if [ -f "$here/chromium.sh" ]; then
  source "$here/chromium.sh"
fi
