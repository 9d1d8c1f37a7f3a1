# Shared by scripts/demo and scripts/test: a virtualenv that is (re)installed when the
# requirements change, and the local PostgreSQL and Redis started when they are down.

PYTHON=${PYTHON:-python3.11}
VENV=${VENV:-.venv}

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

ensure_venv() {
    local requirements=$1
    if ! command -v "$PYTHON" >/dev/null 2>&1; then
        echo "error: $PYTHON not found. Install Python 3.11 (or set PYTHON=/path/to/python3.11) and retry." >&2
        exit 1
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        say "creating virtualenv in $VENV"
        "$PYTHON" -m venv "$VENV"
    fi
    local stamp="$VENV/.installed-$(basename "$requirements")"
    local wanted
    wanted=$(cat requirements*.txt | sha256sum | cut -c1-16)
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
        say "installing $requirements"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
        echo "$wanted" >"$stamp"
    fi
    export PATH="$PWD/$VENV/bin:$PATH"
}

ensure_postgres() {
    if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then return; fi
    say "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && return; sleep 1; done
    echo "error: PostgreSQL is not answering on 127.0.0.1:5432. Start it, or set DATABASE_URL to one that runs." >&2
    exit 1
}

ensure_redis() {
    if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then return; fi
    say "starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no || true
    for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && return; sleep 1; done
    echo "error: Redis is not answering on 127.0.0.1:6379. Start it, or set REDIS_URL to one that runs." >&2
    exit 1
}

ensure_database() {
    # The database named in DATABASE_URL must exist before migrate; create it if missing.
    local name
    name=$(python - <<'PY'
import os, urllib.parse
print(urllib.parse.urlparse(os.environ["DATABASE_URL"]).path.lstrip("/"))
PY
)
    if ! psql "${DATABASE_URL%/*}/postgres" -tAc "select 1 from pg_database where datname='$name'" | grep -q 1; then
        say "creating database $name"
        psql "${DATABASE_URL%/*}/postgres" -qc "create database \"$name\""
    fi
}

ensure_chromium() {
    # Browser tests drive Debian's Chromium with Playwright (no browser download).
    if [ -x "${CHROMIUM:-/usr/bin/chromium}" ]; then return; fi
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
        say "installing Debian's chromium for the browser tests"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "error: no Chromium at ${CHROMIUM:-/usr/bin/chromium}. Install it (sudo apt-get install chromium)" \
             "or set CHROMIUM=/path/to/chromium, then retry." >&2
        exit 1
    fi
}
