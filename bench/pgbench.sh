# shellcheck shell=bash
# The pgbench phase of bench/run.sh: refresh-token rotations per second
# with 1, 2 and 8 clients, and jwt_verify calls per second with the
# blacklist and the subject cutoffs empty and with 100,000 rows in each.
# Source this file from bench/run.sh after scripts/common.sh and call
# run_pgbench_benchmark once the cluster is up.  It only defines functions.
#
# Environment:
#   BENCH_PGBENCH_SECONDS  length of each pgbench run in seconds (default 10)
#   BENCH_PGBENCH_ROUNDS   times each pgbench run is repeated; the median
#                          counts (default 5)
#   BENCH_VERIFY_CLIENTS   pgbench clients of the jwt_verify runs (default 1)

PGBENCH_SECONDS="${BENCH_PGBENCH_SECONDS:-10}"
PGBENCH_ROUNDS="${BENCH_PGBENCH_ROUNDS:-5}"
VERIFY_CLIENTS="${BENCH_VERIFY_CLIENTS:-1}"
REFRESH_CLIENT_COUNTS=(1 2 8)
# Rows in each of jwt_pg.blacklist and jwt_pg.subject_cutoffs.
REVOKED_ROWS=100000
# jwt_refresh signs HS256 only with a secret of at least 32 bytes.
PGBENCH_SECRET=0123456789abcdef0123456789abcdef

# Set by run_pgbench_benchmark.
PGBENCH_RESULTS=""

# Runs pgbench on SCRIPT (a file in bench/) for PGBENCH_SECONDS and prints
# "TRANSACTIONS PER_SECOND".  FLAG names the script's first-transaction
# variable, which starts at 0.  pgbench exits with status 2 when a client
# aborts on an error, such as a rejected token.
pgbench_rates() {
    local script="$1" database="$2" clients="$3" flag="$4"
    local cores threads output
    cores="$(nproc)"
    threads=$((clients < cores ? clients : cores))
    output="$("$PG_BINDIR/pgbench" -n -M prepared -T "$PGBENCH_SECONDS" \
        -c "$clients" -j "$threads" -D secret="$PGBENCH_SECRET" -D "$flag=0" \
        -f "$REPO_ROOT/bench/$script" "$database" 2>&1)" \
        || die "pgbench $script with $(count_noun "$clients" client) failed: $output"

    # With -T, pgbench prints "number of transactions actually processed: N".
    awk '/^number of transactions actually processed:/ { split($6, count, "/"); transactions = count[1] }
         /^tps = / { per_second = $3 }
         END { if (transactions == "" || per_second == "") exit 1; print transactions, per_second }' \
        <<<"$output" || die "pgbench $script printed no transaction count or tps: $output"
}

record_pgbench_run() {
    local round="$1" benchmark="$2" clients="$3" revoked_rows="$4" transactions="$5" per_second="$6"
    psql -X -q -v ON_ERROR_STOP=1 -d bench_pgbench -v round="$round" -v benchmark="$benchmark" \
        -v clients="$clients" -v revoked_rows="$revoked_rows" \
        -v transactions="$transactions" -v per_second="$per_second" <<'SQL'
INSERT INTO bench.pgbench_runs
VALUES (:round, :'benchmark', :clients, :revoked_rows, :transactions, :per_second);
SQL
}

# Stops the script unless the run left one unrevoked session per client and
# as many stored rotations as pgbench counted transactions.  A rotation still
# in flight when the time is up may commit without pgbench counting it, so
# each client may have one rotation more.
check_rotations() {
    local clients="$1" transactions="$2" counts sessions revoked rotations
    counts="$(psql -X -A -t -q -v ON_ERROR_STOP=1 -d bench_refresh -F ' ' -c \
        'SELECT count(*), count(revoked_at), coalesce(sum(rotations), 0) FROM jwt_pg.sessions')"
    read -r sessions revoked rotations <<<"$counts"
    ((sessions == clients && revoked == 0)) \
        || die "expected $clients unrevoked sessions after the rotation run, found $sessions with $revoked revoked. See $JWT_PG_SERVER_LOG."
    ((rotations >= transactions && rotations <= transactions + clients)) \
        || die "pgbench counted $transactions rotations, but jwt_pg.sessions counts $rotations (expected at most one more per client)"
}

run_refresh_clients() {
    local round="$1" clients="$2" rates transactions per_second
    rates="$(pgbench_rates pgbench_refresh.sql bench_refresh "$clients" session_started)"
    read -r transactions per_second <<<"$rates"
    check_rotations "$clients" "$transactions"

    # Emptied after the run rather than before the next one, so that
    # autovacuum has no dead rows of this run to clean up during the next.
    psql -X -q -v ON_ERROR_STOP=1 -d bench_refresh \
        -c 'TRUNCATE jwt_pg.refresh_tokens, jwt_pg.refresh_families'
    record_pgbench_run "$round" jwt_refresh "$clients" 0 "$transactions" "$per_second"
    log "  jwt_refresh with $(count_noun "$clients" client): $per_second rotations/s"
}

run_verify_rows() {
    local round="$1" revoked_rows="$2" database rates transactions per_second
    database=bench_verify_empty
    ((revoked_rows == 0)) || database=bench_verify_filled
    rates="$(pgbench_rates pgbench_verify.sql "$database" "$VERIFY_CLIENTS" token_created)"
    read -r transactions per_second <<<"$rates"
    record_pgbench_run "$round" jwt_verify "$VERIFY_CLIENTS" "$revoked_rows" "$transactions" "$per_second"
    log "  jwt_verify with $revoked_rows rows in each revocation table: $per_second calls/s"
}

