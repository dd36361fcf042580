# shellcheck shell=bash
# Sourced by scripts/test_services.sh: starts a throw-away PostgreSQL server on localhost for the
# distributed-search test and exports FER3D_TEST_POSTGRES_URL. Idempotent: an already exported, working
# URL is kept; a missing server package is installed from Debian's archive (needs root).
# The server stops by itself when the shell that sourced this script (then pytest, via exec) exits.

_fer3d_pg_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
      echo "$dir"
    fi
  done | sort -V | tail -n 1
}

_fer3d_pg_start() {
  local bin dir port user run_as
  if [ -n "${FER3D_TEST_POSTGRES_URL:-}" ]; then
    if "${FER3D_PYTHON:-.venv/bin/python}" -c "import sqlalchemy as s, sys; s.create_engine(sys.argv[1]).connect().close()" \
      "$FER3D_TEST_POSTGRES_URL" >/dev/null 2>&1; then
      echo "postgres: using FER3D_TEST_POSTGRES_URL already set" >&2
      return 0
    fi
  fi
  bin=$(_fer3d_pg_bin)
  if [ -z "$bin" ]; then
    echo "postgres: installing Debian's postgresql package" >&2
    if [ "$(id -u)" -ne 0 ]; then
      echo "postgres: not root, cannot install postgresql" >&2
      return 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || return 1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2 || return 1
    bin=$(_fer3d_pg_bin)
    [ -n "$bin" ] || return 1
  fi
  # initdb refuses to run as root: run the server as the package's `postgres` user then.
  user=$(id -un)
  run_as=()
  if [ "$(id -u)" -eq 0 ]; then
    user=postgres
    run_as=(runuser -u postgres --)
  fi
  dir=$(mktemp -d /tmp/fer3d-pg.XXXXXX)
  chown "$user" "$dir"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "${run_as[@]}" "$bin/initdb" -D "$dir/data" -U "$user" --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    return 1
  }
  "${run_as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=100" start >/dev/null || {
    cat "$dir/server.log" >&2
    return 1
  }
  "${run_as[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U "$user" fer3d_test || return 1
  # Stop the server and remove its folder once this shell (pytest after `exec`, same PID) is gone.
  local parent=$$
  (
    trap '' HUP INT
    while kill -0 "$parent" 2>/dev/null; do sleep 2; done
    "${run_as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1
    rm -rf "$dir"
  ) </dev/null >/dev/null 2>&1 &
  disown || true
  export FER3D_TEST_POSTGRES_URL="postgresql+psycopg2://$user@127.0.0.1:$port/fer3d_test"
  echo "postgres: server on 127.0.0.1:$port ($dir), FER3D_TEST_POSTGRES_URL exported" >&2
}

if ! _fer3d_pg_start; then
  echo "postgres: could not start a server; the distributed search test will fail in CI" >&2
fi
