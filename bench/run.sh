#!/usr/bin/env bash
# Measures jwt_verify and jwt_create on a throwaway cluster and writes the
# results to docs/benchmarks.md: HS256 against pgcrypto baselines, and
# RS256, PS256, ES256 and EdDSA with stored keys against `openssl speed`,
# and refresh-token rotations and jwt_verify calls per second under pgbench
# (bench/pgbench.sh), and row-level security policies that call jwt_pg
# (bench/rls.sql).  Works as root on a fresh Debian 12 machine, like
# scripts/test.sh.
#
# Environment:
#   BENCH_ROWS             HS256 tokens per query (default 50000)
#   BENCH_KEY_ROWS         tokens per query for each key store algorithm;
#                          RSA signing queries use a quarter (default 4000)
#   BENCH_ROUNDS           times each query runs; the median counts (default 7)
#   BENCH_OPENSSL_SECONDS  seconds `openssl speed` spends on each of sign
#                          and verify in a round (default 1)
#   BENCH_RLS_ROWS         rows of each row-level security table (default
#                          100000)
#   BENCH_SKIP_BUILD       1 to measure the jwt_pg that is installed already,
#                          without building and installing this checkout
# and those of bench/pgbench.sh: BENCH_PGBENCH_SECONDS, BENCH_PGBENCH_ROUNDS
# and BENCH_VERIFY_CLIENTS.
set -euo pipefail

# shellcheck source=scripts/common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../scripts/common.sh"
# shellcheck source=bench/pgbench.sh
source "$REPO_ROOT/bench/pgbench.sh"

ROWS="${BENCH_ROWS:-50000}"
KEY_ROWS="${BENCH_KEY_ROWS:-4000}"
ROUNDS="${BENCH_ROUNDS:-7}"
RLS_ROWS="${BENCH_RLS_ROWS:-100000}"
OPENSSL_SECONDS="${BENCH_OPENSSL_SECONDS:-1}"
SKIP_BUILD="${BENCH_SKIP_BUILD:-0}"
PAGE="$REPO_ROOT/docs/benchmarks.md"

# The `openssl speed` tests that bench/keystore_setup.sql maps the key
# store algorithms to.
OPENSSL_PRIMITIVES=(rsa2048 ecdsap256 ed25519)

# Set by run_keystore_benchmark.
KEYSTORE_RESULTS=""

# Turns psql's CSV output into a Markdown table.
csv_to_markdown() {
    awk -F, 'NR == 1 { print "| " $0 " |"; gsub(/[^,]+/, "---"); print "| " $0 " |"; next }
             { print "| " $0 " |" }' | sed 's/,/ | /g'
}

# Prints "SIGNS_PER_SECOND VERIFIES_PER_SECOND" from one single-process
# run of `openssl speed` on PRIMITIVE.  -mr ends its output with a line
# "+F<n>:...:<sign/s>:<verify/s>".
openssl_rates() {
    local primitive="$1" output
    output="$(openssl speed -mr -seconds "$OPENSSL_SECONDS" "$primitive" 2>&1)" \
        || die "openssl speed $primitive failed: $output"
    awk -F: '/^\+F/ { print $(NF - 1), $NF; found = 1 } END { exit !found }' <<<"$output" \
        || die "openssl speed $primitive printed no +F line: $output"
}

record_openssl_round() {
    local round="$1" primitive="$2" rates signs verifies
    rates="$(openssl_rates "$primitive")"
    read -r signs verifies <<<"$rates"
    psql -X -q -v ON_ERROR_STOP=1 -v round="$round" -v primitive="$primitive" \
        -v signs="$signs" -v verifies="$verifies" <<'SQL'
INSERT INTO bench.openssl_results VALUES (:round, :'primitive', :signs, :verifies);
SQL
}

record_jwt_pg_round() {
    local round="$1" primitive="$2"
    psql -X -q -v ON_ERROR_STOP=1 -v round="$round" -v primitive="$primitive" \
        -f "$REPO_ROOT/bench/keystore_round.sql"
}

# Prints the HS256 results as a Markdown table.
run_hs256_benchmark() {
    PGDATABASE=bench PGOPTIONS="-c bench.rounds=$ROUNDS" \
        psql -X -q -v ON_ERROR_STOP=1 -v rows="$ROWS" --csv \
        -f "$REPO_ROOT/bench/verify_create.sql" | csv_to_markdown
}

