-- The token life cycle of jwt_pg, step by step: log in, make a request under
-- row-level security, expiry, refresh, refresh token reuse, logout and
-- signing key rotation.  Tokens are signed with ES256 keys from the key
-- store (jwt_key_generate), and verified by the kid in their header.
--
-- scripts/demo.sh runs this file with psql on a throwaway cluster, as a
-- superuser, in a database without these objects.  Each step checks its
-- result and stops the script with an error when it differs from the one
-- expected.  Steps that should fail run with ON_ERROR_STOP off, so psql
-- prints the error, and then pg_temp.assert_error checks it.

\set ON_ERROR_STOP 1
\set QUIET on
\pset expanded auto

-- Raises an error, which stops the script, unless condition is true.
CREATE FUNCTION pg_temp.assert_true(condition boolean, description text)
RETURNS text
LANGUAGE plpgsql
AS $$
BEGIN
    IF condition IS NOT TRUE THEN
        RAISE EXCEPTION 'demo step failed: %', description;
    END IF;
    RETURN 'ok: ' || description;
END
$$;

-- Checks that the previous statement failed with expected_sqlstate and a
-- message LIKE expected_message.  Pass psql's :'ERROR',
-- :'LAST_ERROR_SQLSTATE' and :'LAST_ERROR_MESSAGE' right after it.
CREATE FUNCTION pg_temp.assert_error(failed boolean, sqlstate text, message text,
                                     expected_sqlstate text, expected_message text)
RETURNS text
LANGUAGE plpgsql
AS $$
BEGIN
    IF NOT failed THEN
        RAISE EXCEPTION 'demo step failed: the statement succeeded, expected error "%"',
            expected_message;
    END IF;
    IF sqlstate <> expected_sqlstate OR message NOT LIKE expected_message THEN
        RAISE EXCEPTION 'demo step failed: got error % "%", expected % "%"',
            sqlstate, message, expected_sqlstate, expected_message;
    END IF;
    RETURN 'rejected as expected: ' || message;
END
$$;

-- From here on psql prints each statement before its result.
\set QUIET off
\set ECHO queries

\echo
\echo '== a. Install pgcrypto (password hashes) and jwt_pg'
CREATE EXTENSION pgcrypto;
CREATE EXTENSION jwt_pg;


\echo
\echo '== b. Users, with bcrypt password hashes'
CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    role text NOT NULL
);
INSERT INTO users (email, password_hash, role) VALUES
    ('alice@example.com', crypt('alice-password', gen_salt('bf')), 'admin'),
    ('bob@example.com', crypt('bob-password', gen_salt('bf')), 'member');
SELECT id, email, left(password_hash, 7) || '...' AS password_hash, role FROM users ORDER BY id;

SELECT id AS alice_id FROM users WHERE email = 'alice@example.com' \gset
SELECT id AS bob_id FROM users WHERE email = 'bob@example.com' \gset


\echo
\echo '== c. A signing key in the key store and a login() function'
-- The private key stays in table jwt_pg.keys, which only superusers and
-- the extension's owner can read.  jwt_key_generate returns the key's kid,
-- its RFC 7638 thumbprint, which every token it signs carries in its header.
SELECT jwt_key_generate('ES256') AS first_kid \gset
\echo 'First signing key, kid:' :first_kid

-- jwt_jwks() returns the public half of every asymmetric key that is not
-- retired, for services that verify tokens outside the database.
SELECT jsonb_pretty(jwt_jwks()) AS jwks;
SELECT pg_temp.assert_true(jwt_jwks() -> 'keys' -> 0 ->> 'kid' = :'first_kid'
                           AND jsonb_array_length(jwt_jwks() -> 'keys') = 1,
                           'the JWK Set contains the new key') AS check;
SELECT pg_temp.assert_true(NOT jsonb_path_exists(jwt_jwks(), '$.keys[*].d'),
                           'the JWK Set contains no private key member "d"') AS check;

