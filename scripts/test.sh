#!/usr/bin/env bash
# Runs every test suite of jwt_pg.  On a throwaway PostgreSQL 15 cluster,
# it runs the pg_regress tests, the isolation tests and each test/*.py
# script (the interop ones against PyJWT and against jose from npm), then
# searches their messages for secrets.  Then it runs the
# libFuzzer harnesses for a bounded time, and the SQL tests again with the
# extension built with AddressSanitizer and UndefinedBehaviorSanitizer.
# Works as root on a fresh Debian 12 machine: it installs what it needs.
#
# The last line of output is "N passed, N failed", counting suites.  The
# exit status is non-zero when any suite failed.
#
# Environment:
#   JWT_PG_SUITE_TIMEOUT  seconds one suite may run before it counts as
#                         failed (default 900)
#   FUZZ_SECONDS          seconds of fuzzing per harness (default 20)
set -euo pipefail

# shellcheck source=scripts/common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"

PYTHON=/usr/bin/python3
SUITE_TIMEOUT="${JWT_PG_SUITE_TIMEOUT:-900}"
FUZZ_SECONDS="${FUZZ_SECONDS:-20}"

# The messages of the whole run are searched for secrets, debug ones too.
EXTRA_SERVER_SETTINGS="log_min_messages = debug1"

# gcc's sanitizers.  The server binary is not instrumented, so the ASan
# runtime is preloaded into it, together with scripts/asan_swift_stub.c
# (its comment explains why).
SANITIZER_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"

# One "PASS name" or "FAIL name" line per suite, in the order they ran.
SUITE_RESULTS=()
FAILED_COUNT=0

# Runs one suite, records its result and returns its exit status.  Callers
# carry on after a failure, so that the summary is complete.  A command
# runs under the suite time limit; a shell function of this script runs
# in this shell, because timeout cannot run it.
run_suite() {
    local name="$1" status=0
    shift
    log "suite: $name"
    if declare -F "$1" >/dev/null; then
        "$@" || status=$?
    else
        timeout --kill-after=30 "$SUITE_TIMEOUT" "$@" || status=$?
    fi

    if ((status == 0)); then
        SUITE_RESULTS+=("PASS  $name")
        return 0
    fi
    if ((status == 124)); then
        printf 'suite %s timed out after %ss\n' "$name" "$SUITE_TIMEOUT"
    fi
    printf 'suite %s FAILED (exit status %d)\n' "$name" "$status"
    SUITE_RESULTS+=("FAIL  $name")
    FAILED_COUNT=$((FAILED_COUNT + 1))
    return "$status"
}

# Prints a variable of the Makefile, as make expands it.
makefile_variable() {
    make -s -C "$REPO_ROOT" --no-print-directory PG_CONFIG="$PG_CONFIG" \
        --eval="print-variable: ; @echo \$($1)" print-variable
}

print_file_if_present() {
    if [[ -f $1 ]]; then
        printf -- '--- %s\n' "$1"
        cat "$1"
    fi
}

# "make installcheck" runs pg_regress, then the isolation tests, and stops
# at the first that fails.  Each runs here as a suite of its own, with the
# other list emptied, so that the isolation tests run even when pg_regress
# fails.  pg_regress writes its diffs only on failure; old ones are removed
# so that they cannot be mistaken for this run's.
run_installcheck_suite() {
    local name="$1" diffs="$2"
    shift 2
    rm -f "$diffs"
    run_suite "$name" make -C "$REPO_ROOT" installcheck PG_CONFIG="$PG_CONFIG" "$@" \
        || print_file_if_present "$diffs"
}

run_sql_suites() {
    if [[ -n $(makefile_variable REGRESS) ]]; then
        run_installcheck_suite pg_regress "$REPO_ROOT/regression.diffs" ISOLATION=
    fi
    if [[ -n $(makefile_variable ISOLATION) ]]; then
        run_installcheck_suite isolation "$REPO_ROOT/output_iso/regression.diffs" REGRESS=
    fi
}

