--
-- Sessions (refresh-token families) as a DBA sees them, the reuse grace
-- interval, logout, revocation by subject and by jti, the access-token
-- lifetime limit, and what jwt_purge removes.
--

-- The sessions view: no hashes, no keys.
SELECT attname FROM pg_attribute
 WHERE attrelid = 'jwt_pg.sessions'::regclass AND attnum > 0 ORDER BY attnum;
SELECT has_table_privilege('public', 'jwt_pg.sessions', 'SELECT') AS public_may_read;

CREATE TABLE grace (name text PRIMARY KEY, refresh text);
INSERT INTO grace SELECT 'first', jwt_refresh_generate('carol', '1 day', '{"role":"writer"}');
SELECT subject, last_refreshed IS NULL AS never_refreshed, rotations, revoked_at IS NULL AS live,
       expires_at - created_at AS lifetime
  FROM jwt_pg.sessions;

-- Two tabs refresh at once: within jwt_pg.refresh_reuse_interval, the
-- rotated token yields the same successor again, with a new access token.
SET jwt_pg.refresh_reuse_interval = '30s';
INSERT INTO grace SELECT 'tab1', r.refresh_token
  FROM grace g, jwt_refresh(g.refresh, algorithm => 'HS256', secret => s32()) r WHERE g.name = 'first';
INSERT INTO grace SELECT 'tab2', r.refresh_token
  FROM grace g, jwt_refresh(g.refresh, algorithm => 'HS256', secret => s32()) r WHERE g.name = 'first';
SELECT (SELECT refresh FROM grace WHERE name = 'tab1') = (SELECT refresh FROM grace WHERE name = 'tab2') AS same_successor,
       length((SELECT refresh FROM grace WHERE name = 'tab1')) AS successor_length,
       jwt_refresh_validate((SELECT refresh FROM grace WHERE name = 'tab1')) AS successor_valid;
SELECT rotations, last_refreshed IS NOT NULL AS refreshed, revoked_at IS NULL AS live FROM jwt_pg.sessions;
-- Once the successor is rotated in turn, the first token is stale: reuse.
INSERT INTO grace SELECT 'second', r.refresh_token
  FROM grace g, jwt_refresh(g.refresh, s32()) r WHERE g.name = 'tab1';
-- should fail
SELECT * FROM jwt_refresh((SELECT refresh FROM grace WHERE name = 'first'), s32());
SELECT revoked_reason, rotations FROM jwt_pg.sessions;
-- Without the interval, the first reuse revokes the session.
RESET jwt_pg.refresh_reuse_interval;
INSERT INTO grace SELECT 'other', jwt_refresh_generate('dave');
SELECT count(*) FROM grace g, jwt_refresh(g.refresh, s32()) WHERE g.name = 'other';
-- should fail
SELECT * FROM jwt_refresh((SELECT refresh FROM grace WHERE name = 'other'), s32());
SELECT subject, revoked_reason FROM jwt_pg.sessions ORDER BY subject;
-- should fail: the interval is at most a minute
SET jwt_pg.refresh_reuse_interval = '61s';

-- Logout: true when this call revoked the session.
INSERT INTO grace SELECT 'logout', jwt_refresh_generate('erin');
SELECT jwt_refresh_revoke(refresh) AS revoked FROM grace WHERE name = 'logout';
SELECT jwt_refresh_revoke(refresh) AS revoked_again FROM grace WHERE name = 'logout';
SELECT jwt_refresh_revoke('no-such-token') AS unknown, jwt_refresh_revoke(NULL) AS null_without_cookie;
SELECT revoked_reason FROM jwt_pg.sessions WHERE subject = 'erin';
-- should fail
SELECT * FROM jwt_refresh((SELECT refresh FROM grace WHERE name = 'logout'), s32());

-- Revocation by subject: every session of the subject, and every access
-- token issued before now; other subjects are untouched.
CREATE TABLE subject_tokens AS
SELECT 'frank' AS subject, jwt_create('{"sub":"frank"}', s32(), expires_in => '1 hour') AS token,
       jwt_refresh_generate('frank') AS refresh
UNION ALL
SELECT 'grace', jwt_create('{"sub":"grace"}', s32(), expires_in => '1 hour'), jwt_refresh_generate('grace');
SELECT jwt_revoke_subject('frank', 'password changed');
SELECT subject, outcome(token, s32(), NULL, NULL), jwt_refresh_validate(refresh) AS refresh_valid
  FROM subject_tokens ORDER BY subject;
