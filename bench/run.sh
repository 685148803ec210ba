#!/usr/bin/env bash
# Measures jwt_verify and jwt_create against pgcrypto baselines on a
# throwaway cluster and writes the results to docs/benchmarks.md.
# Works as root on a fresh Debian 12 machine, like scripts/test.sh.
#
# Environment:
#   BENCH_ROWS    tokens per query (default 50000)
#   BENCH_ROUNDS  times each query runs; the median counts (default 7)
set -euo pipefail

# shellcheck source=scripts/common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../scripts/common.sh"

ROWS="${BENCH_ROWS:-50000}"
ROUNDS="${BENCH_ROUNDS:-7}"
PAGE="$REPO_ROOT/docs/benchmarks.md"

# Turns psql's CSV output into a Markdown table.
csv_to_markdown() {
    awk -F, 'NR == 1 { print "| " $0 " |"; gsub(/[^,]+/, "---"); print "| " $0 " |"; next }
             { print "| " $0 " |" }' | sed 's/,/ | /g'
}

write_page() {
    local results="$1"
    local cpu
    cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    cat >"$PAGE" <<PAGE
# Benchmarks

Written by \`bash bench/run.sh\` on $(date -u '+%Y-%m-%d'), PostgreSQL
$(psql -XAtc 'SHOW server_version'), OpenSSL $(openssl version | cut -d' ' -f2), $(nproc) cores
($cpu).

## Method

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

## Results

$results
PAGE
    log "wrote $PAGE"
}

main() {
    ensure_packages
    build_and_install
    start_cluster

    psql -X -q -c 'CREATE DATABASE bench'
    local results
    results="$(PGDATABASE=bench PGOPTIONS="-c bench.rounds=$ROUNDS" \
        psql -X -q -v ON_ERROR_STOP=1 -v rows="$ROWS" --csv \
        -f "$REPO_ROOT/bench/verify_create.sql" | csv_to_markdown)"
    printf '%s\n' "$results"
    write_page "$results"
}

main "$@"
