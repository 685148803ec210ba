--
-- Verification against a JWK Set (RFC 7517): RS, PS, ES and EdDSA tokens
-- from an identity provider, published vectors, and the ways a key can be
-- confused or misused.
--

-- RFC 7520 sections 4.1 (RS256), 4.2 (PS384) and 4.3 (ES512), and RFC 8037
-- appendix A.4 (Ed25519), with the public keys of RFC 7520 section 3 and
-- RFC 8037 appendix A.2.
CREATE TABLE cookbook (name text, token text);
INSERT INTO cookbook VALUES
  ('rfc7520-4.1-RS256', 'eyJhbGciOiJSUzI1NiIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9.SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IHlvdXIgZG9vci4gWW91IHN0ZXAgb250byB0aGUgcm9hZCwgYW5kIGlmIHlvdSBkb24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtub3dpbmcgd2hlcmUgeW91IG1pZ2h0IGJlIHN3ZXB0IG9mZiB0by4.MRjdkly7_-oTPTS3AXP41iQIGKa80A0ZmTuV5MEaHoxnW2e5CZ5NlKtainoFmKZopdHM1O2U4mwzJdQx996ivp83xuglII7PNDi84wnB-BDkoBwA78185hX-Es4JIwmDLJK3lfWRa-XtL0RnltuYv746iYTh_qHRD68BNt1uSNCrUCTJDt5aAE6x8wW1Kt9eRo4QPocSadnHXFxnt8Is9UzpERV0ePPQdLuW3IS_de3xyIrDaLGdjluPxUAhb6L2aXic1U12podGU0KLUQSE_oI-ZnmKJ3F4uOZDnd6QZWJushZ41Axf_fcIe8u9ipH84ogoree7vjbU5y18kDquDg'),
  ('rfc7520-4.2-PS384', 'eyJhbGciOiJQUzM4NCIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9.SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IHlvdXIgZG9vci4gWW91IHN0ZXAgb250byB0aGUgcm9hZCwgYW5kIGlmIHlvdSBkb24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtub3dpbmcgd2hlcmUgeW91IG1pZ2h0IGJlIHN3ZXB0IG9mZiB0by4.cu22eBqkYDKgIlTpzDXGvaFfz6WGoz7fUDcfT0kkOy42miAh2qyBzk1xEsnk2IpN6-tPid6VrklHkqsGqDqHCdP6O8TTB5dDDItllVo6_1OLPpcbUrhiUSMxbbXUvdvWXzg-UD8biiReQFlfz28zGWVsdiNAUf8ZnyPEgVFn442ZdNqiVJRmBqrYRXe8P_ijQ7p8Vdz0TTrxUeT3lm8d9shnr2lfJT8ImUjvAA2Xez2Mlp8cBE5awDzT0qI0n6uiP1aCN_2_jLAeQTlqRHtfa64QQSUmFAAjVKPbByi7xho0uTOcbH510a6GYmJUAfmWjwZ6oD4ifKo8DYM-X72Eaw'),
  ('rfc7520-4.3-ES512', 'eyJhbGciOiJFUzUxMiIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9.SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IHlvdXIgZG9vci4gWW91IHN0ZXAgb250byB0aGUgcm9hZCwgYW5kIGlmIHlvdSBkb24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtub3dpbmcgd2hlcmUgeW91IG1pZ2h0IGJlIHN3ZXB0IG9mZiB0by4.AE_R_YZCChjn4791jSQCrdPZCNYqHXCTZH0-JZGYNlaAjP2kqaluUIIUnC9qvbu9Plon7KRTzoNEuT4Va2cmL1eJAQy3mtPBu_u_sDDyYjnAMDxXPn7XrT0lw-kvAD890jl8e2puQens_IEKBpHABlsbEPX6sFY8OcGDqoRuBomu9xQ2'),
  ('rfc8037-Ed25519', 'eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg');