-- Returns an access token (15 minutes) and a refresh token (30 days) when
-- the password matches, and no row otherwise.  Signing with the key store
-- requires EXECUTE on jwt_pg.sign_with_stored_keys(), which superusers, such
-- as this demo's caller, have.  For other callers, make login() SECURITY
-- DEFINER and owned by a role with that privilege.
CREATE FUNCTION login(email text, password text)
RETURNS TABLE (access_token text, refresh_token text)
LANGUAGE sql
VOLATILE
AS $$
    SELECT jwt_create(jsonb_build_object('sub', u.id::text, 'role', u.role),
                      algorithm => 'ES256', expires_in => interval '15 minutes'),
           jwt_refresh_generate(u.id::text, interval '30 days',
                                jsonb_build_object('role', u.role))
    FROM users AS u
    WHERE u.email = login.email
      AND u.password_hash = crypt(login.password, u.password_hash)
$$;

SELECT count(*) AS tokens_for_wrong_password,
       pg_temp.assert_true(count(*) = 0, 'a wrong password returns no tokens') AS check
FROM login('alice@example.com', 'wrong-password');

SELECT access_token AS alice_access_token, refresh_token AS alice_refresh_token
FROM login('alice@example.com', 'alice-password') \gset
SELECT access_token AS bob_access_token, refresh_token AS bob_refresh_token
FROM login('bob@example.com', 'bob-password') \gset

\echo 'Alice''s access token:' :alice_access_token
SELECT header, payload,
       pg_temp.assert_true(payload ->> 'sub' = :'alice_id' AND payload ->> 'role' = 'admin'
                           AND payload ? 'exp' AND payload ? 'jti',
                           'the access token carries sub, role, exp and jti') AS check
FROM jwt_decode(:'alice_access_token');
SELECT pg_temp.assert_true(header ->> 'alg' = 'ES256' AND header ->> 'kid' = :'first_kid',
                           'the header names ES256 and the first key''s kid') AS check
FROM jwt_decode(:'alice_access_token');


\echo
\echo '== d. Notes under row-level security: a request sees its user''s rows only'
-- API requests run as app_user, which is not the table owner and not a
-- superuser, so the policy applies to them.
CREATE ROLE app_user NOLOGIN;

CREATE TABLE notes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id bigint NOT NULL REFERENCES users,
    body text NOT NULL
);
INSERT INTO notes (owner_id, body) VALUES
    (:alice_id, 'alice: buy milk'),
    (:alice_id, 'alice: call the bank'),
    (:bob_id, 'bob: water the plants');
GRANT SELECT, INSERT, UPDATE, DELETE ON notes TO app_user;

-- Returns the user id ("sub") of the request's token, which the client
-- passes in the app.token setting, or NULL when there is no token.  An
-- invalid, expired or revoked token raises the error of jwt_verify.  It
-- runs as the requesting role, because any role may verify with the key
-- store.  search_path is pinned so that a request cannot put another
-- jwt_verify ahead of the extension's.
CREATE FUNCTION request_user_id()
RETURNS bigint
LANGUAGE plpgsql
STABLE
SET search_path = public, pg_temp
AS $$
DECLARE
    token text := nullif(current_setting('app.token', true), '');
BEGIN
    IF token IS NULL THEN
        RETURN NULL;
    END IF;
    RETURN (jwt_verify(token) ->> 'sub')::bigint;
END
$$;

ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
-- The owner is subject to the policy too.  Superusers and BYPASSRLS roles
-- never are.
ALTER TABLE notes FORCE ROW LEVEL SECURITY;
-- The sub-select makes the token checked once per query, not once per row.
CREATE POLICY notes_of_token_subject ON notes
    USING (owner_id = (SELECT request_user_id()))
    WITH CHECK (owner_id = (SELECT request_user_id()));

\echo '-- a request with Alice''s token'
SET ROLE app_user;
SET app.token = :'alice_access_token';
SELECT * FROM notes ORDER BY id;
SELECT pg_temp.assert_true(count(*) = 2 AND bool_and(owner_id = :alice_id),
                           'Alice''s request sees her 2 notes only')
