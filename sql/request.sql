--
-- The current request's claims: jwt_session_set, PostgREST's
-- request.headers and request.cookies, and settings that must not be able
-- to impersonate; cookies for responses.
--

SELECT jwt_key_generate('ES256', 'request-key') AS kid;
SET jwt_pg.default_algorithm = 'ES256';
CREATE TABLE request_tokens AS
SELECT 'alice' AS name, jwt_create('{"sub":"alice","role":"reader","tenant":7}', expires_in => '1 hour') AS token
UNION ALL
SELECT 'bob', jwt_create('{"sub":"bob","role":"writer"}', expires_in => '1 hour')
UNION ALL
SELECT 'expired', jwt_create(jsonb_build_object('sub', 'old', 'exp', extract(epoch FROM now())::bigint - 60));

-- No token anywhere: NULL.
SELECT jwt_claims() IS NULL AS no_claims, jwt_claim('sub') IS NULL AS no_sub, jwt_role() IS NULL AS no_role;

-- The bearer token of PostgREST's request.headers; names and the scheme
-- are case-insensitive.
SELECT set_config('request.headers', json_build_object('authorization', 'Bearer ' || token)::text, false)
  FROM request_tokens WHERE name = 'alice' \gset
SELECT jwt_claim('sub') AS sub, jwt_role() AS role, jwt_claim('tenant') AS tenant,
       jwt_claim('missing') IS NULL AS missing, jwt_claims() ->> 'sub' AS from_claims;
SELECT set_config('request.headers', json_build_object('Authorization', 'bearer   ' || token || ' ')::text, false)
  FROM request_tokens WHERE name = 'bob' \gset
SELECT jwt_claim('sub') AS sub, jwt_role() AS role;
-- Another scheme is no bearer token.
SELECT set_config('request.headers', '{"authorization":"Basic YWxpY2U6c2VjcmV0"}', false) \gset
SELECT jwt_claims() IS NULL AS no_claims;
-- should fail: a bad or expired token is an error, not NULL
SELECT set_config('request.headers', '{"authorization":"Bearer not.a.token"}', false) \gset
SELECT jwt_claims();
SELECT set_config('request.headers', json_build_object('authorization', 'Bearer ' || token)::text, false)
  FROM request_tokens WHERE name = 'expired' \gset
\set VERBOSITY terse
SELECT jwt_claim('sub');
\set VERBOSITY default
SELECT set_config('request.headers', '[1,2]', false) \gset
SELECT jwt_claims();
RESET request.headers;

-- The cookie named by jwt_pg.cookie_name.
SELECT set_config('request.cookies', json_build_object('access_token', token)::text, false)
  FROM request_tokens WHERE name = 'alice' \gset
SELECT jwt_claim('sub') AS from_cookie;
SET jwt_pg.cookie_name = 'jwt';
SELECT jwt_claims() IS NULL AS other_cookie_name;
RESET jwt_pg.cookie_name;
RESET request.cookies;

-- request.jwt.claims, which any session can set, counts only when a
-- superuser trusts it.
SET request.jwt.claims = '{"sub":"admin","role":"admin"}';
SELECT jwt_claims() IS NULL AS untrusted, jwt_role() IS NULL AS no_role;
SET jwt_pg.trust_request_claims = on;
SELECT jwt_claim('sub') AS trusted_sub, jwt_role() AS trusted_role;
RESET jwt_pg.trust_request_claims;
RESET request.jwt.claims;

-- jwt_session_set: for the transaction by default, for the session when
-- local is false; it wins over the headers.
BEGIN;
SELECT jwt_session_set(token) ->> 'sub' AS set_sub FROM request_tokens WHERE name = 'alice';
SELECT set_config('request.headers', json_build_object('authorization', 'Bearer ' || token)::text, true)
  FROM request_tokens WHERE name = 'bob' \gset