# Sets KEYSTORE_RESULTS to the key store results as a Markdown table.  It
# is not called in a command substitution, where bash would ignore set -e.
run_keystore_benchmark() {
    local PGDATABASE=bench_keys
    export PGDATABASE
    psql -X -q -c 'CREATE DATABASE bench_keys' postgres
    log "signing $KEY_ROWS tokens for each key store algorithm"
    psql -X -q -v ON_ERROR_STOP=1 -v rows="$KEY_ROWS" -f "$REPO_ROOT/bench/keystore_setup.sql"

    local round primitive
    for ((round = 1; round <= ROUNDS; round++)); do
        log "key store round $round of $ROUNDS"
        for primitive in "${OPENSSL_PRIMITIVES[@]}"; do
            # Odd rounds time jwt_pg first, even rounds OpenSSL first.
            if ((round % 2 == 1)); then
                record_jwt_pg_round "$round" "$primitive"
                record_openssl_round "$round" "$primitive"
            else
                record_openssl_round "$round" "$primitive"
                record_jwt_pg_round "$round" "$primitive"
            fi
        done
    done

    KEYSTORE_RESULTS="$(psql -X -q -v ON_ERROR_STOP=1 --csv \
        -f "$REPO_ROOT/bench/keystore_report.sql" | csv_to_markdown)"
}