CREATE TABLE cookbook_keys AS SELECT '{"keys":[{"kty":"RSA","kid":"bilbo.baggins@hobbiton.example","use":"sig","n":"n4EPtAOCc9AlkeQHPzHStgAbgs7bTZLwUBZdR8_KuKPEHLd4rHVTeT-O-XV2jRojdNhxJWTDvNd7nqQ0VEiZQHz_AJmSCpMaJMRBSFKrKb2wqVwGU_NsYOYL-QtiWN2lbzcEe6XC0dApr5ydQLrHqkHHig3RBordaZ6Aj-oBHqFEHYpPe7Tpe-OfVfHd1E6cS6M1FZcD1NNLYD5lFHpPI9bTwJlsde3uhGqC0ZCuEHg8lhzwOHrtIQbS0FVbb9k3-tVTU4fg_3L_vniUFAKwuCLqKnS2BYwdq_mzSnbLY7h_qixoR7jig3__kRhuaxwUkRz5iaiQkqgc5gHdrNP5zw","e":"AQAB"},{"kty":"EC","kid":"bilbo.baggins@hobbiton.example","use":"sig","crv":"P-521","x":"AHKZLLOsCOzz5cY97ewNUajB957y-C-U88c3v13nmGZx6sYl_oJXu9A5RkTKqjqvjyekWF-7ytDyRXYgCF5cj0Kt","y":"AdymlHvOiLxXkEhayXQnNCvDX4h9htZaCJN34kfmC6pV5OhQHiraVySsUdaQkAgDPrwQrJmbnX9cwlGfP-HqHZR1"},{"kty":"OKP","use":"sig","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}'::jsonb AS jwks;
SELECT name, length(jws_verify(token, jwks)) AS payload_bytes,
       left(convert_from(jws_verify(token, jwks), 'UTF8'), 26) AS payload_start
  FROM cookbook, cookbook_keys ORDER BY name;
-- should fail: RS256 and EdDSA are deterministic, so a changed payload fails
SELECT jws_verify(split_part(token, '.', 1) || '.' || b64url('x') || '.' || split_part(token, '.', 3), jwks)
  FROM cookbook, cookbook_keys WHERE name = 'rfc7520-4.1-RS256';
SELECT jws_verify(split_part(token, '.', 1) || '.' || b64url('x') || '.' || split_part(token, '.', 3), jwks)
  FROM cookbook, cookbook_keys WHERE name = 'rfc8037-Ed25519';