FROM notes;

\echo '-- a request with Bob''s token'
SET app.token = :'bob_access_token';
SELECT * FROM notes ORDER BY id;
SELECT pg_temp.assert_true(count(*) = 1 AND bool_and(owner_id = :bob_id),
                           'Bob''s request sees his note only')
FROM notes;

\echo '-- a request without a token'
RESET app.token;
SELECT * FROM notes ORDER BY id;
SELECT pg_temp.assert_true(count(*) = 0, 'a request without a token sees no notes')
FROM notes;

\echo '-- app_user may verify tokens, but not sign them with the stored keys'
\set ON_ERROR_STOP 0
SELECT jwt_create(jsonb_build_object('sub', :'alice_id', 'role', 'admin'), algorithm => 'ES256');
\set ON_ERROR_STOP 1
SELECT pg_temp.assert_error(:'ERROR', :'LAST_ERROR_SQLSTATE', :'LAST_ERROR_MESSAGE',
                            '42501', 'permission denied to sign with the key store');
RESET ROLE;


\echo
\echo '== e. Expiry'
SELECT jwt_is_expired(:'alice_access_token') AS fresh_token_is_expired,
       pg_temp.assert_true(NOT jwt_is_expired(:'alice_access_token'),
                           'the fresh token is not expired') AS check;

\echo '-- a token whose exp is one hour in the past'
SELECT jwt_create(jsonb_build_object('sub', :'alice_id',
                                     'exp', extract(epoch FROM now() - interval '1 hour')::bigint),
                  algorithm => 'ES256') AS expired_token \gset
SELECT payload, jwt_is_expired(:'expired_token') AS is_expired,
       pg_temp.assert_true(jwt_is_expired(:'expired_token'),
                           'jwt_is_expired sees the past exp') AS check
FROM jwt_decode(:'expired_token');

\set ON_ERROR_STOP 0
SELECT jwt_verify(:'expired_token');
\set ON_ERROR_STOP 1
SELECT pg_temp.assert_error(:'ERROR', :'LAST_ERROR_SQLSTATE', :'LAST_ERROR_MESSAGE',
                            '28000', 'token has expired');


\echo
\echo '== f. Refresh: the refresh token is exchanged for a new pair'
SELECT * FROM jwt_refresh(:'alice_refresh_token', algorithm => 'ES256') \gset refreshed_
SELECT :'refreshed_token' AS token, :'refreshed_refresh_token' AS refresh_token;
SELECT claims AS verified_claims,
       pg_temp.assert_true(claims ->> 'sub' = :'alice_id' AND claims ->> 'role' = 'admin',
                           'the new access token keeps sub and role') AS check
FROM jwt_verify(:'refreshed_token') AS claims;

SELECT jwt_refresh_validate(:'alice_refresh_token') AS old_refresh_token_valid,
       jwt_refresh_validate(:'refreshed_refresh_token') AS new_refresh_token_valid,
       pg_temp.assert_true(NOT jwt_refresh_validate(:'alice_refresh_token')
                           AND jwt_refresh_validate(:'refreshed_refresh_token'),
                           'the old refresh token is used up and the new one is valid') AS check;


\echo
\echo '== g. Reuse of the old refresh token revokes the whole session'
\set ON_ERROR_STOP 0
SELECT * FROM jwt_refresh(:'alice_refresh_token', algorithm => 'ES256');
\set ON_ERROR_STOP 1
SELECT pg_temp.assert_error(:'ERROR', :'LAST_ERROR_SQLSTATE', :'LAST_ERROR_MESSAGE',
                            '28000', 'refresh token reuse detected');

\echo '-- the refresh token issued in step f belongs to the revoked session'
\set ON_ERROR_STOP 0
SELECT * FROM jwt_refresh(:'refreshed_refresh_token', algorithm => 'ES256');
\set ON_ERROR_STOP 1
SELECT pg_temp.assert_error(:'ERROR', :'LAST_ERROR_SQLSTATE', :'LAST_ERROR_MESSAGE',
                            '28000', '%revoked%');
