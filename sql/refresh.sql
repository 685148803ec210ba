--
-- Refresh tokens: generation, rotation, reuse detection and validation.
--

CREATE TABLE session AS
SELECT jwt_refresh_generate('alice', '30 days', '{"role":"reader","aud":"api"}') AS first;

-- 256 random bits, base64url; only the SHA-256 is stored.
SELECT first ~ '^[A-Za-z0-9_-]{43}$' AS is_256_bits FROM session;
SELECT count(*) AS stored_raw FROM jwt_pg.refresh_tokens t, session s
 WHERE position(s.first IN t.token_hash::text) > 0 OR t.token_hash = convert_to(s.first, 'UTF8');
SELECT t.token_hash = sha256(convert_to(s.first, 'UTF8')) AS hash_matches,
       t.expires_at - t.issued_at AS lifetime, t.used_at IS NULL AS unused,
       f.subject, f.claims, f.lifetime AS family_lifetime
  FROM jwt_pg.refresh_tokens t JOIN jwt_pg.refresh_families f USING (family_id), session s;
SELECT jwt_refresh_validate(first) AS valid FROM session;
SELECT jwt_refresh_validate('unknown-token') AS unknown, jwt_refresh_validate(NULL) IS NULL AS null_token;

-- Rotation: a new pair; the access token carries the stored claims and sub.
ALTER TABLE session ADD COLUMN access text, ADD COLUMN second text;
UPDATE session SET (access, second) = (SELECT token, refresh_token FROM jwt_refresh(first, s32()));
SELECT jwt_verify(access, s32(), audience => 'api') - 'iat' - 'exp' - 'jti' AS claims,
       (jwt_verify(access, s32()) ->> 'exp')::numeric - (jwt_verify(access, s32()) ->> 'iat')::numeric AS access_lifetime,
       second <> first AS rotated,
       jwt_refresh_validate(first) AS first_valid,
       jwt_refresh_validate(second) AS second_valid
  FROM session;
SELECT count(*) AS tokens, count(used_at) AS used, count(DISTINCT family_id) AS families
  FROM jwt_pg.refresh_tokens;
-- The successor keeps the family's lifetime.
SELECT expires_at - issued_at AS lifetime FROM jwt_pg.refresh_tokens WHERE used_at IS NULL;

-- Algorithm and access lifetime are arguments; a bytea secret works too.
ALTER TABLE session ADD COLUMN third text;
UPDATE session SET third = (SELECT refresh_token FROM jwt_refresh(second, convert_to(s64(), 'UTF8'), 'HS512', '5 minutes') r
                             WHERE (SELECT header ->> 'alg' FROM jwt_decode(r.token)) = 'HS512'
                               AND (jwt_verify(r.token, s64()) ->> 'exp')::numeric - (jwt_verify(r.token, s64()) ->> 'iat')::numeric = 300);
SELECT third IS NOT NULL AS rotated_with_hs512 FROM session;

-- Reuse of a rotated token revokes the whole family, and the revocation
-- outlives the error that aborts the caller's transaction.
BEGIN;
-- should fail: reuse
SELECT * FROM jwt_refresh((SELECT first FROM session), s32());
ROLLBACK;
SELECT jwt_refresh_validate(third) AS newest_valid FROM session;
SELECT revoked_at IS NOT NULL AS revoked, revoked_reason FROM jwt_pg.refresh_families;
-- should fail: the newest token of the revoked family
SELECT * FROM jwt_refresh((SELECT third FROM session), s32());
-- should fail: the reused token again
SELECT * FROM jwt_refresh((SELECT first FROM session), s32());

-- Other families are untouched.
CREATE TABLE other AS SELECT jwt_refresh_generate('bob') AS t;
SELECT jwt_refresh_validate(t) AS bob_valid FROM other;

-- should fail: unknown, missing and expired tokens
SELECT * FROM jwt_refresh('no-such-token', s32());
SELECT * FROM jwt_refresh(NULL, s32());
UPDATE jwt_pg.refresh_tokens SET expires_at = statement_timestamp() - interval '1 second'
 WHERE token_hash = sha256(convert_to((SELECT t FROM other), 'UTF8'));
SELECT jwt_refresh_validate(t) AS expired_valid FROM other;
SELECT * FROM jwt_refresh((SELECT t FROM other), s32());

-- Bad arguments are checked before anything changes.
TRUNCATE other;
INSERT INTO other SELECT jwt_refresh_generate('carol');
-- should fail
SELECT * FROM jwt_refresh((SELECT t FROM other), 'short');
SELECT * FROM jwt_refresh((SELECT t FROM other), s32(), 'HS999');
SELECT * FROM jwt_refresh((SELECT t FROM other), s32(), 'HS256', '-5 minutes');
-- A NULL secret means the key store, which has no key here.
SELECT * FROM jwt_refresh((SELECT t FROM other), NULL::text);
SELECT jwt_refresh_validate(t) AS still_valid FROM other;

-- should fail: generation arguments
SELECT jwt_refresh_generate(NULL);
SELECT jwt_refresh_generate('dave', NULL);
SELECT jwt_refresh_generate('dave', '0 seconds');
SELECT jwt_refresh_generate('dave', '1 day', '[]');
SELECT jwt_refresh_generate('dave', '1 day', '{"sub":"mallory"}');
SELECT jwt_refresh_generate('dave', '1 day', '{"exp":1}');
-- should fail: claims that jwt_create would not sign
SELECT jwt_refresh_generate('dave', '1 day', '{"aud":5}');
SELECT jwt_refresh_generate('dave', '1 day', '{"iss":["x"]}');
-- NULL claims mean none.
SELECT jwt_refresh_generate('erin', '1 day', NULL) AS erin \gset
SELECT f.claims FROM jwt_pg.refresh_families f JOIN jwt_pg.refresh_tokens t USING (family_id)
 WHERE t.token_hash = sha256(convert_to(:'erin', 'UTF8'));

DROP TABLE session, other;
TRUNCATE jwt_pg.refresh_families CASCADE;
