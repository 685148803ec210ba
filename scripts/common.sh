# shellcheck shell=bash
# Shared steps for scripts/demo.sh and scripts/test.sh: install the Debian
# packages, build and install the extension, and run a throwaway
# PostgreSQL 15 cluster.  Source this file: it only defines functions.
#
# Environment:
#   JWT_PG_PORT  port of the throwaway cluster (default 54329).  The
#                cluster listens on a unix socket in a private directory
#                only, so the port cannot clash with another cluster.

REPO_ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"

PG_VERSION=15
REQUIRED_PACKAGES=(
    "postgresql-$PG_VERSION"
    "postgresql-server-dev-$PG_VERSION"
    postgresql-contrib
    build-essential
    libssl-dev
    python3-jwt
    python3-psycopg2
    python3-cryptography
    clang-14
    libclang-rt-14-dev
    postgresql-15-cron
)

# sun_path is 108 bytes long, NUL included, so socket paths must be shorter.
# 100 leaves a margin.
MAX_SOCKET_PATH_BYTES=100

# Set by start_cluster, cleared by stop_cluster.
CLUSTER_DIR=""
CLUSTER_DIR_IS_TEMPORARY=false

log() {
    printf '==> %s\n' "$*"
}

die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

is_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

# Installs the missing packages.  apt-get runs only when something is
# missing, so that a second run on the same machine starts at once.
ensure_packages() {
    local missing=() package
    for package in "${REQUIRED_PACKAGES[@]}"; do
        is_installed "$package" || missing+=("$package")
    done
    if ((${#missing[@]} == 0)); then
        log "packages: all installed"
        return 0
    fi
    ((EUID == 0)) || die "missing packages: ${missing[*]}. Run as root, or install them with apt-get."

    log "installing packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# Prints the pg_config of PostgreSQL 15: Debian's versioned one first,
# because /usr/bin/pg_config may belong to another major version.
find_pg_config() {
    local versioned="/usr/lib/postgresql/$PG_VERSION/bin/pg_config"
    if [[ -x $versioned ]]; then
        printf '%s\n' "$versioned"
    elif command -v pg_config >/dev/null; then
        command -v pg_config
    else
        die "pg_config not found. Install postgresql-server-dev-$PG_VERSION."
    fi
}

build_and_install() {
    PG_CONFIG="$(find_pg_config)"
    export PG_CONFIG
    PG_BINDIR="$("$PG_CONFIG" --bindir)"

    log "building the extension with $PG_CONFIG"
    make -C "$REPO_ROOT" -j "$(nproc)" PG_CONFIG="$PG_CONFIG"

    log "installing the extension into $("$PG_CONFIG" --sharedir)/extension"
    make -C "$REPO_ROOT" install PG_CONFIG="$PG_CONFIG"
}

# Runs a command as the cluster's OS user: initdb refuses to run as root,
# so root hands the cluster to "postgres".  From / because the current
# directory may be one that user cannot enter.
as_cluster_owner() {
    if ((EUID == 0)); then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && "$@")
    fi
}

# Prepares DIR, created if needed, as the cluster's directory.  Returns
# non-zero when the socket path is too long or the owner cannot write there.
try_cluster_dir() {
    local dir="$1" port="$2"
    local socket_path="$dir/.s.PGSQL.$port"

    ((${#socket_path} <= MAX_SOCKET_PATH_BYTES)) || return 1
    mkdir -p "$dir" || return 1
    if ((EUID == 0)); then
        chown postgres: "$dir" || return 1
    fi
    as_cluster_owner test -w "$dir" -a -x "$dir"
}

# Stops a server left running in DIR by an earlier run that was killed
# before its trap could stop it.
stop_stale_server() {
    local data_dir="$1/data"
    [[ -f $data_dir/postmaster.pid ]] || return 0
    log "stopping a server left over from an earlier run in $data_dir"
    as_cluster_owner "$PG_BINDIR/pg_ctl" -D "$data_dir" -m immediate -w stop >/dev/null 2>&1 || true
}

# Picks the cluster directory: <checkout>/.cluster when the postgres user
# can reach it, else a new private directory under /tmp.
choose_cluster_dir() {
    local port="$1"
    if try_cluster_dir "$REPO_ROOT/.cluster" "$port" 2>/dev/null; then
        CLUSTER_DIR="$REPO_ROOT/.cluster"
        CLUSTER_DIR_IS_TEMPORARY=false
        stop_stale_server "$CLUSTER_DIR"
    else
        CLUSTER_DIR="$(mktemp -d /tmp/jwt_pg.XXXXXX)"
        CLUSTER_DIR_IS_TEMPORARY=true
        try_cluster_dir "$CLUSTER_DIR" "$port" \
            || die "the cluster owner cannot use $CLUSTER_DIR"
    fi
}

# Quotes a value for postgresql.conf: single quotes, with ' doubled.
conf_quote() {
    printf "'%s'" "${1//\'/\'\'}"
}

# Creates and starts a throwaway cluster, exports PGHOST, PGPORT, PGUSER,
# PGDATABASE and JWT_PG_SERVER_LOG for the rest of the script, and installs
# an EXIT trap that stops the cluster however the script ends.
#
# Arguments NAME=VALUE go into the server's environment (LD_PRELOAD of a
# sanitizer runtime, say).  EXTRA_SERVER_SETTINGS, if set, contains more
# postgresql.conf lines.
start_cluster() {
    local port="${JWT_PG_PORT:-54329}"
    [[ -n ${PG_BINDIR:-} ]] || PG_BINDIR="$("$(find_pg_config)" --bindir)"

    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap on_exit_stop_cluster EXIT
    choose_cluster_dir "$port"

    local data_dir="$CLUSTER_DIR/data"
    log "creating a throwaway cluster in $data_dir"
    rm -rf "$data_dir"
    as_cluster_owner "$PG_BINDIR/initdb" -D "$data_dir" -U postgres \
        -A trust -E UTF8 --locale=C.UTF-8 >"$CLUSTER_DIR/initdb.log" 2>&1 \
        || { cat "$CLUSTER_DIR/initdb.log" >&2; die "initdb failed"; }

    # Unix socket only.  The refresh worker of jwt_refresh is a dynamic
    # background worker, so leave room for it beside the parallel workers.
    # fsync is off because the cluster is thrown away.
    cat >>"$data_dir/postgresql.conf" <<EOF

# Added by scripts/common.sh for a throwaway test cluster.
listen_addresses = ''
port = $port
unix_socket_directories = $(conf_quote "$CLUSTER_DIR")
max_worker_processes = 16
fsync = off
${EXTRA_SERVER_SETTINGS:-}
EOF

    log "starting the cluster (socket $CLUSTER_DIR, port $port)"
    rm -f "$CLUSTER_DIR/server.log"
    if ! as_cluster_owner env "$@" "$PG_BINDIR/pg_ctl" -D "$data_dir" -l "$CLUSTER_DIR/server.log" \
        -w -t 60 start >/dev/null; then
        cat "$CLUSTER_DIR/server.log" >&2 || true
        die "the cluster did not start"
    fi

    export PGHOST="$CLUSTER_DIR" PGPORT="$port" PGUSER=postgres PGDATABASE=postgres
    export JWT_PG_SERVER_LOG="$CLUSTER_DIR/server.log"
}

# Stops the cluster and removes its data directory.  The server log is kept
# in <checkout>/.cluster/server.log.  Safe to call more than once.
stop_cluster() {
    [[ -n $CLUSTER_DIR ]] || return 0
    local data_dir="$CLUSTER_DIR/data"

    if [[ -f $data_dir/postmaster.pid ]]; then
        log "stopping the cluster"
        as_cluster_owner "$PG_BINDIR/pg_ctl" -D "$data_dir" -m fast -w -t 60 stop >/dev/null \
            || as_cluster_owner "$PG_BINDIR/pg_ctl" -D "$data_dir" -m immediate -w stop >/dev/null \
            || printf 'warning: could not stop the server in %s\n' "$data_dir" >&2
    fi
    rm -rf "$data_dir"

    if $CLUSTER_DIR_IS_TEMPORARY; then
        if [[ -f $CLUSTER_DIR/server.log ]]; then
            mkdir -p "$REPO_ROOT/.cluster" || true
            cp "$CLUSTER_DIR/server.log" "$REPO_ROOT/.cluster/server.log" || true
        fi
        rm -rf "$CLUSTER_DIR"
    fi
    CLUSTER_DIR=""
}

# Keeps the script's exit status: a failing command in an EXIT trap would
# otherwise replace it.
on_exit_stop_cluster() {
    local status=$?
    stop_cluster || true
    exit "$status"
}