-- Tokens from an identity provider's keys: RSA 2048, P-256 and Ed25519,
-- each with its kid.
CREATE TABLE idp AS SELECT '{"keys":[{"kty":"RSA","key_ops":["verify"],"n":"l6F4PlpPkhmzZ-3FTxMrupFwiK4EmOeqglGCkaJGvZU_-DYRGiQFsQ86dnVl8WZ6A80XSqJceKAiE6iPaplcSzhZ7TU5tD0FWZ9xwsDzHbU237kEn9idPfA066pn5sbxopU260KwpcLRWGXWU2ibMP-xcd3dKQuSvjd3ZV0IJiqwLfJ4k1g5U6gAf2IzaQ72epnza7Z5UrOXXJSinDlqNSxfITPjzSfAlmIbFc4kkwOA1U956Q5I6vsgu2OUg1xEbhu7jpG_peBBB-GxNwxBa-XDa-b8kzo0xnvP8pQeBRHomiC1DGqIRsHhkrp7Otooj47REFyAls_e1ZuoCfNxiQ","e":"AQAB","kid":"rsa-1","alg":"RS256","use":"sig"},{"kty":"EC","crv":"P-256","x":"BZYMci7tbIVMmggNAq3DJWWCeGrE0C-kDBC1E-WW5oY","y":"nKnyQbwNhfBZ4tKYor8NyJ9bcE-XK1e2t2gVMANUcc8","kid":"ec-1","alg":"ES256","use":"sig"},{"x":"df-EhsROI4Z4YJtXg1rqOmHmPrASPfXvjwgPeVUipfI","kty":"OKP","crv":"Ed25519","kid":"ed-1","alg":"EdDSA","use":"sig"},{"kty":"RSA","key_ops":["verify"],"n":"8MKRolaA6BTqswpz0-7xkDteK-pITGHGV5Q7MlZaBmq3vxeG3fZjtmlXte20O4NzA1Dg2ayy3hkVjhcV-otz4wpRayUz_KTMUqpDsZ84rJ5wFh71amI8v4eqC0A2qIN_JCB-MuENdtCRILaC_2yQ8KadRm6RxwI5nDQuB0-Xgsc","e":"AQAB","kid":"rsa-weak","alg":"RS256","use":"sig"}]}'::jsonb AS jwks;
CREATE TABLE idp_tokens (name text, token text);
INSERT INTO idp_tokens VALUES
  ('rs256', 'eyJhbGciOiJSUzI1NiIsImtpZCI6InJzYS0xIiwidHlwIjoiSldUIn0.eyJzdWIiOiJpZHAtdXNlciIsImlzcyI6Imh0dHBzOi8vaWRwLmV4YW1wbGUiLCJleHAiOjQxMDI0NDQ4MDB9.KqDDVjbWqJl-PH0Z1fBAFWbY4q5-WLNRjpqdENNJsOzRNB_uk0QxiZeK75fdvzDPeKaJ-8vTD9JLnjLxLAqVHiN4-QYhEbn5aY33StWKkJRpGhAJV9zxlDm0Cac5qnHj1a_yZSvbxjKzm7E3dDrYcPvRsDDCEVU_pib-m_fEpffj_QGiBLeIn51vGetqxSI7-rTVK9IX9WPFYZ6B-T5d2H22TzCNado4FN5OXFfvbYELnF-up1rn63JW_YbmkcQRNnQhTEKg0WEIC1HNWJq8fZYOpqT8jlPLk9-eN5J0y7Rf9qW5FPT6Izr6bquzQ4S4Z247o52-rScejzcuZHiEeA'),
  ('ps256', 'eyJhbGciOiJQUzI1NiIsImtpZCI6InJzYS0xIiwidHlwIjoiSldUIn0.eyJzdWIiOiJpZHAtdXNlciIsImlzcyI6Imh0dHBzOi8vaWRwLmV4YW1wbGUiLCJleHAiOjQxMDI0NDQ4MDB9.ByOdq-0iaZgpjxj_P-TgSCtqZ_7HwPfoWbh2T-PtB8CmM6hfAUvLvF2P3m4G_gOADc7Daqe52M3LxNZEQoS6G6FURcQxvpH7TqFrvZu4LEG_Ey_PbuELoO5ppx3RxYnzcNBXrLnTdKKQqI-yLZuJcadwheBSMkTiX66llmCRfBAgCI9PqMXvWM7emXgZjr-B6RZbT2HXZEMe1s14WzoqPEUMC_KeVZxl1CvOL1zndLY9635THAgtWtkXYojD4XZBWZsa3PbZeEE5urm4KGHQ8L_1UHSjBMO4z_8g9mAsjoI3hXM4MuAVW2uyor11msbkUMQNbJ-GqaYP_CZIWde95w'),
  ('es256', 'eyJhbGciOiJFUzI1NiIsImtpZCI6ImVjLTEiLCJ0eXAiOiJKV1QifQ.eyJzdWIiOiJpZHAtdXNlciIsImlzcyI6Imh0dHBzOi8vaWRwLmV4YW1wbGUiLCJleHAiOjQxMDI0NDQ4MDB9.Dtiahzerjp01JJJKR8yGsQkoyeQR41e2uS3nJ1U1Z_PAf2y6mmJBr82h5uAoACLaPvcgxNoE14_Z9Zx-y0cojg'),
  ('eddsa', 'eyJhbGciOiJFZERTQSIsImtpZCI6ImVkLTEiLCJ0eXAiOiJKV1QifQ.eyJzdWIiOiJpZHAtdXNlciIsImlzcyI6Imh0dHBzOi8vaWRwLmV4YW1wbGUiLCJleHAiOjQxMDI0NDQ4MDB9.4W-GrCDIeTnpbpVQrkDxQmkc5UQ0EHGyYqq7NiMAmeK3lAyU4wHBrL5TpY--BzfUlYKRKmY4RD3dI0GnWqXJCw'),
  ('rs256nokid', 'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJpZHAtdXNlciIsImlzcyI6Imh0dHBzOi8vaWRwLmV4YW1wbGUiLCJleHAiOjQxMDI0NDQ4MDB9.ePDCsBBd2cm4N29S4lXzPbFnXIRFUQil7KLjWIIJM_1zdRZvcyulK833ZlKRjNqypenth-0HsWEALwyaGS_bTyoGFAvJeLL0fL5bZCwpggJFM8KQWj-uDy3CM4BQD508-oMtx3XmusPwHDkNWuVq7Pzn45EFmzj-agzzmRwAn65EJ0gRRrmzYz8kXAJvwSYItd5arxLFGdd8VmG-18D6LkvWZc5X36buX-sET2KrUD8ZYuTDaHMU6Dbt4HI1cl9pu9WKZdgZ3loXyWlfkvCURBytfE-trfyvZXzYLyzIWS7MyogWUgU19AYCIzmA3hKeJ-q8cn2YC7WkI_gLQ7mQmQ'),
  ('rsaweak', 'eyJhbGciOiJSUzI1NiIsImtpZCI6InJzYS13ZWFrIiwidHlwIjoiSldUIn0.eyJzdWIiOiJpZHAtdXNlciIsImlzcyI6Imh0dHBzOi8vaWRwLmV4YW1wbGUiLCJleHAiOjQxMDI0NDQ4MDB9.1BGe0407TGapE4Fnxs78bILwBk3dwu7geqSsIc8j2Tb_xxFNye78eha97CUrjRRNRHs5gI3p5L-xlgJTspsc-du-146F-fOoj-d1Lg8fpKWrynw03urEUfDIlMWKgrQFZfvaxn4EnMun2f-pUjFD9nFS6wCSiyvniizIlk0qd1M'),
  ('confused', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6InJzYS0xIn0.eyJzdWIiOiJpZHAtdXNlciIsImlzcyI6Imh0dHBzOi8vaWRwLmV4YW1wbGUiLCJleHAiOjQxMDI0NDQ4MDB9.hQs0ztdFB3iUMJpL8Vf2077MMPjSFT6jE5qmuf3LnaE'),
  ('eszero', 'eyJhbGciOiJFUzI1NiIsImtpZCI6ImVjLTEiLCJ0eXAiOiJKV1QifQ.eyJzdWIiOiJpZHAtdXNlciIsImlzcyI6Imh0dHBzOi8vaWRwLmV4YW1wbGUiLCJleHAiOjQxMDI0NDQ4MDB9.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'),
  ('esder', 'eyJhbGciOiJFUzI1NiIsImtpZCI6ImVjLTEiLCJ0eXAiOiJKV1QifQ.eyJzdWIiOiJpZHAtdXNlciIsImlzcyI6Imh0dHBzOi8vaWRwLmV4YW1wbGUiLCJleHAiOjQxMDI0NDQ4MDB9.MEUCIQDXja5poSmhWGbY9tPOEnuseG_mir4QiPXC5NCVJzOJlQIgZpixKsDEZ4DLudsUPiLsOin7CvAJZCrhu-BSTNKQwyc'),
  ('esrn', 'eyJhbGciOiJFUzI1NiIsImtpZCI6ImVjLTEiLCJ0eXAiOiJKV1QifQ.eyJzdWIiOiJpZHAtdXNlciIsImlzcyI6Imh0dHBzOi8vaWRwLmV4YW1wbGUiLCJleHAiOjQxMDI0NDQ4MDB9._____wAAAAD__________7zm-q2nF56E87nKwvxjJVE4kDw8L-7bBF4CIl_gl9s6o_U3P5vPxdFIO3B75ImjXQ');
-- ps256 is signed with the RSA key, whose "alg" member allows RS256 only.
-- esrn has r equal to the group order.  rsaweak uses a 1024-bit key.
SELECT name, outcome_jwks(token, jwks) FROM idp_tokens, idp ORDER BY name;
SELECT jwt_verify(token, jwks, issuer => 'https://idp.example') ->> 'sub' AS sub
  FROM idp_tokens, idp WHERE name = 'es256';

-- The reasons in full.
-- should fail: an HS256 token signed with the RSA public key as its secret
SELECT jwt_verify(token, jwks) FROM idp_tokens, idp WHERE name = 'confused';
SELECT jwt_verify(token, jwks, ARRAY['HS256']) FROM idp_tokens, idp WHERE name = 'confused';
-- should fail: an RSA key under 2048 bits is never used
SELECT jwt_verify(token, jwks) FROM idp_tokens, idp WHERE name = 'rsaweak';
-- should fail: ECDSA signatures must be R||S with 1 <= r, s < n
SELECT jwt_verify(token, jwks) FROM idp_tokens, idp WHERE name = 'eszero';
SELECT jwt_verify(token, jwks) FROM idp_tokens, idp WHERE name = 'esder';
SELECT jwt_verify(token, jwks) FROM idp_tokens, idp WHERE name = 'esrn';
-- should fail: an unknown kid never falls back to another key
SELECT jwt_verify(token, jsonb_build_object('keys', jsonb_build_array((jwks->'keys'->0) - 'kid' || '{"kid":"other"}')))
  FROM idp_tokens, idp WHERE name = 'rs256';
-- A token without kid may use any key of its algorithm.
SELECT jwt_valid(token, jwks) AS without_kid FROM idp_tokens, idp WHERE name = 'rs256nokid';
-- should fail: a key whose alg differs, or whose use is not sig, is skipped
SELECT jwt_verify(token, jsonb_build_object('keys', jsonb_build_array(jwks->'keys'->0 || '{"alg":"RS512"}')))
  FROM idp_tokens, idp WHERE name = 'rs256';
SELECT jwt_verify(token, jsonb_build_object('keys', jsonb_build_array(jwks->'keys'->0 || '{"use":"enc"}')))
  FROM idp_tokens, idp WHERE name = 'rs256';
-- should fail: a kid that is not a short string
SELECT jwt_verify(forge('{"alg":"HS256","kid":7}', '{}', s32()), '{"keys":[]}'::jsonb, ARRAY['HS256']);
SELECT jwt_verify(forge('{"alg":"HS256","kid":"' || repeat('k', 257) || '"}', '{}', s32()), '{"keys":[]}'::jsonb, ARRAY['HS256']);

-- HMAC keys in a set are used only when HS algorithms are listed.
SELECT jwt_valid(jwt_create('{"iat":1,"jti":"j"}', s32(), header => '{"kid":"h"}'),
                 jsonb_build_object('keys', jsonb_build_array(jsonb_build_object('kty', 'oct', 'kid', 'h', 'k', b64url(s32())))),
                 ARRAY['HS256']) AS hmac_listed,
       jwt_valid(jwt_create('{"iat":1,"jti":"j"}', s32(), header => '{"kid":"h"}'),
                 jsonb_build_object('keys', jsonb_build_array(jsonb_build_object('kty', 'oct', 'kid', 'h', 'k', b64url(s32()))))) AS hmac_default;

-- The JWK Set is checked like any argument.
-- should fail
SELECT jwt_verify(token, '{"key":[]}'::jsonb) FROM idp_tokens WHERE name = 'rs256';
SELECT jwt_verify(token, NULL::jsonb) FROM idp_tokens WHERE name = 'rs256';
SELECT jws_verify(token, '[]'::jsonb) FROM idp_tokens WHERE name = 'rs256';
SELECT jws_verify(token, jwks, ARRAY[]::text[]) FROM idp_tokens, idp WHERE name = 'rs256';
SET jwt_pg.max_json_members = 2;
SELECT jwt_verify(token, jwks) FROM idp_tokens, idp WHERE name = 'rs256';
RESET jwt_pg.max_json_members;
SELECT jwt_valid(token, jwks, ARRAY['RS257']) FROM idp_tokens, idp WHERE name = 'rs256';
-- should fail: asymmetric algorithms cannot be verified with a secret or sign
SELECT jwt_verify(token, 'a-secret-of-at-least-32-bytes!!!', ARRAY['RS256']) FROM idp_tokens WHERE name = 'rs256';
SELECT jwt_create('{}', s32(), 'ES256');

-- An EC key whose x has a leading zero byte dropped, as PyJWT 2.6 writes
-- it: the coordinate is padded back.  One byte too many is refused.
SELECT jwt_verify('eyJhbGciOiJFUzI1NiIsImtpZCI6InNob3J0LXgiLCJ0eXAiOiJKV1QifQ.eyJzdWIiOiJzaG9ydCIsImV4cCI6NDEwMjQ0NDgwMH0.fisBI2Fdo10yA7V1H8thp7eax3d8ohaMcojRxpNiS95twzByOMQjVWfJCSYJ0SWYj0OYMbVlJkKcLRPJaLm_7Q',
                  '{"keys":[{"kty":"EC","crv":"P-256","kid":"short-x","x":"bv2doZh513dnD-sNGMRaBZ4dnp5GFQRIz9el9mhnFA","y":"_VerivYpKlbS16AxWKU6BncEiX8WdXjZ7k-s1u5pWI4"}]}'::jsonb) ->> 'sub' AS short_x;
-- should fail
SELECT jwt_verify('eyJhbGciOiJFUzI1NiIsImtpZCI6InNob3J0LXgiLCJ0eXAiOiJKV1QifQ.eyJzdWIiOiJzaG9ydCIsImV4cCI6NDEwMjQ0NDgwMH0.fisBI2Fdo10yA7V1H8thp7eax3d8ohaMcojRxpNiS95twzByOMQjVWfJCSYJ0SWYj0OYMbVlJkKcLRPJaLm_7Q',
                  jsonb_build_object('keys', jsonb_build_array('{"kty":"EC","crv":"P-256","kid":"short-x","x":"bv2doZh513dnD-sNGMRaBZ4dnp5GFQRIz9el9mhnFA","y":"_VerivYpKlbS16AxWKU6BncEiX8WdXjZ7k-s1u5pWI4"}'::jsonb
                                     || jsonb_build_object('y', b64url('\x00'::bytea || decode(translate(rpad('_VerivYpKlbS16AxWKU6BncEiX8WdXjZ7k-s1u5pWI4', 44, '='), '-_', '+/'), 'base64'))))));

-- Keys of another curve do not take the place of the right one, and a
-- key_ops without "verify" excludes a key.
SELECT jwt_valid(token, jsonb_build_object('keys',
         (SELECT jsonb_agg(other.jwks->'keys'->1 || '{"crv":"P-384"}') FROM generate_series(1, 16), idp other)
         || jsonb_build_array(jwks->'keys'->1))) AS after_16_other_curves,
       jwt_valid(token, jsonb_build_object('keys', jsonb_build_array(jwks->'keys'->1 || '{"key_ops":["verify"]}'))) AS key_ops_verify,
       jwt_valid(token, jsonb_build_object('keys', jsonb_build_array(jwks->'keys'->1 || '{"key_ops":["encrypt"]}'))) AS key_ops_encrypt
  FROM idp_tokens, idp WHERE name = 'es256';
-- should fail: only 16 keys that fit are tried (here another P-256 key,
-- with the same kid), and the detail reports it
SELECT jwt_verify(token, jsonb_build_object('keys',
         (SELECT jsonb_agg('{"kty":"EC","crv":"P-256","kid":"ec-1","x":"bv2doZh513dnD-sNGMRaBZ4dnp5GFQRIz9el9mhnFA","y":"_VerivYpKlbS16AxWKU6BncEiX8WdXjZ7k-s1u5pWI4"}'::jsonb) FROM generate_series(1, 16))
         || jsonb_build_array(jwks->'keys'->1)))
  FROM idp_tokens, idp WHERE name = 'es256';

-- should fail: public keys never act as HMAC secrets, whatever their type
SELECT jwt_valid(token, jwks::text) FROM idp_tokens, idp WHERE name = 'confused';
SELECT jwt_valid(token, (jwks->'keys'->0)::text) FROM idp_tokens, idp WHERE name = 'confused';
SELECT jwt_valid(token, E'\n-----BEGIN PUBLIC KEY-----\nMIIBIjAN...\n-----END PUBLIC KEY-----\n') FROM idp_tokens WHERE name = 'confused';
SELECT jwt_create('{}', convert_to(' {"kty":"oct","k":"' || repeat('A', 43) || '"}', 'UTF8'));

DROP TABLE cookbook, cookbook_keys, idp, idp_tokens;