SELECT jwt_claim('sub') AS in_transaction;
COMMIT;
SELECT jwt_claims() IS NULL AS after_commit;
SELECT jwt_session_set(token, false) ->> 'sub' AS set_sub FROM request_tokens WHERE name = 'bob';
SELECT jwt_claim('sub') AS in_session;
SELECT jwt_session_set(NULL, false) IS NULL AS cleared, jwt_claims() IS NULL AS no_claims;
-- should fail: the token is verified first, and nothing is set
\set VERBOSITY terse
SELECT jwt_session_set(token) FROM request_tokens WHERE name = 'expired';
\set VERBOSITY default
SELECT jwt_claims() IS NULL AS still_none;

-- A token verified earlier in the transaction is still checked for
-- revocation.
BEGIN;
SELECT jwt_session_set(token) ->> 'sub' AS sub FROM request_tokens WHERE name = 'alice';
SELECT jwt_revoke_subject('alice');
-- should fail
\set VERBOSITY terse
SELECT jwt_claim('sub');
\set VERBOSITY default
ROLLBACK;

-- Plain SET cannot impersonate: the session token setting is for
-- superusers only.
CREATE ROLE regress_jwt_requester;
GRANT USAGE ON SCHEMA public TO regress_jwt_requester;
GRANT SELECT ON request_tokens TO regress_jwt_requester;
SET ROLE regress_jwt_requester;
-- should fail
SET jwt_pg.session_token = 'x';
SELECT set_config('jwt_pg.session_token', 'x', false);
SHOW jwt_pg.session_token;
SET jwt_pg.trust_request_claims = on;
SELECT jwt_session_set(token, false) ->> 'sub' AS as_requester FROM request_tokens WHERE name = 'bob';
SELECT jwt_claim('sub') AS as_requester;
SELECT jwt_session_set(NULL, false) IS NULL AS cleared;
RESET ROLE;
REVOKE ALL ON request_tokens FROM regress_jwt_requester;
REVOKE USAGE ON SCHEMA public FROM regress_jwt_requester;
DROP ROLE regress_jwt_requester;

-- Row-level security with owner = jwt_claim('sub'): each tenant sees its
-- rows only, and the condition can use an index.
CREATE TABLE notes (id int PRIMARY KEY, owner text NOT NULL, body text);
CREATE INDEX notes_owner_idx ON notes (owner);
INSERT INTO notes SELECT i, CASE WHEN i % 2 = 0 THEN 'alice' ELSE 'bob' END, 'note ' || i
  FROM generate_series(1, 2000) i;
ANALYZE notes;
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_notes ON notes USING (owner = jwt_claim('sub'));
CREATE ROLE regress_jwt_tenant;
GRANT SELECT ON notes TO regress_jwt_tenant;
GRANT SELECT ON request_tokens TO regress_jwt_tenant;
SELECT jwt_session_set(token, false) IS NOT NULL FROM request_tokens WHERE name = 'alice';
SET ROLE regress_jwt_tenant;
SELECT count(*) AS alice_rows, min(owner), max(owner) FROM notes;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM notes;
RESET enable_seqscan;
RESET ROLE;
SELECT jwt_session_set(token, false) IS NOT NULL FROM request_tokens WHERE name = 'bob';
SET ROLE regress_jwt_tenant;
SELECT count(*) AS bob_rows, min(owner), max(owner) FROM notes;
-- A parallel worker returns the same rows as the leader.
SET force_parallel_mode = on;
SELECT count(*) AS bob_rows_in_worker FROM notes;
RESET force_parallel_mode;
SELECT jwt_session_set(NULL, false) IS NULL AS cleared;
SELECT count(*) AS no_token_rows FROM notes;
RESET ROLE;
DROP POLICY own_notes ON notes;
REVOKE ALL ON notes, request_tokens FROM regress_jwt_tenant;
DROP ROLE regress_jwt_tenant;
DROP TABLE notes;

