--
-- jws_sign and jws_verify: the signature layer for any payload, checked
-- against published examples.
--

-- RFC 7520 section 4.4: HMAC-SHA2 integrity protection, byte for byte.
CREATE TABLE rfc7520 AS SELECT
  convert_to('It’s a dangerous business, Frodo, going out your door. You step onto the road, and if you don''t keep your feet, there’s no knowing where you might be swept off to.', 'UTF8') AS payload,
  decode('84' || '9b57219dae48de646d07dbb533566e976686457c1491be3a76dcea6c427188', 'hex') AS secret;
SELECT jws_sign(payload, secret, 'HS256', '{"kid":"018c0ae5-4d9b-471b-bfd6-eef314bc7037"}')
     = 'eyJhbGciOiJIUzI1NiIsImtpZCI6IjAxOGMwYWU1LTRkOWItNDcxYi1iZmQ2LWVlZjMxNGJjNzAzNyJ9.SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IHlvdXIgZG9vci4gWW91IHN0ZXAgb250byB0aGUgcm9hZCwgYW5kIGlmIHlvdSBkb24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtub3dpbmcgd2hlcmUgeW91IG1pZ2h0IGJlIHN3ZXB0IG9mZiB0by4.s0h6KThzkfBBBkLspW1h84VsJZFTsPPqMDA7g1Md7p0'
       AS rfc7520_4_4
  FROM rfc7520;
-- RFC 7520 section 4.6, protected header only: the compact form it implies.
SELECT split_part(jws_sign(payload, secret), '.', 1) AS header,
       split_part(jws_sign(payload, secret), '.', 3) = 'bWUSVaxorn7bEF1djytBd0kHv70Ly5pvbomzMWSOr20' AS rfc7520_4_6
  FROM rfc7520;
SELECT convert_from(jws_verify(jws_sign(payload, secret, 'HS256', '{"kid":"018c0ae5-4d9b-471b-bfd6-eef314bc7037"}'), secret), 'UTF8')
  FROM rfc7520;

-- RFC 7520 section 4.7 signs with an unprotected header only, which the
-- compact form cannot carry.
-- should fail: empty protected header
SELECT jws_verify('.SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IHlvdXIgZG9vci4gWW91IHN0ZXAgb250byB0aGUgcm9hZCwgYW5kIGlmIHlvdSBkb24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtub3dpbmcgd2hlcmUgeW91IG1pZ2h0IGJlIHN3ZXB0IG9mZiB0by4.xuLifqLGiblpv9zBpuZczWhNj1gARaLV3UxvxhJxZuk', secret)
  FROM rfc7520;

-- RFC 7515 appendix A.1: HS256 over a JWT with CRLF in its JSON.
SELECT convert_from(jws_verify(
  'eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk',
  decode('0323354b2b0fa5bc837e0665777ba68f5ab328e6f054c928a90f84b2d2502ebfd3fb5a92d20647ef968ab4c377623d223d2e2172052e4f08c0cd9af567d080a3', 'hex')),
  'UTF8');
-- Its exp (2011) has passed, so the JWT layer refuses it.
-- should fail
SELECT jwt_verify(
  'eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk',
  decode('0323354b2b0fa5bc837e0665777ba68f5ab328e6f054c928a90f84b2d2502ebfd3fb5a92d20647ef968ab4c377623d223d2e2172052e4f08c0cd9af567d080a3', 'hex'));

-- RFC 7797 (b64: false) is not supported.
-- should fail
SELECT jws_verify(forge('{"alg":"HS256","b64":false,"crit":["b64"]}', '$.02', s32()), s32());
SELECT jws_verify(forge('{"alg":"HS256","b64":false}', '$.02', s32()), s32());

-- Payloads are any bytes, including none; the header has no typ.
SELECT jws_sign('', s32());
SELECT jws_verify(jws_sign('', s32()), s32()) = '' AS empty_payload;
SELECT segment(jws_sign('\x00ff80', s64(), 'HS512', '{"cty":"octets"}'), 1);
SELECT jws_verify(jws_sign('\x00ff80', s64(), 'HS512'), s64(), ARRAY['HS512']);
SELECT jws_verify(jws_sign('{"not":"checked"}', s48(), 'HS384'), s48());
-- A JWS payload need not be a JWT: no claim checks apply.
SELECT convert_from(jws_verify(jws_sign('{"exp":1}', s32()), s32()), 'UTF8');

-- should fail: wrong secret, disallowed algorithm, JWE
SELECT jws_verify(jws_sign('x', s32()), reverse(s32()));
SELECT jws_verify(jws_sign('x', s32()), s32(), ARRAY['HS384']);
SELECT jws_verify(jws_sign('x', s64()), s64(), ARRAY['HS384']);
SELECT jws_verify('eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.AAAA.AAAA.AAAA.AAAA', s32());
SELECT jws_sign('x', s32(), 'ES256');
SELECT jws_sign('x', s32(), 'HS256', '{"alg":"HS512"}');
-- A NULL secret means the key store, which has no key here.
SELECT jws_sign('x', NULL::bytea);
SELECT jws_sign(NULL, s32()) IS NULL AS null_payload, jws_verify(NULL, s32()) IS NULL AS null_token;

DROP TABLE rfc7520;
