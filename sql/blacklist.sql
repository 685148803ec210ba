--
-- jwt_blacklist and jwt_purge.
--

CREATE TABLE issued AS SELECT
  jwt_create('{"sub":"alice","jti":"bl-1"}', s32(), expires_in => '1 hour') AS with_jti,
  forge('{"alg":"HS256","typ":"JWT"}', '{"sub":"bob"}', s32()) AS without_jti,
  jwt_create('{"sub":"carol","jti":"bl-3","exp":1}', s32()) AS expired;

SELECT jwt_valid(with_jti, s32()) AS before FROM issued;
SELECT jwt_blacklist(with_jti, 'logout') FROM issued;
-- should fail: revoked
SELECT jwt_verify(with_jti, s32()) FROM issued;
SELECT jwt_valid(with_jti, s32()) AS after FROM issued;
SELECT jti, token_hash,
       expires_at = to_timestamp((SELECT (payload ->> 'exp')::numeric FROM jwt_decode(with_jti))) AS exp_kept,
       reason
  FROM jwt_pg.blacklist, issued;

-- Blacklisting twice keeps one entry.
SELECT jwt_blacklist(with_jti) FROM issued;
SELECT count(*) FROM jwt_pg.blacklist;

-- Without jti, the SHA-256 of header.payload is the key, so the same
-- header and payload with any signature stay revoked.
SELECT jwt_blacklist(without_jti, 'leaked') FROM issued;
SELECT jti IS NULL AS no_jti, token_hash = sha256(convert_to(split_part(without_jti, '.', 1) || '.' || split_part(without_jti, '.', 2), 'UTF8')) AS keyed_by_hash,
       expires_at IS NULL AS never_purged
  FROM jwt_pg.blacklist, issued WHERE reason = 'leaked';
-- should fail
SELECT jwt_verify(without_jti, s32()) FROM issued;
SELECT jwt_verify(forge('{"alg":"HS256","typ":"JWT"}', '{"sub":"bob"}', s32()), s32());
-- A token with the same claims but another header is a different token.
SELECT jwt_verify(forge('{"typ":"JWT","alg":"HS256"}', '{"sub":"bob"}', s32()), s32());

-- jti is matched exactly.
SELECT jwt_valid(jwt_create('{"jti":"BL-1"}', s32()), s32()) AS other_case,
       jwt_valid(jwt_create('{"jti":"bl-1 "}', s32()), s32()) AS trailing_space,
       jwt_valid(jwt_create('{"jti":"bl-1"}', s32()), s32()) AS same_jti;

-- Blacklisting does not check the signature, but the token must be readable.
SELECT jwt_blacklist(forge('{"alg":"HS256"}', '{"jti":"forged"}', 'not the secret'));
-- should fail
SELECT jwt_blacklist('garbage');
SELECT jwt_blacklist(NULL);

-- jwt_purge removes entries whose token has expired and refresh tokens
-- past their expiry; it returns how many of those it removed.
SELECT jwt_blacklist(expired, 'old') FROM issued;
SELECT jwt_refresh_generate('erin') IS NOT NULL AS live;
SELECT jwt_refresh_generate('frank') IS NOT NULL AS expiring;
UPDATE jwt_pg.refresh_tokens SET expires_at = statement_timestamp() - interval '1 second'
 WHERE family_id = (SELECT family_id FROM jwt_pg.refresh_families WHERE subject = 'frank');
SELECT jwt_purge();
SELECT coalesce(jti, 'hash') AS key, reason FROM jwt_pg.blacklist ORDER BY 1;
SELECT subject FROM jwt_pg.refresh_families ORDER BY subject;
SELECT jwt_purge();

DROP TABLE issued;
TRUNCATE jwt_pg.blacklist;
TRUNCATE jwt_pg.refresh_families CASCADE;
