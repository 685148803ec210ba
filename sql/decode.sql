--
-- jwt_decode and jwt_is_expired read tokens without checking signatures,
-- and the codec rejects every non-canonical encoding.
--

SELECT * FROM jwt_decode('eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJyb2xlIjoicmVhZGVyIiwiZXhwIjo0MTAyNDQ0ODAwfQ.HsLv8LH3c0JK0rPeNjeaMAwUQCngDAkeDphmPWkXAPY');
-- The signature is not checked, but must still be well-formed base64url.
SELECT payload FROM jwt_decode(forge('{"alg":"HS256"}', '{"a":1}', 'another secret'));
SELECT count(*) AS null_token_rows FROM jwt_decode(NULL);

-- jwt_is_expired: no exp is never expired; leeway extends exp.
SELECT jwt_is_expired(jwt_create('{}', s32())) AS no_exp,
       jwt_is_expired(jwt_create('{"exp":1}', s32())) AS long_past,
       jwt_is_expired(jwt_create('{}', s32(), expires_in => '1 minute')) AS fresh,
       jwt_is_expired(jwt_create(jsonb_build_object('exp', floor(extract(epoch FROM statement_timestamp())) - 10), s32()),
                      '20 seconds') AS within_leeway;
-- should fail: malformed tokens raise 28000 here too
SELECT jwt_is_expired('not-a-token');
SELECT jwt_is_expired(forge('{"alg":"HS256"}', '{"exp":"soon"}', s32()));
SELECT jwt_is_expired(jwt_create('{}', s32()), '-1 minute');

-- Strict base64url: no padding, no '+' or '/', no white space, and the
-- unused bits of the last character must be zero.
-- should fail
SELECT * FROM jwt_decode('eyJhbGciOiJIUzI1NiJ9=.e30.AAAA');
SELECT * FROM jwt_decode('eyJhbGciOiJIUzI1NiJ9.e30.AA+A');
SELECT * FROM jwt_decode('eyJhbGciOiJIUzI1NiJ9.e30.AA/A');
SELECT * FROM jwt_decode('eyJhbGciOiJIUzI1NiJ9.e3 0.AAAA');
SELECT * FROM jwt_decode('eyJhbGciOiJIUzI1NiJ9.e31.AAAA');
SELECT * FROM jwt_decode('eyJhbGciOiJIUzI1NiJ9.e30.A');
SELECT * FROM jwt_decode(' eyJhbGciOiJIUzI1NiJ9.e30.AAAA');
-- The canonical forms of the same segments decode.
SELECT * FROM jwt_decode('eyJhbGciOiJIUzI1NiJ9.e30.AAAA');
SELECT * FROM jwt_decode('eyJhbGciOiJIUzI1NiJ9.e30.');

-- Segment counts.
-- should fail
SELECT * FROM jwt_decode('');
SELECT * FROM jwt_decode('..');
SELECT * FROM jwt_decode('e30.e30');
SELECT * FROM jwt_decode('e30.e30.e30.e30');

-- JSON: strict RFC 8259 in valid UTF-8, no duplicate names at any depth,
-- no \u0000, no lone surrogates, and numbers that numeric can hold.
CREATE FUNCTION decode_claims(payload text) RETURNS jsonb
LANGUAGE sql STABLE
AS $$ SELECT payload FROM jwt_decode(b64url('{"alg":"HS256"}') || '.' || b64url(payload) || '.') $$;
CREATE FUNCTION decode_claims_bytes(payload bytea) RETURNS jsonb
LANGUAGE sql STABLE
AS $$ SELECT payload FROM jwt_decode(b64url('{"alg":"HS256"}') || '.' || b64url(payload) || '.') $$;

SELECT decode_claims(' { "a" : [ 1 , 2.50 , -0 , 1e3 , 1E-2 , true , false , null , "" , {} , [] ] } ');
SELECT decode_claims('{"s":"\"\\\/\b\f\n\r\t\u001f\u00e9\u6771\ud83d\ude00"}') -> 's' AS unescaped;
SELECT decode_claims('{"big":123456789012345678901234567890,"huge":1e40,"tiny":-1.5e-40}');
SELECT decode_claims('{"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}]}');
-- should fail
SELECT decode_claims('{"a":1,"a":2}');
SELECT decode_claims('{"x":{"a":1,"b":2,"a":3}}');
SELECT decode_claims('{"a1":1,"a2":2,"a3":3,"a4":4,"a5":5,"a6":6,"a7":7,"a8":8,"a9":9,"a4":10}');
SELECT decode_claims('{"a":"\u0000"}');
SELECT decode_claims('{"a":"\ud800"}');
SELECT decode_claims('{"a":"\udc00\ud800"}');
SELECT decode_claims('{"a":"\x41"}');
SELECT decode_claims('{"a":1,}');
SELECT decode_claims('{"a":01}');
SELECT decode_claims('{"a":.5}');
SELECT decode_claims('{"a":+1}');
SELECT decode_claims('{"a":NaN}');
SELECT decode_claims('{"a":1e1001}');
SELECT decode_claims('{"a":TRUE}');
SELECT decode_claims('{''a'':1}');
SELECT decode_claims('{"a":1} {}');
SELECT decode_claims('{"a":"tab	inside"}');
SELECT decode_claims('[]');
SELECT decode_claims('');
SELECT decode_claims_bytes('\xefbbbf7b7d');
SELECT decode_claims_bytes('\x7b2261223a22c0af227d');
SELECT decode_claims_bytes('\x7b2261223a22eda080227d');
SELECT decode_claims_bytes('\x7b2261223a22f4908080227d');

-- Depth and size limits are settings.
SELECT decode_claims('{"a":' || repeat('[', 31) || repeat(']', 31) || '}') IS NOT NULL AS depth_32;
-- should fail
SELECT decode_claims('{"a":' || repeat('[', 32) || repeat(']', 32) || '}');
SET jwt_pg.max_json_depth = 40;
SELECT decode_claims('{"a":' || repeat('[', 32) || repeat(']', 32) || '}') IS NOT NULL AS depth_33;
RESET jwt_pg.max_json_depth;
SET jwt_pg.max_token_bytes = 256;
-- should fail
SELECT decode_claims(jsonb_build_object('a', repeat('x', 300))::text);
RESET jwt_pg.max_token_bytes;
SELECT length(decode_claims(jsonb_build_object('a', repeat('x', 300))::text) ->> 'a');

-- Members per object are limited too, in the claims, nested objects and
-- the header; arrays are not objects.
SET jwt_pg.max_json_members = 3;
SELECT decode_claims('{"a":1,"b":2,"c":{"x":[1,2,3,4,5]}}') IS NOT NULL AS three_members;
-- should fail
SELECT decode_claims('{"a":1,"b":2,"c":3,"d":4}');
SELECT decode_claims('{"a":{"w":1,"x":2,"y":3,"z":4}}');
SELECT * FROM jwt_decode(b64url('{"alg":"HS256","typ":"JWT","kid":"k","cty":"x"}') || '.e30.');
SELECT jwt_create('{"a":1,"b":2,"c":3,"d":4}', s32());
RESET jwt_pg.max_json_members;
SHOW jwt_pg.max_json_members;

DROP FUNCTION decode_claims(text);
DROP FUNCTION decode_claims_bytes(bytea);