SELECT subject, revoked_reason FROM jwt_pg.sessions WHERE subject IN ('frank', 'grace') ORDER BY subject;
SELECT subject, reason FROM jwt_pg.subject_cutoffs;
-- should fail (terse: the detail names the time of the revocation)
\set VERBOSITY terse
SELECT jwt_verify(token, s32()) FROM subject_tokens WHERE subject = 'frank';
\set VERBOSITY default
-- A token of the subject without iat cannot show it came later.
SELECT outcome(forge('{"alg":"HS256"}', '{"sub":"frank"}', s32()), s32(), NULL, NULL);
-- Tokens issued in a later second than the revocation are valid again.
SELECT pg_sleep(1.1);
SELECT outcome(jwt_create('{"sub":"frank"}', s32(), expires_in => '1 hour'), s32(), NULL, NULL) AS new_token;
-- should fail
SELECT jwt_revoke_subject(NULL);

-- Blacklisting by jti alone.
SELECT jwt_blacklist_jti('leaked-id-1', now() + interval '1 hour', 'found in a log');
SELECT outcome(jwt_create('{"sub":"h","jti":"leaked-id-1"}', s32()), s32(), NULL, NULL);
SELECT jwt_blacklist_jti('leaked-id-1', now() + interval '2 hours', 'again');
SELECT reason FROM jwt_pg.blacklist WHERE jti = 'leaked-id-1';
-- Parallel workers see the blacklist and the cutoffs too.
SET force_parallel_mode = on;
SELECT outcome(jwt_create('{"sub":"h","jti":"leaked-id-1"}', s32()), s32(), NULL, NULL) AS in_worker,
       jwt_valid(token, s32()) AS cut_in_worker
  FROM subject_tokens WHERE subject = 'frank';
RESET force_parallel_mode;
-- should fail
SELECT jwt_blacklist_jti(NULL, now());

-- jwt_pg.max_access_ttl bounds the lifetime of the tokens that are signed.
SHOW jwt_pg.max_access_ttl;
SELECT jwt_create('{}', s32(), expires_in => '1 day') IS NOT NULL AS one_day_ok;
-- should fail (terse: the detail names the time of expiry)
\set VERBOSITY terse
SELECT jwt_create('{}', s32(), expires_in => '1 day 1 second');
SELECT jwt_create(jsonb_build_object('exp', extract(epoch FROM now() + interval '2 days')::bigint), s32());
SELECT * FROM jwt_refresh(jwt_refresh_generate('ivan'), s32(), expires_in => '2 days');
\set VERBOSITY default
SET jwt_pg.max_access_ttl = '3d';
SELECT jwt_create('{}', s32(), expires_in => '2 days') IS NOT NULL AS two_days_ok;
RESET jwt_pg.max_access_ttl;

-- jwt_purge removes cutoffs older than jwt_pg.max_access_ttl, which no
-- signed token can outlive.
INSERT INTO jwt_pg.subject_cutoffs (subject, revoked_before) VALUES ('old', now() - interval '2 days');
SELECT jwt_purge() >= 1 AS purged;
SELECT subject FROM jwt_pg.subject_cutoffs ORDER BY subject;

-- The new functions change state, so PUBLIC may not call them.
SELECT p.oid::regprocedure AS function, p.prosecdef, p.proconfig,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public_may_run
  FROM pg_proc p
 WHERE p.proname IN ('jwt_refresh_revoke', 'jwt_revoke_subject', 'jwt_blacklist_jti')
 ORDER BY 1::text;

DROP TABLE grace, subject_tokens;
DELETE FROM jwt_pg.blacklist;
DELETE FROM jwt_pg.subject_cutoffs;
DELETE FROM jwt_pg.refresh_tokens;
DELETE FROM jwt_pg.refresh_families;

-- The errors of the session and revocation functions, with their SQLSTATEs.
SELECT statement, error_of(statement) AS error
  FROM (VALUES
    ($$SELECT jwt_revoke_subject(NULL)$$),
    ($$SELECT jwt_blacklist_jti(NULL, now())$$),
    ($$SELECT * FROM jwt_refresh('no-such-token', repeat('k', 32))$$),
    ($$SELECT jwt_create('{}', repeat('k', 32), expires_in => '2 days')$$),
    ($$SET jwt_pg.refresh_reuse_interval = '61s'$$),
    ($$SELECT jwt_refresh_revoke('no-such-token')::text$$)
  ) AS t(statement);
