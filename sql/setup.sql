--
-- Create the extension and the helpers that later test files share.
--
CREATE EXTENSION jwt_pg;
SELECT extversion FROM pg_extension WHERE extname = 'jwt_pg';

-- The tables live in schema jwt_pg, the functions in the schema given to
-- CREATE EXTENSION (public here).
SELECT c.relname, c.relacl IS NULL OR NOT has_table_privilege('public', c.oid, 'SELECT') AS hidden_from_public
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'jwt_pg' AND c.relkind = 'r'
 ORDER BY 1;
SELECT p.proname, n.nspname
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE p.proname LIKE 'jw%' GROUP BY 1, 2 ORDER BY 1;

-- The tables are dumped with the database.
SELECT extconfig::regclass[] FROM pg_extension WHERE extname = 'jwt_pg';

-- pgcrypto builds tokens independently of jwt_pg, including broken ones.
CREATE EXTENSION pgcrypto;

CREATE FUNCTION b64url(data bytea) RETURNS text
LANGUAGE sql IMMUTABLE STRICT
AS $$ SELECT translate(encode(data, 'base64'), E'+/=\n', '-_') $$;

CREATE FUNCTION b64url(data text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT
AS $$ SELECT b64url(convert_to(data, 'UTF8')) $$;

-- The JSON text of a token's segment (1: header, 2: payload).
CREATE FUNCTION segment(token text, n int) RETURNS text
LANGUAGE sql IMMUTABLE STRICT
AS $$
  SELECT convert_from(decode(rpad(translate(part, '-_', '+/'), (length(part) + 3) / 4 * 4, '='), 'base64'), 'UTF8')
    FROM split_part(token, '.', n) AS part
$$;

-- Sign an arbitrary header and payload text with HMAC (sha256, sha384, sha512).
CREATE FUNCTION forge(header text, payload text, secret text, hash text DEFAULT 'sha256')
RETURNS text
LANGUAGE sql IMMUTABLE STRICT
AS $$
  SELECT b64url(header) || '.' || b64url(payload) || '.' ||
         b64url(hmac(convert_to(b64url(header) || '.' || b64url(payload), 'UTF8'),
                     convert_to(secret, 'UTF8'), hash))
$$;

-- Secrets used throughout: exactly as long as each hash output.
CREATE FUNCTION s32() RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT '0123456789abcdef0123456789abcdef' $$;
CREATE FUNCTION s48() RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT repeat('0123456789abcdef', 3) $$;
CREATE FUNCTION s64() RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT repeat('0123456789abcdef', 4) $$;

-- Verify a token; return 'accepted' or the SQLSTATE and message, and check
-- that jwt_valid agrees.
CREATE FUNCTION outcome(token text, secret text, audience text, issuer text) RETURNS text
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  PERFORM jwt_verify(token, secret, audience => audience, issuer => issuer);
  IF NOT jwt_valid(token, secret, audience => audience, issuer => issuer) THEN
    RETURN 'jwt_valid disagrees';
  END IF;
  RETURN 'accepted';
EXCEPTION WHEN OTHERS THEN
  IF SQLSTATE = '28000' AND jwt_valid(token, secret, audience => audience, issuer => issuer) THEN
    RETURN 'jwt_valid disagrees';
  END IF;
  RETURN SQLSTATE || ' ' || SQLERRM;
END
$$;

-- The same for the JWK Set form of jwt_verify and jwt_valid.
CREATE FUNCTION outcome_jwks(token text, jwks jsonb) RETURNS text
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  PERFORM jwt_verify(token, jwks);
  IF NOT jwt_valid(token, jwks) THEN
    RETURN 'jwt_valid disagrees';
  END IF;
  RETURN 'accepted';
EXCEPTION WHEN OTHERS THEN
  IF SQLSTATE = '28000' AND jwt_valid(token, jwks) THEN
    RETURN 'jwt_valid disagrees';
  END IF;
  RETURN SQLSTATE || ' ' || SQLERRM;
END
$$;

-- The same for the key store: no secret, the key comes by kid.
CREATE FUNCTION outcome_store(token text) RETURNS text
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  PERFORM jwt_verify(token);
  IF NOT jwt_valid(token) THEN
    RETURN 'jwt_valid disagrees';
  END IF;
  RETURN 'accepted';
EXCEPTION WHEN OTHERS THEN
  IF SQLSTATE = '28000' AND jwt_valid(token) THEN
    RETURN 'jwt_valid disagrees';
  END IF;
  RETURN SQLSTATE || ' ' || SQLERRM;
END
$$;

-- A token's signature as bytes, and the token with another signature.
CREATE FUNCTION signature(token text) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT
AS $$
  SELECT decode(rpad(translate(part, '-_', '+/'), (length(part) + 3) / 4 * 4, '='), 'base64')
    FROM split_part(token, '.', 3) AS part
$$;

CREATE FUNCTION with_signature(token text, sig bytea) RETURNS text
LANGUAGE sql IMMUTABLE STRICT
AS $$ SELECT split_part(token, '.', 1) || '.' || split_part(token, '.', 2) || '.' || b64url(sig) $$;

-- Run a statement that must fail; return its SQLSTATE and message.
CREATE FUNCTION error_of(statement text) RETURNS text
LANGUAGE plpgsql
AS $$
BEGIN
  EXECUTE statement;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ' ' || SQLERRM;
END
$$;