# Runs each test/*.py with Debian's python3, which has python3-jwt and
# python3-psycopg2.  Files whose name starts with "_" are helper modules,
# not tests.
run_python_suites() {
    local files=() file
    shopt -s nullglob
    for file in "$REPO_ROOT"/test/*.py; do
        case "$(basename -- "$file")" in
            _* | scan_*) ;;
            *) files+=("$file") ;;
        esac
    done
    shopt -u nullglob

    if ((${#files[@]} == 0)); then
        log "no Python tests in test/"
        return 0
    fi
    for file in "${files[@]}"; do
        run_suite "test/$(basename -- "$file")" "$PYTHON" "$file" || true
    done
}

# Searches the messages of the suites that ran for secrets; it must run
# after them, on the same cluster.
run_scan_suites() {
    local file
    for file in "$REPO_ROOT"/test/scan_*.py; do
        [[ -e $file ]] || continue
        run_suite "test/$(basename -- "$file")" "$PYTHON" "$file" || true
    done
}

run_fuzz_suite() {
    run_suite "fuzz (libFuzzer, ${FUZZ_SECONDS} s per harness)" \
        make -C "$REPO_ROOT/fuzz" smoke FUZZ_SECONDS="$FUZZ_SECONDS" || true
}

# Prints the sanitizer reports in the server log, where the runtimes write
# them (on stderr), and fails if there are any.
check_sanitizer_reports() {
    if grep -E 'AddressSanitizer|runtime error:' "$JWT_PG_SERVER_LOG"; then
        return 1
    fi
    log "no sanitizer reports"
}

# Runs the SQL suites against a build with ASan and UBSan; a report also
# stops the backend.  Leak detection is off: PostgreSQL frees memory by
# context, not by pointer, and exits without freeing.
run_sanitized_sql_suites() {
    local preload_dir
    preload_dir="$(mktemp -d /tmp/jwt_pg-asan.XXXXXX)"
    chmod 755 "$preload_dir"
    gcc -shared -fPIC -o "$preload_dir/asan_swift_stub.so" \
        "$REPO_ROOT/scripts/asan_swift_stub.c" || return 1

    log "building the extension with $SANITIZER_FLAGS"
    make -C "$REPO_ROOT" clean PG_CONFIG="$PG_CONFIG" >/dev/null || return 1
    make -C "$REPO_ROOT" -j "$(nproc)" PG_CONFIG="$PG_CONFIG" PROFILE="$SANITIZER_FLAGS" \
        >/dev/null || return 1
    make -C "$REPO_ROOT" install PG_CONFIG="$PG_CONFIG" >/dev/null || return 1

    start_cluster \
        LD_PRELOAD="$(gcc -print-file-name=libasan.so):$preload_dir/asan_swift_stub.so" \
        ASAN_OPTIONS="detect_leaks=0:abort_on_error=1" \
        UBSAN_OPTIONS="print_stacktrace=1"
    local status=0
    make -C "$REPO_ROOT" installcheck PG_CONFIG="$PG_CONFIG" || status=1
    check_sanitizer_reports || status=1
    stop_cluster
    rm -rf "$preload_dir"
    return "$status"
}

# Puts the ordinary build back in place of the sanitized one.
restore_build() {
    make -C "$REPO_ROOT" clean PG_CONFIG="$PG_CONFIG" >/dev/null
    build_and_install >/dev/null
}

print_summary() {
    local total=${#SUITE_RESULTS[@]}
    log "summary"
    if ((total > 0)); then
        printf '%s\n' "${SUITE_RESULTS[@]}"
    fi
    printf '%d passed, %d failed\n' "$((total - FAILED_COUNT))" "$FAILED_COUNT"
}

# Installs jose for test/test_interop_jose.py from test/js/package-lock.json.
# Node.js comes with the machine; Debian's nodejs is the fallback.
ensure_node_packages() {
    if ! command -v npm >/dev/null; then
        ((EUID == 0)) || die "npm is missing. Run as root, or install Node.js 20."
        log "installing packages: nodejs npm"
        apt-get update -q
        apt-get install -y -q --no-install-recommends nodejs npm
    fi
    log "npm ci in test/js"
    npm ci --prefix "$REPO_ROOT/test/js" --no-audit --no-fund --loglevel=error
}

main() {
    ensure_packages
    ensure_node_packages
    # A run stopped during the sanitized build leaves its objects behind;
    # make cannot tell them from ordinary ones.
    make -C "$REPO_ROOT" clean PG_CONFIG="$(find_pg_config)" >/dev/null
    build_and_install
    start_cluster

    # The suites run from the checkout so that relative paths in them work.
    cd "$REPO_ROOT"
    run_sql_suites
    run_python_suites
    run_scan_suites

    # Stopped here, not by the EXIT trap, so that the summary stays last.
    stop_cluster

    run_fuzz_suite
    run_suite "ASan and UBSan build (pg_regress and isolation)" \
        run_sanitized_sql_suites || true
    restore_build
    print_summary
    ((FAILED_COUNT == 0))
}

main "$@"