# Sets PGBENCH_RESULTS to the results as a Markdown table.  It is not called
# in a command substitution, where bash would ignore set -e.
run_pgbench_benchmark() {
    psql -X -q -v ON_ERROR_STOP=1 -d postgres -v revoked_rows="$REVOKED_ROWS" \
        -f "$REPO_ROOT/bench/pgbench_setup.sql"

    # Each run is "refresh CLIENTS" or "verify REVOKED_ROWS".
    local runs=() clients
    for clients in "${REFRESH_CLIENT_COUNTS[@]}"; do
        runs+=("refresh $clients")
    done
    runs+=("verify 0" "verify $REVOKED_ROWS")

    # Each round starts one run further down the list, and even rounds go
    # through it backwards, so that no run always comes first or always
    # follows the same run.
    local count=${#runs[@]} round offset index position kind argument
    for ((round = 1; round <= PGBENCH_ROUNDS; round++)); do
        log "pgbench round $round of $PGBENCH_ROUNDS"
        offset=$(((round - 1) % count))
        for ((index = 0; index < count; index++)); do
            position=$(((offset + index) % count))
            ((round % 2 == 1)) || position=$((count - 1 - position))
            read -r kind argument <<<"${runs[position]}"
            case $kind in
                refresh) run_refresh_clients "$round" "$argument" ;;
                verify) run_verify_rows "$round" "$argument" ;;
            esac
        done
    done

    # shellcheck disable=SC2034 # bench/run.sh reads it.
    PGBENCH_RESULTS="$(psql -X -q -v ON_ERROR_STOP=1 -d bench_pgbench --csv \
        -f "$REPO_ROOT/bench/pgbench_report.sql" | csv_to_markdown)"
}

# Prints COUNT and NOUN, with an "s" unless COUNT is 1: "1 client", "8 clients".
count_noun() {
    local count="$1" noun="$2"
    if ((count == 1)); then
        printf '%s %s\n' "$count" "$noun"
    else
        printf '%s %ss\n' "$count" "$noun"
    fi
}

# Prints the arguments as a list in prose: "1, 2 and 8".
join_with_and() {
    local text="$1"
    shift
    while (($# > 1)); do
        text+=", $1"
        shift
    done
    if (($# == 1)); then
        text+=" and $1"
    fi
    printf '%s\n' "$text"
}

# Prints the pgbench section of docs/benchmarks.md, with RESULTS (a
# Markdown table) at its end.
pgbench_page_section() {
    local results="$1" pgbench_version refresh_clients verify_clients
    pgbench_version="$("$PG_BINDIR/pgbench" --version | awk '{ print $3 }')"
    refresh_clients="$(join_with_and "${REFRESH_CLIENT_COUNTS[@]}")"
    verify_clients="$(count_noun "$VERIFY_CLIENTS" client)"
    cat <<SECTION
## Refresh rotations and jwt_verify under pgbench

### Method

\`bench/pgbench_setup.sql\` creates one database for the rotations and two
for \`jwt_verify\`.  In one of those, \`jwt_pg.blacklist\` and
\`jwt_pg.subject_cutoffs\` are empty.  The other has $REVOKED_ROWS rows
in each, whose jtis and subjects are not those of the verified tokens.

Each of the $PGBENCH_ROUNDS rounds runs pgbench $pgbench_version for $PGBENCH_SECONDS
seconds on each of the runs below, with \`-M prepared\` and one pgbench
thread per client, up to one per core.  Each round starts one
run further down the list than the round before, and even rounds go
through it backwards, so that no run always comes first or always follows
the same run.

- **jwt_refresh** with $refresh_clients clients
  (\`bench/pgbench_refresh.sql\`): one \`jwt_refresh(refresh_token, secret)\`
  per transaction.  It marks the presented refresh token used, stores its
  successor and signs an HS256 access token.  Each client rotates a session
  of its own and presents the refresh token that its previous rotation
  returned, so no rotation is a reuse and no two clients update the same
  rows.  The refresh tables are emptied after each run, so every run
  starts with empty tables.  After each run, bench/run.sh checks that every
  session is still valid and that \`jwt_pg.sessions\` counts as many
  rotations as pgbench counted transactions, or up to one more per client.
  The baseline is 1 client.
- **jwt_verify** with $verify_clients (\`bench/pgbench_verify.sql\`): one
  \`jwt_verify(token, secret)\` per transaction on an HS256 token with sub
  and jti claims.  Each call looks the jti up in the blacklist and the sub
  in the subject cutoffs and finds neither.  The baseline is the run with
  both tables empty.

The first transaction of each client also opens its session
(\`jwt_refresh_generate\`) or signs its token (\`jwt_create\`).

"per_s" is the median over the rounds of pgbench's tps (without the
connection time), which is rotations or \`jwt_verify\` calls per second.
"ratio" is a run's rate divided by the rate of its baseline in the same
round, and the table shows the median, lowest and highest over the rounds.

Each transaction includes a round trip over the unix socket, and pgbench
runs on the same cores as the server.  So the rates are what a client sees
that makes one call per transaction, not the cost of the function alone.
The HS256 section above measures \`jwt_verify\` without that overhead.
With more clients than cores, the backends and pgbench's threads compete
for the cores.  The cluster runs with \`fsync = off\` (scripts/common.sh),
so a commit does not wait for the disk.  With fsync on, the rotation rate
is bounded by the WAL flushes that the disk sustains.

### Results

$results
SECTION
}
