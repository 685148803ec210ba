#!/usr/bin/env bash
# Walks the whole token life cycle of jwt_pg on a throwaway PostgreSQL 15
# cluster: login, a request under row-level security, expiry, refresh,
# refresh token reuse and logout (examples/demo.sql), then checks with PyJWT
# that a token the extension signed is a standard JWT.
#
# Works as root on a fresh Debian 12 machine: it installs what it needs.
# Exits non-zero when any step gives another result than the one expected.
set -euo pipefail

# shellcheck source=scripts/common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"

PYTHON=/usr/bin/python3

run_demo_sql() {
    log "running examples/demo.sql"
    psql -X -v ON_ERROR_STOP=1 -f "$REPO_ROOT/examples/demo.sql"
}

# Prints the output of one SQL query, unaligned and without headers.
query() {
    psql -X -v ON_ERROR_STOP=1 -Atc "$1"
}

# Decodes a token that the extension signed with PyJWT, Debian's
# python3-jwt, which checks the HS256 signature and the exp claim.
verify_with_pyjwt() {
    log "i. PyJWT verifies a token that jwt_pg signed"

    local token secret user_id
    token="$(query "SELECT access_token FROM login('alice@example.com', 'alice-password')")"
    secret="$(query "SELECT app_jwt_secret()")"
    user_id="$(query "SELECT id FROM users WHERE email = 'alice@example.com'")"
    [[ -n $token ]] || die "login() returned no token for alice@example.com"
    printf 'token: %s\n' "$token"

    # The values go through the environment, not into the Python source.
    JWT_TOKEN="$token" JWT_SECRET="$secret" EXPECTED_SUB="$user_id" "$PYTHON" -c '
import os
import jwt

claims = jwt.decode(os.environ["JWT_TOKEN"], os.environ["JWT_SECRET"], algorithms=["HS256"])
print("PyJWT", jwt.__version__, "decoded:", claims)
if claims["sub"] != os.environ["EXPECTED_SUB"] or claims["role"] != "admin":
    raise SystemExit("unexpected claims: expected sub %s and role admin" % os.environ["EXPECTED_SUB"])
'
}

main() {
    ensure_packages
    build_and_install
    start_cluster
    run_demo_sql || die "examples/demo.sql stopped at an unexpected result; see the error above"
    verify_with_pyjwt
    log "demo finished: every step behaved as expected"
}

main "$@"
