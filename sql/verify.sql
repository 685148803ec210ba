--
-- jwt_verify and jwt_valid: options, claim checks, leeway and arguments.
--

CREATE TABLE tokens AS
SELECT jwt_create('{"sub":"alice","aud":["api","web"],"iss":"https://issuer.example","iat":1700000000,"jti":"v-1"}', s32()) AS ok,
       jwt_create('{"sub":"alice","iat":1700000000,"jti":"v-2"}', s48(), 'HS384') AS hs384;

SELECT jwt_verify(ok, s32()) FROM tokens;
SELECT jwt_verify(ok, s32(), ARRAY['HS256'], 'web', 'https://issuer.example', '0') FROM tokens;
SELECT jwt_valid(ok, s32()), jwt_valid(ok, s32(), audience => 'api') FROM tokens;

-- should fail: each reason has its own message, and jwt_valid returns false
SELECT jwt_verify(ok, s64(), ARRAY['HS384', 'HS512']) FROM tokens;
SELECT jwt_valid(ok, s64(), ARRAY['HS384', 'HS512']) FROM tokens;
SELECT jwt_verify(ok, s32(), audience => 'admin') FROM tokens;
SELECT jwt_verify(ok, s32(), issuer => 'https://issuer.example/') FROM tokens;
SELECT jwt_verify(ok, 'another-secret-of-32-bytes-long!') FROM tokens;
SELECT jwt_valid(ok, 'another-secret-of-32-bytes-long!') FROM tokens;
SELECT jwt_verify(hs384, s48(), ARRAY['HS256']) FROM tokens;
SELECT jwt_verify(hs384, s48()) ->> 'sub' FROM tokens;

-- A text secret and the same bytes as bytea verify the same token.
SELECT jwt_verify(ok, convert_to(s32(), 'UTF8')) ->> 'sub' FROM tokens;

-- A signature re-encoded with the last character changed is refused.
SELECT jwt_valid(left(ok, -1) || CASE WHEN right(ok, 1) = 'A' THEN 'B' ELSE 'A' END, s32()) FROM tokens;

-- Time claims: expired at exactly exp, leeway moves each boundary.
CREATE FUNCTION at_offset(claim text, seconds int) RETURNS text
LANGUAGE sql STABLE
AS $$
  SELECT jwt_create(jsonb_build_object(claim, floor(extract(epoch FROM statement_timestamp())) + seconds,
                                       'iat', 1700000000, 'jti', 'x'), s32())
$$;
-- exp equal to now is already expired.
SELECT outcome(at_offset('exp', 0), s32(), NULL, NULL);
SELECT jwt_valid(at_offset('exp', 1), s32()) AS exp_ahead;
SELECT jwt_valid(at_offset('exp', -10), s32(), leeway => '11 seconds') AS within_leeway,
       jwt_valid(at_offset('exp', -10), s32(), leeway => '10 seconds') AS at_leeway;
SELECT outcome(at_offset('nbf', 30), s32(), NULL, NULL);
SELECT jwt_valid(at_offset('nbf', 30), s32(), leeway => '30 seconds') AS nbf_within_leeway;
SELECT outcome(jwt_create(jsonb_build_object('iat', floor(extract(epoch FROM statement_timestamp())) + 60), s32()), s32(), NULL, NULL);

-- jwt_pg.leeway applies when no leeway argument is given.
SET jwt_pg.leeway = '1min';
SHOW jwt_pg.leeway;
SELECT jwt_valid(at_offset('exp', -30), s32()) AS setting_leeway;
SELECT jwt_valid(at_offset('exp', -30), s32(), leeway => '0') AS argument_wins;
RESET jwt_pg.leeway;
SELECT jwt_valid(at_offset('exp', -30), s32()) AS default_leeway;
-- should fail: the setting is bounded to 5 minutes
SET jwt_pg.leeway = '6min';
SET jwt_pg.leeway = -1;

-- A fractional exp counts to the fraction.
SELECT jwt_valid(jwt_create(jsonb_build_object('exp', extract(epoch FROM statement_timestamp()) + 0.5, 'iat', 1, 'jti', 'f'), s32()), s32());

-- Audience: a string or one element of an array, compared byte for byte.
SELECT jwt_valid(jwt_create('{"aud":"api","iat":1,"jti":"a"}', s32()), s32(), audience => 'api') AS string_aud,
       jwt_valid(jwt_create('{"aud":"api","iat":1,"jti":"a"}', s32()), s32(), audience => 'API') AS case_differs,
       jwt_valid(jwt_create('{"aud":[],"iat":1,"jti":"a"}', s32()), s32(), audience => '') AS empty_array;
-- aud or iss of the wrong type is malformed even when nothing is expected of it.
-- should fail: aud of the wrong type without an expected audience
SELECT jwt_verify(forge('{"alg":"HS256"}', '{"aud":5}', s32()), s32());
-- should fail: iss of the wrong type
SELECT jwt_verify(forge('{"alg":"HS256"}', '{"iss":["a"]}', s32()), s32());
SELECT jwt_verify(forge('{"alg":"HS256"}', '{"iss":["a"]}', s32()), s32(), issuer => 'a');

-- Bad arguments raise 22023 or 22004, from jwt_valid too.
-- should fail
SELECT jwt_valid(ok, s32(), ARRAY['none']) FROM tokens;
SELECT jwt_valid(ok, s32(), ARRAY['RS256']) FROM tokens;
SELECT jwt_valid(ok, s32(), ARRAY[]::text[]) FROM tokens;
SELECT jwt_valid(ok, s32(), ARRAY[NULL]::text[]) FROM tokens;
SELECT jwt_valid(ok, s32(), leeway => '-1 second') FROM tokens;
SELECT jwt_valid(ok, s32(), leeway => '5 minutes 1 second') FROM tokens;
-- A NULL secret means the key store, which has no key here: false.
SELECT jwt_valid(ok, NULL::text) FROM tokens;
SELECT jwt_valid(ok, 'short') FROM tokens;

-- Only the algorithms the secret is long enough for are allowed, so a
-- token's header cannot make jwt_valid raise.
SELECT jwt_valid(jwt_create('{}', s64(), 'HS512'), s48()) AS hs512_null_list,
       jwt_valid(jwt_create('{}', s64(), 'HS512'), s48(), ARRAY['HS256', 'HS512']) AS hs512_listed,
       jwt_valid(jwt_create('{}', s48(), 'HS384'), s48(), ARRAY['HS384', 'HS512']) AS hs384_listed;
-- should fail: not allowed; a secret too short for every listed algorithm
SELECT jwt_verify(jwt_create('{}', s64(), 'HS512'), s48());
SELECT jwt_valid(jwt_create('{}', s64(), 'HS512'), s32(), ARRAY['HS512', 'HS384']);

-- NULL tokens: jwt_verify returns NULL, jwt_valid false.
SELECT jwt_verify(NULL, s32()) IS NULL AS verify_null, jwt_valid(NULL, s32()) AS valid_null;

-- Volatility and strictness as declared.
SELECT proname, provolatile, proisstrict, proparallel, prosecdef
  FROM pg_proc WHERE proname LIKE 'jw%'
 GROUP BY 1, 2, 3, 4, 5 ORDER BY 1;

DROP TABLE tokens;
DROP FUNCTION at_offset(text, int);
