/* jwt_pg--0.1.0--0.2.0.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION jwt_pg UPDATE TO '0.2.0'" to load this file. \quit

-- Each session gets a key for its successor tokens: a rotation derives the
-- new refresh token from the one presented with HMAC-SHA256 under this key,
-- so that it can be derived again within jwt_pg.refresh_reuse_interval
-- without being stored.  Two random UUIDs give 244 random bits.
ALTER TABLE jwt_pg.refresh_families
    ADD COLUMN successor_key bytea NOT NULL
        DEFAULT pg_catalog.decode(pg_catalog.replace(
            pg_catalog.gen_random_uuid()::text || pg_catalog.gen_random_uuid()::text, '-', ''), 'hex')
        CHECK (pg_catalog.octet_length(successor_key) = 32);

CREATE INDEX refresh_families_subject_idx ON jwt_pg.refresh_families (subject);

-- Revocation by subject: access tokens of the subject issued before
-- revoked_before are refused.  subject uses collation "C": the C code looks
-- it up with byte-wise equality.
CREATE TABLE jwt_pg.subject_cutoffs (
    subject text COLLATE "C" PRIMARY KEY,
    revoked_before timestamptz NOT NULL,
    reason text,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.statement_timestamp()
);
REVOKE ALL ON jwt_pg.subject_cutoffs FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('jwt_pg.subject_cutoffs', '');

-- Each backend remembers that the blacklist or the cutoffs are empty, and
-- then skips their lookups in jwt_verify; these triggers tell it of a change.
CREATE FUNCTION jwt_pg.table_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'jwt_table_changed'
LANGUAGE C;

CREATE TRIGGER blacklist_changed
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON jwt_pg.blacklist
FOR EACH STATEMENT EXECUTE FUNCTION jwt_pg.table_changed();

CREATE TRIGGER subject_cutoffs_changed
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON jwt_pg.subject_cutoffs
FOR EACH STATEMENT EXECUTE FUNCTION jwt_pg.table_changed();

-- One row per session (refresh-token family), without hashes or keys.
CREATE VIEW jwt_pg.sessions AS
SELECT f.family_id,
       f.subject,
       f.created_at,
       pg_catalog.max(t.used_at) AS last_refreshed,
       pg_catalog.max(t.expires_at) AS expires_at,
       f.revoked_at,
       f.revoked_reason,
       pg_catalog.count(t.used_at) AS rotations
  FROM jwt_pg.refresh_families f
  LEFT JOIN jwt_pg.refresh_tokens t ON t.family_id OPERATOR(pg_catalog.=) f.family_id
 GROUP BY f.family_id;
REVOKE ALL ON jwt_pg.sessions FROM PUBLIC;

-- Logout: revoke the session of a refresh token.  True when this call
-- revoked it; false for an unknown token or a session already revoked.
CREATE FUNCTION jwt_refresh_revoke(refresh_token text)
RETURNS boolean
LANGUAGE sql VOLATILE STRICT SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH revoked AS (
        UPDATE jwt_pg.refresh_families f
           SET revoked_at = statement_timestamp(), revoked_reason = 'logout'
          FROM jwt_pg.refresh_tokens t
         WHERE t.token_hash = sha256(convert_to(refresh_token, 'UTF8'))
           AND f.family_id = t.family_id AND f.revoked_at IS NULL
        RETURNING 1)
    SELECT EXISTS (SELECT FROM revoked)
$$;

-- Revoke every session of a subject, and every access token of the
-- subject issued before now.
CREATE FUNCTION jwt_revoke_subject(subject text, reason text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF subject IS NULL THEN
        RAISE EXCEPTION 'subject must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    UPDATE jwt_pg.refresh_families f
       SET revoked_at = statement_timestamp(),
           revoked_reason = coalesce(jwt_revoke_subject.reason, 'subject revoked')
     WHERE f.subject = jwt_revoke_subject.subject AND f.revoked_at IS NULL;
    INSERT INTO jwt_pg.subject_cutoffs AS c (subject, revoked_before, reason)
    VALUES (jwt_revoke_subject.subject, statement_timestamp(), jwt_revoke_subject.reason)
    ON CONFLICT ON CONSTRAINT subject_cutoffs_pkey DO UPDATE
       SET revoked_before = greatest(c.revoked_before, excluded.revoked_before),
           reason = excluded.reason, created_at = excluded.created_at;
END
$$;

-- Blacklist a token by its jti alone, for a DBA who has the id from a log.
CREATE FUNCTION jwt_blacklist_jti(jti text, expires_at timestamptz, reason text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF jti IS NULL THEN
        RAISE EXCEPTION 'jti must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    INSERT INTO jwt_pg.blacklist (jti, expires_at, reason)
    VALUES (jwt_blacklist_jti.jti, jwt_blacklist_jti.expires_at, jwt_blacklist_jti.reason)
    ON CONFLICT DO NOTHING;
END
$$;

REVOKE ALL ON FUNCTION jwt_refresh_revoke(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION jwt_revoke_subject(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION jwt_blacklist_jti(text, timestamptz, text) FROM PUBLIC;
