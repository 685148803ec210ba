/* jwt_pg--0.1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION jwt_pg" to load this file. \quit

-- State lives in its own schema, whatever schema the functions go to.
CREATE SCHEMA jwt_pg;
REVOKE ALL ON SCHEMA jwt_pg FROM PUBLIC;

-- A refresh-token family is one login session: every token rotated from the
-- first one shares its family, and revoking the family ends the session.
CREATE TABLE jwt_pg.refresh_families (
    family_id uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    subject text NOT NULL,
    claims jsonb NOT NULL DEFAULT '{}',
    lifetime interval NOT NULL CHECK (lifetime > interval '0'),
    created_at timestamptz NOT NULL DEFAULT pg_catalog.statement_timestamp(),
    revoked_at timestamptz,
    revoked_reason text
);

-- Only the SHA-256 of each refresh token is stored.
CREATE TABLE jwt_pg.refresh_tokens (
    token_hash bytea PRIMARY KEY CHECK (pg_catalog.octet_length(token_hash) = 32),
    family_id uuid NOT NULL REFERENCES jwt_pg.refresh_families,
    issued_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at timestamptz
);
CREATE INDEX refresh_tokens_family_id_idx ON jwt_pg.refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expires_at_idx ON jwt_pg.refresh_tokens (expires_at);

-- Revoked access tokens, by jti or, for tokens without one, by the SHA-256
-- of header.payload.  jti uses collation "C": the C code looks it up with
-- byte-wise equality.  expires_at is the token's exp (NULL: never purged).
CREATE TABLE jwt_pg.blacklist (
    jti text COLLATE "C",
    token_hash bytea CHECK (pg_catalog.octet_length(token_hash) = 32),
    expires_at timestamptz,
    reason text,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.statement_timestamp(),
    CONSTRAINT blacklist_one_key CHECK (pg_catalog.num_nonnulls(jti, token_hash) = 1),
    CONSTRAINT blacklist_jti_key UNIQUE (jti),
    CONSTRAINT blacklist_token_hash_key UNIQUE (token_hash)
);
CREATE INDEX blacklist_expires_at_idx ON jwt_pg.blacklist (expires_at);

-- The key store.  secret contains an HMAC secret or a private key (PKCS #8
-- DER), and is NULL for a public key imported without its private part;
-- public_jwk is the public half of an asymmetric key, as jwt_jwks() shows it.
-- active keys sign and verify, verify_only keys verify, retired keys neither.
CREATE TABLE jwt_pg.keys (
    kid text COLLATE "C" PRIMARY KEY
        CHECK (pg_catalog.octet_length(kid) BETWEEN 1 AND 256),
    alg text NOT NULL CHECK (alg IN ('HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512',
                                     'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512',
                                     'EdDSA')),
    secret bytea,
    public_jwk jsonb,
    state text NOT NULL DEFAULT 'active'
        CHECK (state IN ('active', 'verify_only', 'retired')),
    created_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    CONSTRAINT keys_public_part CHECK ((alg LIKE 'HS%') = (public_jwk IS NULL)),
    CONSTRAINT keys_usable CHECK (secret IS NOT NULL OR public_jwk IS NOT NULL),
    CONSTRAINT keys_signer CHECK (state <> 'active' OR secret IS NOT NULL)
);

-- Every backend caches parsed keys, so this trigger reports each change to them.
CREATE FUNCTION jwt_pg.keys_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'jwt_keys_changed'
LANGUAGE C;

CREATE TRIGGER keys_changed
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON jwt_pg.keys
FOR EACH STATEMENT EXECUTE FUNCTION jwt_pg.keys_changed();

REVOKE ALL ON ALL TABLES IN SCHEMA jwt_pg FROM PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('jwt_pg.refresh_families', '');
SELECT pg_catalog.pg_extension_config_dump('jwt_pg.refresh_tokens', '');
SELECT pg_catalog.pg_extension_config_dump('jwt_pg.blacklist', '');
SELECT pg_catalog.pg_extension_config_dump('jwt_pg.keys', '');

-- Signing and verification.  Each function that takes a secret comes as a
-- text and a bytea pair; the C function is the same.  Only the text one
-- lets the secret default to NULL, which means the key store: two defaults
-- would make a call without a secret ambiguous.  A NULL algorithm means
-- HS256 with a secret, and jwt_pg.default_algorithm with the key store.

CREATE FUNCTION jwt_create(claims jsonb, secret text DEFAULT NULL, algorithm text DEFAULT NULL,
                           expires_in interval DEFAULT NULL, header jsonb DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'jwt_create'
LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE FUNCTION jwt_create(claims jsonb, secret bytea, algorithm text DEFAULT NULL,
                           expires_in interval DEFAULT NULL, header jsonb DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'jwt_create'
LANGUAGE C VOLATILE PARALLEL SAFE;

-- STABLE: the result depends on the statement's start time, the blacklist
-- and the key store.
CREATE FUNCTION jwt_verify(token text, secret text DEFAULT NULL, algorithms text[] DEFAULT NULL,
                           audience text DEFAULT NULL, issuer text DEFAULT NULL,
                           leeway interval DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'jwt_verify'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION jwt_verify(token text, secret bytea, algorithms text[] DEFAULT NULL,
                           audience text DEFAULT NULL, issuer text DEFAULT NULL,
                           leeway interval DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'jwt_verify'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION jwt_valid(token text, secret text DEFAULT NULL, algorithms text[] DEFAULT NULL,
                          audience text DEFAULT NULL, issuer text DEFAULT NULL,
                          leeway interval DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'jwt_valid'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION jwt_valid(token text, secret bytea, algorithms text[] DEFAULT NULL,
                          audience text DEFAULT NULL, issuer text DEFAULT NULL,
                          leeway interval DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'jwt_valid'
LANGUAGE C STABLE PARALLEL SAFE;

-- Verification against a JWK Set (RFC 7517), for tokens that an identity
-- provider signs with RS, PS, ES or EdDSA keys.  Pass the set as jsonb: a
-- text literal would be taken for a secret.
CREATE FUNCTION jwt_verify(token text, jwks jsonb, algorithms text[] DEFAULT NULL,
                           audience text DEFAULT NULL, issuer text DEFAULT NULL,
                           leeway interval DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'jwt_verify_jwks'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION jwt_valid(token text, jwks jsonb, algorithms text[] DEFAULT NULL,
                          audience text DEFAULT NULL, issuer text DEFAULT NULL,
                          leeway interval DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'jwt_valid_jwks'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION jws_verify(token text, jwks jsonb, algorithms text[] DEFAULT NULL)
RETURNS bytea
AS 'MODULE_PATHNAME', 'jws_verify_jwks'
LANGUAGE C STABLE PARALLEL SAFE;

-- VOLATILE: ECDSA and RSASSA-PSS signatures are randomized, and the key
-- store changes which key signs.
CREATE FUNCTION jws_sign(payload bytea, secret text DEFAULT NULL, algorithm text DEFAULT NULL,
                         header jsonb DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'jws_sign'
LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE FUNCTION jws_sign(payload bytea, secret bytea, algorithm text DEFAULT NULL,
                         header jsonb DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'jws_sign'
LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE FUNCTION jws_verify(token text, secret text DEFAULT NULL, algorithms text[] DEFAULT NULL)
RETURNS bytea
AS 'MODULE_PATHNAME', 'jws_verify'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION jws_verify(token text, secret bytea, algorithms text[] DEFAULT NULL)
RETURNS bytea
AS 'MODULE_PATHNAME', 'jws_verify'
LANGUAGE C STABLE PARALLEL SAFE;

-- Client-side helpers: they read a token without checking its signature.
CREATE FUNCTION jwt_decode(token text)
RETURNS TABLE (header jsonb, payload jsonb)
AS 'MODULE_PATHNAME', 'jwt_decode'
LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 1;

CREATE FUNCTION jwt_is_expired(token text, leeway interval DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'jwt_is_expired'
LANGUAGE C STABLE PARALLEL SAFE;

-- Refresh tokens and revocation.  These run as the extension owner so that
-- callers need no privileges on the tables; search_path is pinned because
-- they are SECURITY DEFINER.  Those that change state are not granted to
-- PUBLIC: grant them to the roles that log users in and out.

CREATE FUNCTION jwt_refresh_generate(subject text, expires_in interval DEFAULT '30 days',
                                     claims jsonb DEFAULT '{}')
RETURNS text
AS 'MODULE_PATHNAME', 'jwt_refresh_generate'
LANGUAGE C VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION jwt_refresh_validate(refresh_token text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'jwt_refresh_validate'
LANGUAGE C STABLE STRICT SECURITY DEFINER PARALLEL SAFE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION jwt_refresh(refresh_token text, secret text DEFAULT NULL, algorithm text DEFAULT NULL,
                            expires_in interval DEFAULT '15 minutes')
RETURNS TABLE (token text, refresh_token text)
AS 'MODULE_PATHNAME', 'jwt_refresh'
LANGUAGE C VOLATILE SECURITY DEFINER PARALLEL UNSAFE ROWS 1
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION jwt_refresh(refresh_token text, secret bytea, algorithm text DEFAULT NULL,
                            expires_in interval DEFAULT '15 minutes')
RETURNS TABLE (token text, refresh_token text)
AS 'MODULE_PATHNAME', 'jwt_refresh'
LANGUAGE C VOLATILE SECURITY DEFINER PARALLEL UNSAFE ROWS 1
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION jwt_blacklist(token text, reason text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'jwt_blacklist'
LANGUAGE C VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION jwt_purge()
RETURNS bigint
AS 'MODULE_PATHNAME', 'jwt_purge'
LANGUAGE C VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp;

REVOKE ALL ON FUNCTION jwt_refresh_generate(text, interval, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION jwt_refresh(text, text, text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION jwt_refresh(text, bytea, text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION jwt_blacklist(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION jwt_purge() FROM PUBLIC;

-- Key store functions.  Signing without a secret needs EXECUTE on
-- jwt_pg.sign_with_stored_keys(), which is granted to nobody: the
-- privilege is checked, the function itself does nothing.

CREATE FUNCTION jwt_pg.sign_with_stored_keys()
RETURNS void
AS 'SELECT'
LANGUAGE sql;

CREATE FUNCTION jwt_key_generate(algorithm text, kid text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'jwt_key_generate'
LANGUAGE C VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION jwt_key_import(key text, algorithm text, kid text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'jwt_key_import'
LANGUAGE C VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION jwt_key_import(key jsonb, algorithm text, kid text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'jwt_key_import'
LANGUAGE C VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION jwt_key_set_state(kid text, state text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    stored jwt_pg.keys%ROWTYPE;
BEGIN
    IF kid IS NULL OR state IS NULL THEN
        RAISE EXCEPTION '% must not be NULL', CASE WHEN kid IS NULL THEN 'kid' ELSE 'state' END
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF state NOT IN ('active', 'verify_only', 'retired') THEN
        RAISE EXCEPTION 'invalid key state "%"', state
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A key is active, verify_only or retired.';
    END IF;
    SELECT * INTO stored FROM jwt_pg.keys k WHERE k.kid = jwt_key_set_state.kid FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'key "%" does not exist in the key store', kid
            USING ERRCODE = 'undefined_object';
    END IF;
    IF state = 'active' AND stored.secret IS NULL THEN
        RAISE EXCEPTION 'key "%" cannot be active', kid
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Only its public part is stored, so it can verify but not sign.';
    END IF;
    UPDATE jwt_pg.keys k SET state = jwt_key_set_state.state
    WHERE k.kid = jwt_key_set_state.kid;
END
$$;

-- The public keys as a JWK Set, newest first: public data, for everyone.
CREATE FUNCTION jwt_jwks()
RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object('keys', coalesce(jsonb_agg(public_jwk ORDER BY created_at DESC, kid), '[]'))
    FROM jwt_pg.keys
    WHERE state <> 'retired' AND public_jwk IS NOT NULL
$$;

REVOKE ALL ON FUNCTION jwt_pg.sign_with_stored_keys() FROM PUBLIC;
REVOKE ALL ON FUNCTION jwt_key_generate(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION jwt_key_import(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION jwt_key_import(jsonb, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION jwt_key_set_state(text, text) FROM PUBLIC;