-- Cookies (RFC 6265), and PostgREST's response.headers.
SELECT jwt_cookie('refresh_token', 'abc-DEF_123', '30 days', '/auth') AS cookie;
SELECT jwt_cookie('r', '', '0', same_site => 'lax', secure => false, http_only => false) AS expired_cookie;
SELECT jwt_cookie('r', 'v', '1 hour', same_site => 'None') AS cross_site;
-- should fail
SELECT jwt_cookie('bad name', 'v', '1 hour');
SELECT jwt_cookie('n', 'a;b', '1 hour');
SELECT jwt_cookie('n', 'v', '-1 second');
SELECT jwt_cookie('n', 'v', '1 hour', same_site => 'None', secure => false);
SELECT jwt_cookie('n', 'v', '1 hour', same_site => 'Loose');
SELECT jwt_cookie('n', 'v', '1 hour', path => '/a;b');
SELECT jwt_cookie(NULL, 'v', '1 hour');
-- NULL options mean their defaults.
SELECT jwt_cookie('n', 'v', '1 hour', NULL, NULL, NULL, NULL) AS defaults;
BEGIN;
SELECT set_config('response.headers', '[{"Cache-Control":"no-store"}]', true) \gset
SELECT jwt_set_cookie('refresh_token', 'r1', '1 day');
SELECT jwt_set_cookie('other', 'x', '1 hour');
SELECT current_setting('response.headers')::jsonb AS headers;
COMMIT;
SELECT current_setting('response.headers', true) = '' AS reset_after_commit;
-- should fail
BEGIN;
SELECT set_config('response.headers', '{"a":1}', true) \gset
SELECT jwt_set_cookie('n', 'v', '1 hour');
ROLLBACK;

-- jwt_refresh and jwt_refresh_revoke take a NULL refresh token from the
-- cookie named by jwt_pg.refresh_cookie_name.
SELECT set_config('request.cookies', json_build_object('refresh_token', jwt_refresh_generate('carol'))::text, false) \gset
SELECT jwt_verify(token) ->> 'sub' AS rotated_for FROM jwt_refresh(NULL);
-- should fail: that cookie's token was just used
SELECT * FROM jwt_refresh(NULL);
SELECT set_config('request.cookies', json_build_object('refresh_token', jwt_refresh_generate('dan'))::text, false) \gset
SELECT jwt_refresh_revoke(NULL) AS logged_out;
RESET request.cookies;
SELECT jwt_refresh_revoke(NULL) AS no_cookie;
-- should fail
SELECT * FROM jwt_refresh(NULL);

RESET jwt_pg.default_algorithm;
DROP TABLE request_tokens;
DELETE FROM jwt_pg.keys;
DELETE FROM jwt_pg.subject_cutoffs;
DELETE FROM jwt_pg.refresh_tokens;
DELETE FROM jwt_pg.refresh_families;

-- The errors of the request functions, with their SQLSTATEs.
SELECT statement, error_of(statement) AS error
  FROM (VALUES
    ($$SELECT jwt_session_set('not.a.token')$$),
    ($$SELECT jwt_cookie(NULL, 'v', '1 hour')$$),
    ($$SELECT jwt_cookie('bad name', 'v', '1 hour')$$),
    ($$SELECT jwt_cookie('n', 'v', '1 hour', same_site => 'Loose')$$),
    ($$SELECT jwt_set_cookie('n', 'a;b', '1 hour')$$),
    ($$SELECT * FROM jwt_refresh(NULL, repeat('k', 32))$$)
  ) AS t(statement);
SELECT set_config('request.headers', '"text"', false) IS NOT NULL AS set_headers;
SELECT error_of($$SELECT jwt_claims()$$) AS claims_error,
       error_of($$SELECT jwt_claim('sub')$$) AS claim_error,
       error_of($$SELECT jwt_role()$$) AS role_error;
RESET request.headers;
SELECT set_config('request.headers', '{"authorization":"Bearer x.y.z"}', false) IS NOT NULL AS set_headers;
SELECT error_of($$SELECT jwt_claims()$$) AS bad_token_error;
RESET request.headers;
