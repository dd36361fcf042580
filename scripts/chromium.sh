# shellcheck shell=bash
# Sourced by scripts/test_services.sh: finds a headless-capable Chromium for the browser tests and
# exports FER3D_TEST_CHROMIUM (its path). Idempotent: an already exported, working path is kept; a
# missing browser is installed from Debian's archive (needs root). When none can be had, it exports
# FER3D_TEST_CHROMIUM_MISSING with the reason, which the tests show when they skip.

_fer3d_chromium_find() {
  local name
  for name in chromium chromium-browser google-chrome; do
    if command -v "$name" >/dev/null 2>&1; then
      command -v "$name"
      return 0
    fi
  done
  return 1
}

_fer3d_chromium_setup() {
  local bin
  if [ -n "${FER3D_TEST_CHROMIUM:-}" ] && [ -x "$FER3D_TEST_CHROMIUM" ]; then
    echo "chromium: using FER3D_TEST_CHROMIUM already set" >&2
    return 0
  fi
  if ! bin=$(_fer3d_chromium_find); then
    if [ "$(id -u)" -ne 0 ]; then
      export FER3D_TEST_CHROMIUM_MISSING="Chromium is not installed and this user is not root, so \
scripts/chromium.sh cannot install it (apt-get install chromium)"
      echo "chromium: $FER3D_TEST_CHROMIUM_MISSING" >&2
      return 1
    fi
    echo "chromium: installing Debian's chromium package" >&2
    if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2; } ||
      ! bin=$(_fer3d_chromium_find); then
      export FER3D_TEST_CHROMIUM_MISSING="apt-get install chromium failed (see the test set-up's output)"
      echo "chromium: $FER3D_TEST_CHROMIUM_MISSING" >&2
      return 1
    fi
  fi
  export FER3D_TEST_CHROMIUM="$bin"
  unset FER3D_TEST_CHROMIUM_MISSING
  echo "chromium: $bin, FER3D_TEST_CHROMIUM exported" >&2
}

if ! _fer3d_chromium_setup; then
  echo "chromium: no browser; the browser tests will skip (and fail in CI)" >&2
fi
