--
-- jwt_create: header, added claims and argument checks.
--

-- Fixed iat and jti make the whole token predictable.
SELECT jwt_create('{"sub":"alice","iat":1700000000,"jti":"id-1"}', s32());
SELECT header, payload FROM jwt_decode(
  jwt_create('{"sub":"alice","iat":1700000000,"jti":"id-1"}', s64(), 'HS512', header => '{"kid":"k1"}'));

-- An independent HMAC gives the same token; members come in jsonb's order.
SELECT jwt_create('{"sub":"alice","iat":1700000000,"jti":"id-1"}', s32())
     = forge('{"alg":"HS256","typ":"JWT"}', '{"iat":1700000000,"jti":"id-1","sub":"alice"}', s32())
       AS same_as_pgcrypto;

-- iat is now in whole seconds, exp = iat + expires_in, jti is 128 random bits.
WITH t AS (SELECT payload FROM jwt_decode(jwt_create('{"sub":"bob"}', s32(), expires_in => '1 hour')))
SELECT (payload->>'iat')::numeric = floor(extract(epoch FROM statement_timestamp())) AS iat_is_now,
       (payload->>'exp')::numeric - (payload->>'iat')::numeric AS lifetime,
       payload->>'jti' ~ '^[A-Za-z0-9_-]{22}$' AS jti_is_128_bits,
       payload->>'sub' AS sub
  FROM t;

-- Every token gets its own jti.
SELECT count(DISTINCT d.payload->>'jti') AS distinct_jti
  FROM generate_series(1, 50) g, jwt_decode(jwt_create(jsonb_build_object('n', g), s32())) d;

-- An empty object gains the added claims; claims given are kept.
SELECT jsonb_object_keys(payload) FROM jwt_decode(jwt_create('{}', s32())) ORDER BY 1;
SELECT payload FROM jwt_decode(jwt_create('{"iat":1700000000,"exp":1700000100,"jti":"x"}', s32()));
SELECT payload->'exp' FROM jwt_decode(jwt_create('{"iat":1700000000.5,"jti":"x"}', s32(), expires_in => '90 seconds'));

-- exp rounds up, so a lifetime under a second still gives a live token.
SELECT (payload->>'exp')::numeric - (payload->>'iat')::numeric AS rounded_lifetime
  FROM jwt_decode(jwt_create('{"iat":1700000000,"jti":"x"}', s32(), expires_in => '0.5 seconds'));

-- Strings that need escaping and non-ASCII text survive the round trip.
SELECT jwt_verify(jwt_create('{"name":"Zoë \"Q\" \\ 東京\n","n":[1,2.5,-3e2,true,null,{"a":{}}],"iat":1700000000,"jti":"j"}', s32()), s32());

-- typ may be replaced; kid and other members follow alg and typ.
SELECT segment(jwt_create('{}', s32(), header => '{"typ":"at+jwt","kid":"k"}'), 1);
SELECT segment(jwt_create('{}', s48(), 'HS384', header => '{"alg":"HS384","x5t":"abc","n":[1,{"b":null}]}'), 1);
SELECT segment(jwt_create('{"iat":1,"jti":"j"}', s32()), 2);

-- HS384 and HS512 need longer secrets; bytea secrets work the same way.
SELECT jwt_verify(jwt_create('{"k":1,"iat":1700000000,"jti":"j"}', s48(), 'HS384'), s48());
SELECT jwt_verify(jwt_create('{"k":1,"iat":1700000000,"jti":"j"}', s64(), 'HS512'), s64());
SELECT jwt_verify(jwt_create('{"k":1,"iat":1700000000,"jti":"j"}', '\x00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff'::bytea),
                  '\x00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff'::bytea);

-- NULL claims give NULL.  A NULL secret means the key store, which has no
-- key yet; a NULL algorithm with a secret means HS256.
SELECT jwt_create(NULL, s32()) IS NULL AS null_claims;
-- should fail: no stored HS256 key
SELECT jwt_create('{}', NULL::text);
SELECT header FROM jwt_decode(jwt_create('{}', s32(), NULL));

-- should fail: claims must be an object
SELECT jwt_create('[1,2]', s32());
SELECT jwt_create('"sub"', s32());
-- should fail: registered claims of the wrong type
SELECT jwt_create('{"exp":"tomorrow"}', s32());
SELECT jwt_create('{"nbf":null}', s32());
SELECT jwt_create('{"iat":true}', s32());
SELECT jwt_create('{"exp":1e20}', s32());
SELECT jwt_create('{"iss":1}', s32());
SELECT jwt_create('{"sub":["a"]}', s32());
SELECT jwt_create('{"jti":7}', s32());
SELECT jwt_create('{"aud":["a",2]}', s32());
SELECT jwt_create('{"aud":{"a":1}}', s32());
-- aud may be a string or an array of strings
SELECT payload->'aud' FROM jwt_decode(jwt_create('{"aud":["a","b"]}', s32()));
-- should fail: unknown algorithms, names are case-sensitive, none never
SELECT jwt_create('{}', s32(), 'hs256');
SELECT jwt_create('{}', s32(), 'RS256');
SELECT jwt_create('{}', s32(), 'none');
-- should fail: secrets shorter than the hash output (RFC 7518 section 3.2)
SELECT jwt_create('{}', 'short-key');
SELECT jwt_create('{}', s32(), 'HS384');
SELECT jwt_create('{}', s48(), 'HS512');
SELECT jwt_create('{}', '\x00'::bytea);
-- should fail: header conflicts
SELECT jwt_create('{}', s32(), 'HS256', header => '{"alg":"HS512"}');
SELECT jwt_create('{}', s32(), 'HS256', header => '{"alg":"none"}');
SELECT jwt_create('{}', s32(), 'HS256', header => '{"crit":["exp"]}');
SELECT jwt_create('{}', s32(), 'HS256', header => '{"b64":false}');
SELECT jwt_create('{}', s32(), 'HS256', header => '[]');
-- should fail: expires_in must be positive and fit, and not repeat exp
SELECT jwt_create('{}', s32(), expires_in => '-1 hour');
SELECT jwt_create('{}', s32(), expires_in => '0');
SELECT jwt_create('{}', s32(), expires_in => '10000 years');
SELECT jwt_create('{"exp":1700000000}', s32(), expires_in => '1 hour');
-- should fail: a token larger than jwt_pg.max_token_bytes
SET jwt_pg.max_token_bytes = 1024;
SELECT jwt_create(jsonb_build_object('blob', repeat('x', 2000)), s32());
RESET jwt_pg.max_token_bytes;

-- A token of exactly jwt_pg.max_token_bytes can be signed and verified:
-- 20 header + 65471 payload + 43 signature characters and two dots.
SELECT length(jws_sign(convert_to(repeat('x', 49103), 'UTF8'), s32())) AS at_limit,
       length(jws_verify(jws_sign(convert_to(repeat('x', 49103), 'UTF8'), s32()), s32())) AS payload_bytes;
-- should fail: one byte more
SELECT jws_sign(convert_to(repeat('x', 49104), 'UTF8'), s32());

-- A NumericDate may be written with many digits, but not too many.
SELECT payload->'exp' FROM jwt_decode(jwt_create(('{"exp":1000000000.' || repeat('0', 60) || '}')::jsonb, s32()));
-- should fail
SELECT jwt_create(('{"exp":1000000000.' || repeat('0', 600) || '}')::jsonb, s32());

-- should fail: nesting beyond jwt_pg.max_json_depth
SELECT jwt_create(('{"a":' || repeat('[', 40) || repeat(']', 40) || '}')::jsonb, s32());
