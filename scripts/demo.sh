#!/usr/bin/env bash
# Walks the whole token life cycle of jwt_pg on a throwaway PostgreSQL 15
# cluster: login, a request under row-level security, expiry, refresh,
# refresh token reuse, logout and signing key rotation, with ES256 keys from
# the key store (examples/demo.sql).  Then PyJWT verifies a token that the
# extension signed, with the public key that jwt_jwks() publishes.
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

# Verifies a token that the extension signed, using PyJWT (Debian's
# python3-jwt) and the JWK Set of jwt_jwks().  The token's kid selects the
# key, and PyJWT checks the ES256 signature and the exp claim.
verify_with_pyjwt() {
    log "j. PyJWT verifies a token that jwt_pg signed, with the key from jwt_jwks()"

    local token expired_token jwks user_id
    token="$(query "SELECT access_token FROM login('alice@example.com', 'alice-password')")"
    expired_token="$(query "SELECT jwt_create(jsonb_build_object('sub', 'expired',
        'exp', extract(epoch FROM now() - interval '1 hour')::bigint), algorithm => 'ES256')")"
    jwks="$(query "SELECT jwt_jwks()")"
    user_id="$(query "SELECT id FROM users WHERE email = 'alice@example.com'")"
    [[ -n $token ]] || die "login() returned no token for alice@example.com"
    printf 'token: %s\n' "$token"
    printf 'JWK Set: %s\n' "$jwks"

    # The values go through the environment, not into the Python source.
    JWT_TOKEN="$token" JWT_EXPIRED_TOKEN="$expired_token" JWT_JWKS="$jwks" \
        EXPECTED_SUB="$user_id" "$PYTHON" -c '
import base64
import json
import os
import jwt

token = os.environ["JWT_TOKEN"]
kid = jwt.get_unverified_header(token)["kid"]
try:
    key = jwt.PyJWKSet.from_json(os.environ["JWT_JWKS"])[kid]
except KeyError:
    raise SystemExit("the JWK Set of jwt_jwks() has no key with kid %s, which the token names" % kid)
print("PyJWT", jwt.__version__, "selected the", key.key_type, "key with kid", kid)

claims = jwt.decode(token, key.key, algorithms=["ES256"], options={"require": ["exp"]})
print("PyJWT decoded:", claims)
if claims["sub"] != os.environ["EXPECTED_SUB"] or claims["role"] != "admin":
    raise SystemExit("unexpected claims: expected sub %s and role admin" % os.environ["EXPECTED_SUB"])

# The same signature over claims with another role must not verify.
header, _, signature = token.split(".")
forged_claims = json.dumps(dict(claims, role="member")).encode()
forged_payload = base64.urlsafe_b64encode(forged_claims).rstrip(b"=").decode()
try:
    jwt.decode(".".join([header, forged_payload, signature]), key.key, algorithms=["ES256"])
except jwt.InvalidSignatureError as error:
    print("rejected as expected: a token with changed claims:", error)
else:
    raise SystemExit("PyJWT accepted a token whose claims were changed after signing")

try:
    jwt.decode(os.environ["JWT_EXPIRED_TOKEN"], key.key, algorithms=["ES256"])
except jwt.ExpiredSignatureError as error:
    print("rejected as expected: a token whose exp has passed:", error)
else:
    raise SystemExit("PyJWT accepted a token whose exp has passed")
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
