#!/usr/bin/env bash
# Runs every test suite of jwt_pg against a throwaway PostgreSQL 15 cluster:
# the pg_regress tests, the isolation tests and each test/*.py script.
# Works as root on a fresh Debian 12 machine: it installs what it needs.
#
# The last line of output is "N passed, N failed", counting suites.  The
# exit status is non-zero when any suite failed.
#
# Environment:
#   JWT_PG_SUITE_TIMEOUT  seconds one suite may run before it counts as
#                         failed (default 900)
set -euo pipefail

# shellcheck source=scripts/common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"

PYTHON=/usr/bin/python3
SUITE_TIMEOUT="${JWT_PG_SUITE_TIMEOUT:-900}"

# One "PASS name" or "FAIL name" line per suite, in the order they ran.
SUITE_RESULTS=()
FAILED_COUNT=0

# Runs one suite, records its result and returns its exit status.  Callers
# carry on after a failure, so that the summary is complete.
run_suite() {
    local name="$1"
    shift
    log "suite: $name"
    if timeout --kill-after=30 "$SUITE_TIMEOUT" "$@"; then
        SUITE_RESULTS+=("PASS  $name")
        return 0
    else
        local status=$?
        if ((status == 124)); then
            printf 'suite %s timed out after %ss\n' "$name" "$SUITE_TIMEOUT"
        fi
        printf 'suite %s FAILED (exit status %d)\n' "$name" "$status"
        SUITE_RESULTS+=("FAIL  $name")
        FAILED_COUNT=$((FAILED_COUNT + 1))
        return "$status"
    fi
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
        [[ $(basename -- "$file") == _* ]] || files+=("$file")
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

print_summary() {
    local total=${#SUITE_RESULTS[@]}
    log "summary"
    if ((total > 0)); then
        printf '%s\n' "${SUITE_RESULTS[@]}"
    fi
    printf '%d passed, %d failed\n' "$((total - FAILED_COUNT))" "$FAILED_COUNT"
}

main() {
    ensure_packages
    build_and_install
    start_cluster

    # The suites run from the checkout so that relative paths in them work.
    cd "$REPO_ROOT"
    run_sql_suites
    run_python_suites

    # Stopped here, not by the EXIT trap, so that the summary stays last.
    stop_cluster
    print_summary
    ((FAILED_COUNT == 0))
}

main "$@"
