--
-- Privileges: verification works for everyone, state changes only for
-- roles granted them, and the tables stay hidden.
--

CREATE ROLE regress_jwt_app;
CREATE ROLE regress_jwt_auth;
GRANT USAGE ON SCHEMA public TO regress_jwt_app, regress_jwt_auth;
GRANT EXECUTE ON FUNCTION s32() TO regress_jwt_app, regress_jwt_auth;
GRANT EXECUTE ON FUNCTION jwt_refresh_generate(text, interval, jsonb),
                          jwt_refresh(text, text, text, interval),
                          jwt_blacklist(text, text),
                          jwt_purge()
   TO regress_jwt_auth;

SELECT p.oid::regprocedure AS function, p.prosecdef, p.proconfig,
       has_function_privilege('regress_jwt_app', p.oid, 'EXECUTE') AS app_may_run
  FROM pg_proc p WHERE p.proname LIKE 'jw%' ORDER BY 1::text;

CREATE TABLE shared_token AS SELECT jwt_create('{"sub":"alice","jti":"priv-1"}', s32()) AS t;
GRANT SELECT ON shared_token TO regress_jwt_app, regress_jwt_auth;

SET ROLE regress_jwt_app;
SELECT jwt_verify(t, s32()) ->> 'sub' AS sub FROM shared_token;
SELECT jwt_create('{"iat":1,"jti":"a"}', s32()) IS NOT NULL AS may_sign;
-- should fail: no access to the state or to the functions that change it
SELECT count(*) FROM jwt_pg.blacklist;
SELECT count(*) FROM jwt_pg.refresh_tokens;
SELECT jwt_blacklist(t) FROM shared_token;
SELECT jwt_refresh_generate('alice');
SELECT jwt_purge();
RESET ROLE;

SET ROLE regress_jwt_auth;
SELECT jwt_blacklist(t, 'revoked by the auth role') FROM shared_token;
SELECT jwt_refresh_generate('alice') IS NOT NULL AS may_generate;
SELECT jwt_refresh_generate('alice') AS generated \gset
SELECT jwt_refresh_validate(:'generated') AS generated_valid;
-- should fail: still no direct access to the tables
SELECT count(*) FROM jwt_pg.refresh_families;
RESET ROLE;

-- The blacklist applies to a role without any privilege on it.
SET ROLE regress_jwt_app;
-- should fail: revoked
SELECT jwt_verify(t, s32()) FROM shared_token;
SELECT jwt_valid(t, s32()) FROM shared_token;
RESET ROLE;

-- A search_path set by the caller cannot redirect the SECURITY DEFINER
-- functions: they name their tables with the schema and pin search_path.
CREATE SCHEMA regress_evil;
CREATE TABLE regress_evil.blacklist (jti text);
SET search_path = regress_evil, public;
SELECT jwt_blacklist(jwt_create('{"jti":"priv-2"}', s32()));
RESET search_path;
SELECT count(*) AS evil_rows FROM regress_evil.blacklist;
SELECT jti FROM jwt_pg.blacklist ORDER BY jti;

DROP SCHEMA regress_evil CASCADE;
DROP TABLE shared_token;
TRUNCATE jwt_pg.blacklist;
TRUNCATE jwt_pg.refresh_families CASCADE;
REVOKE ALL ON FUNCTION s32() FROM regress_jwt_app, regress_jwt_auth;
REVOKE ALL ON SCHEMA public FROM regress_jwt_app, regress_jwt_auth;
DROP OWNED BY regress_jwt_app, regress_jwt_auth;
DROP ROLE regress_jwt_app, regress_jwt_auth;