SELECT jwt_refresh_validate(:'refreshed_refresh_token') AS new_refresh_token_valid,
       pg_temp.assert_true(NOT jwt_refresh_validate(:'refreshed_refresh_token'),
                           'jwt_refresh_validate rejects the revoked session''s token') AS check;


\echo
\echo '== h. Logout: Bob''s access token goes on the blacklist'
SELECT jwt_blacklist(:'bob_access_token', 'logout');

\set ON_ERROR_STOP 0
SELECT jwt_verify(:'bob_access_token');
\set ON_ERROR_STOP 1
SELECT pg_temp.assert_error(:'ERROR', :'LAST_ERROR_SQLSTATE', :'LAST_ERROR_MESSAGE',
                            '28000', 'token has been revoked');

\echo '-- a request with the revoked token fails as well'
SET ROLE app_user;
SET app.token = :'bob_access_token';
\set ON_ERROR_STOP 0
SELECT * FROM notes ORDER BY id;
\set ON_ERROR_STOP 1
SELECT pg_temp.assert_error(:'ERROR', :'LAST_ERROR_SQLSTATE', :'LAST_ERROR_MESSAGE',
                            '28000', 'token has been revoked');
RESET app.token;
RESET ROLE;


\echo
\echo '== i. Key rotation: a second key signs, the first one verifies, then retires'
-- The newest active key of an algorithm signs.  A verify_only key still
-- verifies the tokens it signed, so keep it until they have expired, which
-- takes 15 minutes for the access tokens of this demo.
SELECT jwt_key_generate('ES256') AS second_kid \gset
SELECT jwt_key_set_state(:'first_kid', 'verify_only');
SELECT kid, alg, state FROM jwt_pg.keys ORDER BY created_at;

SELECT claims ->> 'sub' AS verified_sub,
       pg_temp.assert_true(claims ->> 'sub' = :'alice_id',
                           'a token signed with the first key still verifies') AS check
FROM jwt_verify(:'alice_access_token') AS claims;

SELECT access_token AS rotated_access_token
FROM login('alice@example.com', 'alice-password') \gset
SELECT header,
       pg_temp.assert_true(header ->> 'kid' = :'second_kid',
                           'a new token carries the second key''s kid') AS check
FROM jwt_decode(:'rotated_access_token');
SELECT pg_temp.assert_true(jwt_valid(:'rotated_access_token'),
                           'the new token verifies') AS check;

\echo '-- the JWK Set publishes both keys while the first one is verify_only'
SELECT jsonb_path_query_array(jwt_jwks(), '$.keys[*].kid') AS jwks_kids,
       pg_temp.assert_true(jwt_jwks() @> jsonb_build_object('keys', jsonb_build_array(
                               jsonb_build_object('kid', :'first_kid'),
                               jsonb_build_object('kid', :'second_kid'))),
                           'the JWK Set contains both keys') AS check;

\echo '-- the first key retires, and its tokens are rejected (in production, retire it once they have expired)'
SELECT jwt_key_set_state(:'first_kid', 'retired');
\set ON_ERROR_STOP 0
SELECT jwt_verify(:'alice_access_token');
\set ON_ERROR_STOP 1
SELECT pg_temp.assert_error(:'ERROR', :'LAST_ERROR_SQLSTATE', :'LAST_ERROR_MESSAGE',
                            '28000', 'token key not found');

SELECT jsonb_path_query_array(jwt_jwks(), '$.keys[*].kid') AS jwks_kids,
       pg_temp.assert_true(jsonb_path_query_array(jwt_jwks(), '$.keys[*].kid')
                           = jsonb_build_array(:'second_kid'),
                           'the JWK Set contains the second key only') AS check;
SELECT pg_temp.assert_true(jwt_valid(:'rotated_access_token'),
                           'the token of the second key still verifies') AS check;

\echo
\echo 'demo.sql: every step behaved as expected'