write_page() {
    local hs256_results="$1" keystore_results="$2" pgbench_results="$3"
    local cpu build_note=""
    cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    if [[ $SKIP_BUILD == 1 ]]; then
        build_note="
With BENCH_SKIP_BUILD=1, this run measured the jwt_pg that was installed,
which need not be a build of the checkout the page is in.
"
    fi
    cat >"$PAGE" <<PAGE
# Benchmarks

Written by \`bash bench/run.sh\` on $(date -u '+%Y-%m-%d'), PostgreSQL
$(psql -XAtc 'SHOW server_version'), OpenSSL $(openssl version | cut -d' ' -f2), $(nproc) cores
($cpu).
$build_note
## HS256 against pgcrypto

### Method

\`bench/verify_create.sql\` signs $ROWS HS256 tokens of about 200 bytes (sub,
role, email, iss, iat, exp and jti claims) into a temporary table.  It then
times each query below $ROUNDS times.  Within each round the queries run in
turn, so that load from other processes falls on all of them alike.  The
table shows the median.  Each query aggregates over all rows, so the time
includes the scan; "us per call" is the median divided by the row count.

The ratios compare queries from the same run, which is what the targets
are about; the absolute times depend on the machine and its load.

- **verify baseline**: pgcrypto's \`hmac()\` over each token's signing input
  (\`header.payload\`), the least any verifier must compute.
- **jwt_verify**: the full check (strict decoding, header, signature, claims
  and the blacklist lookup) and the claims returned as jsonb.
- **create baseline**: the same claims built with \`jsonb_build_object\`
  (jti from \`gen_random_bytes\`), base64url-encoded with \`encode()\` and
  \`translate()\`, and signed with \`hmac()\`.
- **jwt_create**: the same token from \`jwt_create(claims, secret,
  expires_in => '1 day')\`.

The second phase repeats the verify queries with 100,000 unrelated entries
in \`jwt_pg.blacklist\`.

pgjwt is not packaged for Debian 12, so it is not measured here.

Targets: \`jwt_verify\` at most 2 times its baseline with an empty blacklist
and at most 3 times with 100,000 entries; \`jwt_create\` at most 2 times its
baseline.

### Results

$hs256_results

## RS256, PS256, ES256 and EdDSA against OpenSSL

### Method

\`bench/keystore_setup.sql\` generates one key each with
\`jwt_key_generate\`: RSA 2048 bits for RS256 and for PS256, P-256 for ES256
and Ed25519 for EdDSA.  It signs $KEY_ROWS tokens with each key, with the
claims of the HS256 tokens and the key's kid in the header.

Each of the $ROUNDS rounds takes three \`openssl speed\` tests in turn:
rsa2048 for RS256 and PS256, ecdsap256 for ES256 and ed25519 for EdDSA.
For each test, \`bench/keystore_round.sql\` times the sign and the verify
query of its algorithms in a new session, and
\`openssl speed -mr -seconds $OPENSSL_SECONDS TEST\` runs in one process (no \`-multi\`).
Odd rounds run the queries first and even rounds run OpenSSL first.  Each session makes
one untimed call per algorithm before the timed queries, because the first
call loads the stored keys into the session's cache.

- **sign**: one query calls \`jwt_create(claims, algorithm => 'ES256',
  expires_in => '1 day')\` without a secret $KEY_ROWS times ($((KEY_ROWS / 4 > 0 ? KEY_ROWS / 4 : 1))
  times for RS256 and PS256).  It signs with the newest active stored key
  of the algorithm.  The time includes building the claims and the random
  jti, and the JSON and base64url encoding.
- **verify**: one query calls \`jwt_verify(token)\` without a secret on the
  $KEY_ROWS stored tokens of the algorithm.  It takes the key named by the
  header's kid and does the full check of the HS256 section.  The query
  filters \`bench.tokens\`, which holds the tokens of all four algorithms,
  so its time includes scanning $((4 * KEY_ROWS)) rows.
- **OpenSSL**: the sign/s and verify/s that \`openssl speed\` reports.  In
  OpenSSL 3.0 (\`apps/speed.c\`) these time the bare operation with a
  context prepared once.  For rsa2048 and ecdsap256 it signs and verifies
  a 36-byte and a 20-byte input taken as an already computed digest (RSA
  with PKCS #1 v1.5 padding).  For ed25519 it signs and verifies a 20-byte
  message.  So the OpenSSL figures include neither the SHA-256 of the
  signing input (RSA and ECDSA) nor the setup of an OpenSSL context for
  each call, and jwt_pg does both.
- **PS256** has no test in \`openssl speed\`, so it is compared with rsa2048.
  The RSA private-key and public-key operations are the same, but the PSS
  padding (MGF1 with SHA-256 and, when signing, a 32-byte random salt) is
  not in the OpenSSL figure.

"ratio" is jwt_pg's time per operation divided by OpenSSL's.  It is
computed in each round from the query and the \`openssl speed\` run next to
it, and the table shows the median, lowest and highest over the rounds.
The two "per_s" columns are the medians of each side's operations per
second over the rounds, and the "us" columns are their inverses.

Target: jwt_pg at most 1.25 times OpenSSL's time per operation, for
signing and for verifying.

### Results

$keystore_results

$(pgbench_page_section "$pgbench_results")

## Row-level security

\`bench/rls.sql\` builds tables of the same $RLS_ROWS rows, 1,000 per owner, and
times \`SELECT count(*), max(body)\` on each as a role under row-level
security, with a token of one owner set by \`jwt_session_set\` and in
\`request.jwt\`, in $ROUNDS interleaved rounds, without parallel workers:

- a policy \`owner = jwt_claim('sub')\` against the same policy with the
  owner as a constant (target: at most 1.3 times);
- a policy \`jwt_valid(current_setting('request.jwt'), NULL)\`, evaluated
  for each row, against the table without row-level security (target: at
  most 2 times), and beside it a policy that only reads the setting,
  \`current_setting('request.jwt') IS NOT NULL\`, for what the setting
  alone costs per row.

$RLS_RESULTS

\`jwt_valid\` verifies the token once per statement and answers the other
rows from its cache; reading the setting for each row costs more than that.
A policy that calls it once per query, \`(SELECT jwt_valid(...))\` or
\`jwt_claim\`, avoids both.
PAGE
    log "wrote $PAGE"
}

main() {
    ensure_packages
    if [[ $SKIP_BUILD == 1 ]]; then
        log "BENCH_SKIP_BUILD=1: measuring the installed jwt_pg without building it"
    else
        build_and_install
    fi
    start_cluster

    psql -X -q -c 'CREATE DATABASE bench'
    local hs256_results
    log "HS256 benchmark: $ROUNDS rounds of $ROWS tokens"
    hs256_results="$(run_hs256_benchmark)"
    printf '%s\n' "$hs256_results"

    log "key store benchmark: $ROUNDS rounds of $KEY_ROWS tokens per algorithm"
    run_keystore_benchmark
    printf '%s\n' "$KEYSTORE_RESULTS"

    log "pgbench benchmark: $PGBENCH_ROUNDS rounds of ${PGBENCH_SECONDS}-second runs"
    run_pgbench_benchmark
    printf '%s\n' "$PGBENCH_RESULTS"

    log "row-level security benchmark: $ROUNDS rounds over $RLS_ROWS rows"
    psql -X -q -c 'CREATE DATABASE bench_rls'
    RLS_RESULTS="$(psql -X -q -d bench_rls -v rows="$RLS_ROWS" -v rounds="$ROUNDS" \
        -f "$REPO_ROOT/bench/rls.sql" | sed -n '/^query,/,$p' | csv_to_markdown)"
    printf '%s\n' "$RLS_RESULTS"

    write_page "$hs256_results" "$KEYSTORE_RESULTS" "$PGBENCH_RESULTS"
}

main "$@"
