/* jwt_pg--0.2.0--0.3.0.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION jwt_pg UPDATE TO '0.3.0'" to load this file. \quit

-- The current request's claims, from a token that jwt_pg verified: the one
-- given to jwt_session_set, else the bearer token in PostgREST's
-- request.headers, else the cookie jwt_pg.cookie_name in request.cookies.
-- STABLE, so that a policy's owner = jwt_claim('sub') can use an index.

-- VOLATILE and PARALLEL UNSAFE: it changes a setting.
CREATE FUNCTION jwt_session_set(token text, local boolean DEFAULT true)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'jwt_session_set'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION jwt_claims()
RETURNS jsonb
AS 'MODULE_PATHNAME', 'jwt_request_claims'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION jwt_claim(name text)
RETURNS text
AS 'MODULE_PATHNAME', 'jwt_request_claim'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE FUNCTION jwt_role()
RETURNS text
AS 'MODULE_PATHNAME', 'jwt_request_role'
LANGUAGE C STABLE PARALLEL SAFE;

-- Set-Cookie values (RFC 6265), and PostgREST's response.headers.
CREATE FUNCTION jwt_cookie(name text, value text, max_age interval, path text DEFAULT '/',
                           same_site text DEFAULT 'Strict', secure boolean DEFAULT true,
                           http_only boolean DEFAULT true)
RETURNS text
AS 'MODULE_PATHNAME', 'jwt_cookie'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION jwt_set_cookie(name text, value text, max_age interval, path text DEFAULT '/',
                               same_site text DEFAULT 'Strict', secure boolean DEFAULT true,
                               http_only boolean DEFAULT true)
RETURNS void
AS 'MODULE_PATHNAME', 'jwt_set_cookie'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Logout now also takes the refresh token from its cookie, for a NULL
-- argument, as jwt_refresh does.
CREATE OR REPLACE FUNCTION jwt_refresh_revoke(refresh_token text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'jwt_refresh_revoke'
LANGUAGE C VOLATILE CALLED ON NULL INPUT SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp;
