-- An API for PostgREST on jwt_pg: users with pgcrypto passwords, login,
-- refresh through an HttpOnly cookie, logout, and notes that each user
-- sees alone through row-level security.
--
-- Run as a superuser in an empty database:
--   psql -v ON_ERROR_STOP=1 -d app -f examples/postgrest/schema.sql
-- The roles are cluster-wide; the script creates them if they are missing.

CREATE EXTENSION IF NOT EXISTS jwt_pg;
CREATE EXTENSION IF NOT EXISTS pgcrypto;

-- The signing key.  PostgREST verifies access tokens with the public half,
-- from jwt_jwks(); the refresh tokens never leave the cookie.
SELECT jwt_key_generate('ES256') AS kid
 WHERE NOT EXISTS (SELECT FROM jwt_pg.keys WHERE alg = 'ES256' AND state = 'active');

-- PostgREST connects as authenticator and switches to the role that the
-- token's "role" claim names, or to web_anon without a token.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticator') THEN
        CREATE ROLE authenticator LOGIN NOINHERIT;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'web_anon') THEN
        CREATE ROLE web_anon NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'web_user') THEN
        CREATE ROLE web_user NOLOGIN;
    END IF;
END
$$;
GRANT web_anon, web_user TO authenticator;

CREATE SCHEMA api;
GRANT USAGE ON SCHEMA api TO web_anon, web_user;

-- Not in schema api, so PostgREST does not expose it.
CREATE SCHEMA private;
CREATE TABLE private.users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL UNIQUE,
    password_hash text NOT NULL
);

CREATE TABLE api.notes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner text NOT NULL DEFAULT jwt_claim('sub'),
    body text NOT NULL
);
CREATE INDEX notes_owner_idx ON api.notes (owner);
ALTER TABLE api.notes ENABLE ROW LEVEL SECURITY;
-- jwt_claim() is STABLE: it is evaluated once per query, and the
-- condition can use notes_owner_idx.
CREATE POLICY notes_owner ON api.notes USING (owner = jwt_claim('sub'));
GRANT SELECT, INSERT, UPDATE, DELETE ON api.notes TO web_user;

-- The refresh cookie is sent back only to the auth endpoints.
CREATE FUNCTION private.set_refresh_cookie(refresh_token text, max_age interval)
RETURNS void
LANGUAGE sql
AS $$ SELECT jwt_set_cookie('refresh_token', refresh_token, max_age, '/rpc') $$;

-- POST /rpc/login {"email": ..., "password": ...}: an access token in the
-- body, the refresh token in an HttpOnly cookie.  SECURITY DEFINER because
-- web_anon may neither read users nor sign with the stored keys.
CREATE FUNCTION api.login(email text, password text)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    user_id bigint;
    refresh text;
BEGIN
    SELECT u.id INTO user_id FROM private.users u
     WHERE u.email = login.email AND u.password_hash = crypt(login.password, u.password_hash);
    IF user_id IS NULL THEN
        RAISE EXCEPTION 'invalid email or password' USING ERRCODE = 'invalid_authorization_specification';
    END IF;
    refresh := jwt_refresh_generate(user_id::text, '30 days', '{"role":"web_user"}');
    PERFORM private.set_refresh_cookie(refresh, '30 days');
    RETURN json_build_object('token',
        jwt_create(json_build_object('sub', user_id::text, 'role', 'web_user')::jsonb,
                   algorithm => 'ES256', expires_in => '15 minutes'));
END
$$;

-- POST /rpc/refresh: rotates the refresh token in the cookie.
CREATE FUNCTION api.refresh()
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    access text;
    refresh text;
BEGIN
    SELECT r.token, r.refresh_token INTO access, refresh
      FROM jwt_refresh(NULL, algorithm => 'ES256', expires_in => '15 minutes') r;
    PERFORM private.set_refresh_cookie(refresh, '30 days');
    RETURN json_build_object('token', access);
END
$$;

-- POST /rpc/logout: ends the session of the refresh cookie, revokes the
-- access token that came with the request, if any, and clears the cookie.
CREATE FUNCTION api.logout()
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
    PERFORM jwt_refresh_revoke(NULL);
    IF jwt_claim('jti') IS NOT NULL THEN
        PERFORM jwt_blacklist_jti(jwt_claim('jti'), to_timestamp(jwt_claim('exp')::numeric), 'logout');
    END IF;
    PERFORM private.set_refresh_cookie('', '0');
    RETURN json_build_object('logged_out', true);
END
$$;

REVOKE ALL ON FUNCTION api.login(text, text), api.refresh(), api.logout(),
                       private.set_refresh_cookie(text, interval) FROM PUBLIC;
-- Logout needs no valid access token: the cookie alone ends the session.
GRANT EXECUTE ON FUNCTION api.login(text, text), api.refresh(), api.logout()
   TO web_anon, web_user;
