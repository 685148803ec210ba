--
-- The key store: generating and importing keys, signing and verifying with
-- them, rotation, and the ways a token could try to choose its own key.
--

-- Each algorithm: a new key signs a token that verifies by its kid.
CREATE TABLE generated AS
SELECT alg, jwt_key_generate(alg) AS kid
  FROM unnest(ARRAY['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384',
                    'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']) AS alg;
CREATE TABLE signed AS
SELECT alg, kid, jwt_create('{"sub":"alice"}', algorithm => alg) AS token FROM generated;
SELECT alg,
       (SELECT header FROM jwt_decode(token)) = jsonb_build_object('alg', alg, 'typ', 'JWT', 'kid', kid) AS header_ok,
       length(signature(token)) AS signature_bytes,
       outcome_store(token),
       jwt_verify(token) ->> 'sub' AS sub
  FROM signed ORDER BY alg;

-- Default kids: random for HMAC keys, the RFC 7638 thumbprint otherwise,
-- here recomputed from the public JWK with pgcrypto.
SELECT g.alg, length(g.kid) AS kid_length,
       CASE WHEN k.public_jwk IS NULL THEN NULL
            ELSE g.kid = b64url(digest(CASE k.public_jwk ->> 'kty'
                WHEN 'RSA' THEN format('{"e":"%s","kty":"RSA","n":"%s"}', k.public_jwk ->> 'e', k.public_jwk ->> 'n')
                WHEN 'EC' THEN format('{"crv":"%s","kty":"EC","x":"%s","y":"%s"}', k.public_jwk ->> 'crv', k.public_jwk ->> 'x', k.public_jwk ->> 'y')
                ELSE format('{"crv":"%s","kty":"OKP","x":"%s"}', k.public_jwk ->> 'crv', k.public_jwk ->> 'x') END, 'sha256'))
       END AS thumbprint_ok
  FROM generated g JOIN jwt_pg.keys k USING (kid) ORDER BY g.alg;

-- HMAC secrets are as long as the hash output; RSA keys have 2048 bits.
SELECT alg, octet_length(secret) AS secret_bytes FROM jwt_pg.keys WHERE alg LIKE 'HS%' ORDER BY alg;
SELECT alg, length(public_jwk ->> 'n') AS n_chars FROM jwt_pg.keys WHERE public_jwk ->> 'kty' = 'RSA' ORDER BY alg;

-- The JWK Set: public keys only, full-width EC coordinates, no HMAC key.
SELECT k ->> 'alg' AS alg, k ->> 'kty' AS kty, k ->> 'crv' AS crv, k ->> 'use' AS use,
       (SELECT array_agg(m ORDER BY m) FROM jsonb_object_keys(k) AS m) AS members,
       length(k ->> 'x') AS x_chars, length(k ->> 'y') AS y_chars
  FROM jsonb_array_elements(jwt_jwks() -> 'keys') AS k ORDER BY 1;
SELECT jsonb_array_length(jwt_jwks() -> 'keys') AS public_keys;
-- The set verifies our tokens through the JWK Set form too.
SELECT alg, outcome_jwks(token, jwt_jwks()) FROM signed WHERE alg NOT LIKE 'HS%' ORDER BY alg;

-- Named notation, and jwt_pg.default_algorithm when no algorithm is given.
SELECT (SELECT header ->> 'alg' FROM jwt_decode(jwt_create('{}'))) AS default_alg;
SET jwt_pg.default_algorithm = 'EdDSA';
SELECT (SELECT header ->> 'alg' FROM jwt_decode(jwt_create('{}', expires_in => '1 minute'))) AS default_alg;
SELECT outcome_store(t) FROM jwt_refresh(jwt_refresh_generate('alice')) AS r(t, refresh_token);
RESET jwt_pg.default_algorithm;
-- should fail
SET jwt_pg.default_algorithm = 'none';
SET jwt_pg.default_algorithm = 'es256';

-- A kid in the header chooses the key; a kid that cannot sign is refused.
SELECT jwt_key_generate('ES256', 'es-second') AS kid;
SELECT (SELECT header ->> 'kid' FROM jwt_decode(jwt_create('{}', algorithm => 'ES256'))) AS newest;
SELECT (SELECT header ->> 'kid' FROM jwt_decode(jwt_create('{}', algorithm => 'ES256',
        header => jsonb_build_object('kid', kid)))) = kid AS chosen
  FROM generated WHERE alg = 'ES256';
-- should fail
SELECT jwt_create('{}', algorithm => 'ES256', header => '{"kid":"es-missing"}');
SELECT jwt_create('{}', algorithm => 'ES384', header => '{"kid":"es-second"}');
SELECT jwt_create('{}', algorithm => 'ES256', header => '{"kid":7}');
SELECT jwt_create('{}', algorithm => 'PS256', header => '{"kid":"es-second"}');

-- jws_sign writes the header it is given; a kid there chooses the key.
SELECT segment(jws_sign('x', algorithm => 'ES256'), 1) AS header;
SELECT segment(jws_sign('x', algorithm => 'ES256', header => '{"kid":"es-second"}'), 1) AS header,
       convert_from(jws_verify(jws_sign('x', algorithm => 'ES256', header => '{"kid":"es-second"}')), 'UTF8') AS payload;

-- Rotation: verify_only keys verify but do not sign; retired keys neither.
CREATE TABLE rotation AS SELECT jwt_create('{"sub":"r"}', algorithm => 'ES256') AS token;
SELECT jwt_key_set_state('es-second', 'verify_only');
SELECT (SELECT header ->> 'kid' FROM jwt_decode(jwt_create('{}', algorithm => 'ES256'))) = kid AS older_key_signs
  FROM generated WHERE alg = 'ES256';
SELECT outcome_store(token) FROM rotation;
SELECT jwt_key_set_state('es-second', 'retired');
SELECT outcome_store(token) FROM rotation;
SELECT count(*) AS published FROM jsonb_array_elements(jwt_jwks() -> 'keys') k WHERE k ->> 'kid' = 'es-second';
SELECT jwt_key_set_state('es-second', 'active');
SELECT outcome_store(token) FROM rotation;
-- should fail
SELECT jwt_key_set_state('es-missing', 'active');
SELECT jwt_key_set_state('es-second', 'revoked');
SELECT jwt_key_set_state('es-second', NULL);
SELECT jwt_key_generate('ES256', 'es-second');
SELECT jwt_key_generate('ES256', '');
SELECT jwt_key_generate('ES256', repeat('k', 257));
SELECT jwt_key_generate('none');
SELECT jwt_key_generate(NULL);
-- A change made directly in the table counts as well.
UPDATE jwt_pg.keys SET state = 'retired' WHERE kid = 'es-second';
SELECT outcome_store(token) FROM rotation;
DELETE FROM jwt_pg.keys WHERE kid = 'es-second';

-- Importing keys: PEM in PKCS #8, SEC 1, PKCS #1 and SPKI form, and JWKs.
SELECT jwt_key_import($$-----BEGIN RSA PRIVATE KEY-----
MIIEpAIBAAKCAQEAyPjrUaZ5cdUo6+5Sd4oxyktH6gner93L32m6cVULoHeVXUd4
Q5PzmeyTLutJhjpBI0Mfk9QT9NdnTNCQvRX9h3f9y7flR5GNEAz5/T8+rigm8hKA
mmbRGEGcJHfixgqUd/w/0xrRBq54Wkt75DEQCgTrudpnWlP4BIiZaBftf1M+d8/w
0WCRKTh8j3V01j7CitMWoyaaJft1g7esqwFCSx4Q03k+eYcZHfEYcoKUK+K5veR8
+eJfU+EMuhlfPR1lhCMV7mwdVMGGLPXF6Isk5I1rB526DDAME/8VfDs3E3HzsrqH
tCXX+5om9sorD2r3g3lmL773ISzHOhczJ7nKbQIDAQABAoIBABdrttTJn06ORloU
aITo1HucQVG7e7moEenD4wfxHs1BEmWP/ip19AYkpVRq9CMR5+RpnqT2Kqs2bSHt
DmkSxnyClc+nay9nfXZ45KtIMxBNupgsYtNblxOKFd3EIOfudLX07iU2c1ShgYIY
WORTeWiJgUUj+DZ1Iaq5lpMkcreLMZVYS/TkPIClrOm78/WdDmT3Amh7DDNkQ+Kh
Dt3DIKcQ34qhbYoF1f72l51yz48j9J6D5A2xtk2rH/4Uj9v4bTLxlIsbLZF4PY5G
HIF+WLR7w4ign3eC7oo0FrFWTh8DmWDHq9rspOzSgvoQN3abEuP4AEKpJ+QihV8O
vqXvuZECgYEA5kLj2+ArqJcc+hRZAvIIgGOexvZylCXWSH77wrDQIy8Bi30UgbL/
9XdiCKYM+sIk9cUyj39Rz8mYTZiWvcpD7pkRCcVlxDQSyLKSlXiQRv+3pRKVt5Td
vmMUtRUnx44seS524v/IPFrIUkvmPoC9fZF7Pmp4ylQyJ0eIsr9ElZUCgYEA32/n
D4XKBT//RJ/8frXN+yjZmMeNo2gwVA4A/xVb7Yu2Ik5VUCSE02nNklpltgotufeS
YlbbtcFxGQ4VlEZPZRLl9DRuN5ZOeSZEMRIdjVZMHGOayQ+EYP5OYio0sAzl3qh/
FaBSSJprb/3CVllDn8DKceRdmljjtue+MSWO+3kCgYEApvZ/xLKC1cdlMozIklMw
CPCzc+/F21ioTX8OTPjqo2h1RVDYKsfBw5riUgUdykI2jKOF6vlWOEYkkrd/LnVY
1szUxvIEvcVIjZC2q311mJXZ8u9L8ocWVvP/UuLZKmEULHadrDHuXp0xPkNc25t8
S23PIM4RchylFUhQfdQlBhUCgYEAgFH9+1Y0zYsRiVHwarzyzRmKzklcuMnvZ3ab
b+POZcBlG5KtQFeYyOnsm+66ly+FT1Y1hbCogdvUnjUOg5dVpZCS7AroeZgi/UTS
yPPEcRVspKk3jd0Rg7rJPWtL0we1RIi0Y7EtUHEO3sR3xauCQM8x9PLYJvqB3Nt+
yS7uzNECgYA4wQCGs3TiwN69ZxS1quS5U1+p+alpzhkgQVFQnra3G22O9F0AKIsW
0ssDwio4DeL913GFpL6Ons/UidQZF10oCNSL441J7nEVCXMq4HmK65TXi2UZw7Qj
CQGeeM20kTk8ar1d3F5jS69jrKVq6cJP61Icsn1C5+2/43PsivjlzQ==
-----END RSA PRIVATE KEY-----$$, 'RS256', 'rsa-pkcs1') AS kid;
SELECT jwt_key_import($$-----BEGIN RSA PUBLIC KEY-----
MIIBCgKCAQEAyPjrUaZ5cdUo6+5Sd4oxyktH6gner93L32m6cVULoHeVXUd4Q5Pz
meyTLutJhjpBI0Mfk9QT9NdnTNCQvRX9h3f9y7flR5GNEAz5/T8+rigm8hKAmmbR
GEGcJHfixgqUd/w/0xrRBq54Wkt75DEQCgTrudpnWlP4BIiZaBftf1M+d8/w0WCR
KTh8j3V01j7CitMWoyaaJft1g7esqwFCSx4Q03k+eYcZHfEYcoKUK+K5veR8+eJf
U+EMuhlfPR1lhCMV7mwdVMGGLPXF6Isk5I1rB526DDAME/8VfDs3E3HzsrqHtCXX
+5om9sorD2r3g3lmL773ISzHOhczJ7nKbQIDAQAB
-----END RSA PUBLIC KEY-----$$, 'RS256', 'rsa-pkcs1-public') AS kid;
SELECT jwt_key_import($$-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAyPjrUaZ5cdUo6+5Sd4ox
yktH6gner93L32m6cVULoHeVXUd4Q5PzmeyTLutJhjpBI0Mfk9QT9NdnTNCQvRX9
h3f9y7flR5GNEAz5/T8+rigm8hKAmmbRGEGcJHfixgqUd/w/0xrRBq54Wkt75DEQ
CgTrudpnWlP4BIiZaBftf1M+d8/w0WCRKTh8j3V01j7CitMWoyaaJft1g7esqwFC
Sx4Q03k+eYcZHfEYcoKUK+K5veR8+eJfU+EMuhlfPR1lhCMV7mwdVMGGLPXF6Isk
5I1rB526DDAME/8VfDs3E3HzsrqHtCXX+5om9sorD2r3g3lmL773ISzHOhczJ7nK
bQIDAQAB
-----END PUBLIC KEY-----$$, 'PS256', 'rsa-spki') AS kid;
SELECT jwt_key_import($$-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIMAlvr7SANkH6Zw01M0eBv6sO4VH0c3ZiROBUXmDjCJQoAoGCCqGSM49
AwEHoUQDQgAE6cjNS5dmOsSrPgFMWtgKVmh1OcgCYlzJkx/qUC1vEHVZliFgnA3A
94RD0au5e8JIA0tpIgv3Q4WqvKMqfXhSMQ==
-----END EC PRIVATE KEY-----$$, 'ES256', 'p256-sec1') AS kid;
SELECT jwt_key_import($$-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEA0ctYu2jbfzwm8lTW8QCRS2EgzvQOkh0+7G9dL9B2qOc=
-----END PUBLIC KEY-----$$, 'EdDSA', 'ed-public') AS kid;
SELECT jwt_key_import($$-----BEGIN PRIVATE KEY-----
MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDCJgNUSDo98gM6u9Yxl
cr/6LrU6PlFXm8L9uILJwUJyM0OLhKYRExnTstGtxDNCAkOhZANiAASvJX06OVdZ
k+E1Iv+cqe3W2gjBsNBU0dqgke4Q3HfENlZZS+Pluul3mmQGQwIidgj2fQUTfObl
XJMSe2nyNhjnBKAWVG2Nm6ct7e4vH6zWxPZdtDdyRg3jWbehzvwkJFs=
-----END PRIVATE KEY-----$$, 'ES384', 'p384') AS kid;
SELECT kid, alg, state, secret IS NOT NULL AS has_private FROM jwt_pg.keys
 WHERE kid IN ('rsa-pkcs1', 'rsa-pkcs1-public', 'rsa-spki', 'p256-sec1', 'ed-public', 'p384') ORDER BY kid;
-- The private PKCS #1 key and its public forms are one key pair.
SELECT (SELECT public_jwk - 'kid' FROM jwt_pg.keys WHERE kid = 'rsa-pkcs1') =
       (SELECT public_jwk - 'kid' FROM jwt_pg.keys WHERE kid = 'rsa-pkcs1-public') AS same_key;
SELECT outcome_store(jwt_create('{}', algorithm => 'RS256', header => '{"kid":"rsa-pkcs1"}')) AS pkcs1_signs;
-- A JWK's own kid is the default; a private JWK signs, a public one verifies.
SELECT jwt_key_import('{"kty":"EC","crv":"P-256","kid":"rfc7515-a3","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}', 'ES256') AS kid;
SELECT state, public_jwk FROM jwt_pg.keys WHERE kid = 'rfc7515-a3';
-- should fail: public-only keys cannot become active
SELECT jwt_key_set_state('ed-public', 'active');
SELECT jwt_create('{}', algorithm => 'EdDSA', header => '{"kid":"ed-public"}');

-- Keys that do not fit are refused.
-- should fail
SELECT jwt_key_import($$-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC898UVWnRzIo2VtNyCRr15NmTk
Qtl6zfQYzI1S+4EOqqFCGYHPsQNTdFEEHcURitx3si714kKjE8mtj4+c6DsrYFxi
XxhXFR4JJqkLwjJeitDC6BZQXumMOPzW8yKdleITfFtfgJvoO8P7jdTeu8Hg2JD0
XzEx7FBkfVqJTTKFdwIDAQAB
-----END PUBLIC KEY-----$$, 'RS256');
SELECT jwt_key_import($$-----BEGIN PRIVATE KEY-----
MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDCJgNUSDo98gM6u9Yxl
cr/6LrU6PlFXm8L9uILJwUJyM0OLhKYRExnTstGtxDNCAkOhZANiAASvJX06OVdZ
k+E1Iv+cqe3W2gjBsNBU0dqgke4Q3HfENlZZS+Pluul3mmQGQwIidgj2fQUTfObl
XJMSe2nyNhjnBKAWVG2Nm6ct7e4vH6zWxPZdtDdyRg3jWbehzvwkJFs=
-----END PRIVATE KEY-----$$, 'ES256');
SELECT jwt_key_import($$-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEA0ctYu2jbfzwm8lTW8QCRS2EgzvQOkh0+7G9dL9B2qOc=
-----END PUBLIC KEY-----$$, 'ES256');
SELECT jwt_key_import($$-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIMAlvr7SANkH6Zw01M0eBv6sO4VH0c3ZiROBUXmDjCJQoAoGCCqGSM49
AwEHoUQDQgAE6cjNS5dmOsSrPgFMWtgKVmh1OcgCYlzJkx/qUC1vEHVZliFgnA3A
94RD0au5e8JIA0tpIgv3Q4WqvKMqfXhSMQ==
-----END EC PRIVATE KEY-----$$, 'RS256');
SELECT jwt_key_import($$-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAyPjrUaZ5cdUo6+5Sd4ox
yktH6gner93L32m6cVULoHeVXUd4Q5PzmeyTLutJhjpBI0Mfk9QT9NdnTNCQvRX9
h3f9y7flR5GNEAz5/T8+rigm8hKAmmbRGEGcJHfixgqUd/w/0xrRBq54Wkt75DEQ
CgTrudpnWlP4BIiZaBftf1M+d8/w0WCRKTh8j3V01j7CitMWoyaaJft1g7esqwFC
Sx4Q03k+eYcZHfEYcoKUK+K5veR8+eJfU+EMuhlfPR1lhCMV7mwdVMGGLPXF6Isk
5I1rB526DDAME/8VfDs3E3HzsrqHtCXX+5om9sorD2r3g3lmL773ISzHOhczJ7nK
bQIDAQAB
-----END PUBLIC KEY-----$$, 'EdDSA');
SELECT jwt_key_import($$-----BEGIN ENCRYPTED PRIVATE KEY-----
MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAjmDu2y5qKiYQICCAAw
DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEENYbKcP26Z4/FVBS02V4esEgZCl
NAS5cjiUperjflDYHW42K5qv9HWUoU1PDZ+5oEvRBdc+LxXtOCE8iHD1RtDmAEh1
6CQzT2TtVG2rPZDFbNAFHDaKjBuefGPTwecN/E/SM7/rxPYVX/bG+036A4U6Dqc+
0hg1ZZ7ZpwkHHKK60uGvuKqHUhCTrwk6rv85guJMc0FX26FzJpZgxcEtfQ5x42Y=
-----END ENCRYPTED PRIVATE KEY-----$$, 'ES256');
SELECT jwt_key_import(E'-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----', 'ES256');
SELECT jwt_key_import('not a key', 'ES256');
SELECT jwt_key_import('{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"AAAAnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}', 'ES256');
SELECT jwt_key_import('{"kty":"EC","crv":"P-256","alg":"ES384","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}', 'ES256');
SELECT jwt_key_import('{"kty":"EC","crv":"P-256","use":"enc","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}', 'ES256');
SELECT jwt_key_import('{"keys":[]}', 'ES256');
SELECT jwt_key_import('{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"AAAAne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}', 'EdDSA');
SELECT jwt_key_import(NULL, 'ES256');

-- Key confusion: an HS256 token whose MAC is keyed with a stored public
-- key, as PEM or as JWK text, is refused before any MAC is computed: that
-- kid names an RS256 key, and without a kid only HS256 keys would be
-- tried, of which the store has none once the generated ones are retired.
UPDATE jwt_pg.keys SET state = 'retired' WHERE alg LIKE 'HS%';
SELECT outcome_store(forge('{"alg":"HS256","kid":"rsa-spki"}', '{"sub":"admin"}', $$-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAyPjrUaZ5cdUo6+5Sd4ox
yktH6gner93L32m6cVULoHeVXUd4Q5PzmeyTLutJhjpBI0Mfk9QT9NdnTNCQvRX9
h3f9y7flR5GNEAz5/T8+rigm8hKAmmbRGEGcJHfixgqUd/w/0xrRBq54Wkt75DEQ
CgTrudpnWlP4BIiZaBftf1M+d8/w0WCRKTh8j3V01j7CitMWoyaaJft1g7esqwFC
Sx4Q03k+eYcZHfEYcoKUK+K5veR8+eJfU+EMuhlfPR1lhCMV7mwdVMGGLPXF6Isk
5I1rB526DDAME/8VfDs3E3HzsrqHtCXX+5om9sorD2r3g3lmL773ISzHOhczJ7nK
bQIDAQAB
-----END PUBLIC KEY-----$$));
SELECT outcome_store(forge('{"alg":"HS256","kid":"rsa-spki"}', '{"sub":"admin"}',
                           (SELECT public_jwk::text FROM jwt_pg.keys WHERE kid = 'rsa-spki')));
SELECT jwt_verify(forge('{"alg":"HS256","kid":"rsa-spki"}', '{"sub":"admin"}', 'any-secret-of-at-least-32-bytes!'));
SELECT outcome_store(forge('{"alg":"HS256"}', '{"sub":"admin"}', $$-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAyPjrUaZ5cdUo6+5Sd4ox
yktH6gner93L32m6cVULoHeVXUd4Q5PzmeyTLutJhjpBI0Mfk9QT9NdnTNCQvRX9
h3f9y7flR5GNEAz5/T8+rigm8hKAmmbRGEGcJHfixgqUd/w/0xrRBq54Wkt75DEQ
CgTrudpnWlP4BIiZaBftf1M+d8/w0WCRKTh8j3V01j7CitMWoyaaJft1g7esqwFC
Sx4Q03k+eYcZHfEYcoKUK+K5veR8+eJfU+EMuhlfPR1lhCMV7mwdVMGGLPXF6Isk
5I1rB526DDAME/8VfDs3E3HzsrqHtCXX+5om9sorD2r3g3lmL773ISzHOhczJ7nK
bQIDAQAB
-----END PUBLIC KEY-----$$));

-- HMAC keys: a secret as text or an oct JWK, never a public key.
SELECT jwt_key_import('a-stored-hmac-secret-of-32-bytes', 'HS256', 'hs-text') AS kid;
SELECT jwt_key_import('{"kty":"oct","kid":"hs-jwk","k":"' || b64url(repeat('z', 48)) || '"}', 'HS384') AS kid;
SELECT outcome_store(jwt_create('{}', 'a-stored-hmac-secret-of-32-bytes', header => '{"kid":"hs-text"}')) AS literal_secret_token;
SELECT outcome_store(jwt_create('{}', repeat('z', 48), 'HS384', header => '{"kid":"hs-jwk"}')) AS oct_jwk_token;
-- should fail
SELECT jwt_key_import($$-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAyPjrUaZ5cdUo6+5Sd4ox
yktH6gner93L32m6cVULoHeVXUd4Q5PzmeyTLutJhjpBI0Mfk9QT9NdnTNCQvRX9
h3f9y7flR5GNEAz5/T8+rigm8hKAmmbRGEGcJHfixgqUd/w/0xrRBq54Wkt75DEQ
CgTrudpnWlP4BIiZaBftf1M+d8/w0WCRKTh8j3V01j7CitMWoyaaJft1g7esqwFC
Sx4Q03k+eYcZHfEYcoKUK+K5veR8+eJfU+EMuhlfPR1lhCMV7mwdVMGGLPXF6Isk
5I1rB526DDAME/8VfDs3E3HzsrqHtCXX+5om9sorD2r3g3lmL773ISzHOhczJ7nK
bQIDAQAB
-----END PUBLIC KEY-----$$, 'HS256');
SELECT jwt_key_import((SELECT public_jwk::text FROM jwt_pg.keys WHERE kid = 'rsa-spki'), 'HS256');
SELECT jwt_key_import('too-short', 'HS256');
SELECT jwt_key_import('{"kty":"oct","alg":"HS512","k":"' || b64url(repeat('z', 64)) || '"}', 'HS256');
SELECT jwt_key_import('{"kty":"oct","use":"enc","k":"' || b64url(repeat('z', 64)) || '"}', 'HS256');

-- A key's own algorithm must be the header's, even within HMAC.
SELECT outcome_store(forge('{"alg":"HS512","kid":"hs-text"}', '{"sub":"admin"}', 'a-stored-hmac-secret-of-32-bytes', 'sha512'));
-- An unknown kid never falls back to another key that would verify.
SELECT outcome_store(forge('{"alg":"HS256","kid":"nope"}', '{"sub":"admin"}', 'a-stored-hmac-secret-of-32-bytes'));
-- Key members in the header are never used: jwk, jku, x5u, x5c.
SELECT outcome_store(forge('{"alg":"HS256","jwk":{"kty":"oct","k":"' || b64url('attacker-secret-of-32-bytes-long') || '"}}',
                           '{"sub":"admin"}', 'attacker-secret-of-32-bytes-long'));
SELECT outcome_store(forge('{"alg":"HS256","jku":"https://attacker.example/jwks","x5u":"https://attacker.example/cert","x5c":["AAAA"]}',
                           '{"sub":"admin"}', 'attacker-secret-of-32-bytes-long'));

-- kid misuse: matched exactly, as data, with a length limit.
SELECT kid_case, outcome_store(forge(format('{"alg":"HS256","kid":%s}', kid_json), '{"sub":"admin"}',
                                     'a-stored-hmac-secret-of-32-bytes')) AS outcome
  FROM (VALUES ('exact', '"hs-text"'), ('other case', '"HS-TEXT"'), ('prefix', '"hs-tex"'),
               ('trailing space', '"hs-text "'), ('SQL text', to_json('x'' OR ''1''=''1'::text)::text),
               ('NUL inside', '"hs-text\u0000"'), ('257 bytes', to_json(repeat('k', 257))::text)) AS c(kid_case, kid_json);
SELECT outcome_store(forge('{"alg":"HS256","kid":["hs-text"]}', '{}', 'a-stored-hmac-secret-of-32-bytes'));

-- ECDSA signatures: only the fixed-width R||S form, with 1 <= r, s < n.
CREATE TABLE ecdsa AS SELECT jwt_create('{"sub":"e"}', algorithm => 'ES256', header => '{"kid":"p256-sec1"}') AS token;
SELECT form, outcome_store(with_signature(token, sig)) AS outcome
  FROM ecdsa, LATERAL (VALUES
    ('R||S', signature(token)),
    ('S||R', substr(signature(token), 33, 32) || substr(signature(token), 1, 32)),
    ('DER', '\x3044'::bytea || '\x0220'::bytea || substr(signature(token), 1, 32) || '\x0220'::bytea || substr(signature(token), 33, 32)),
    ('all zero', '\x'::bytea || decode(repeat('00', 64), 'hex')),
    ('r = 0', decode(repeat('00', 32), 'hex') || substr(signature(token), 33, 32)),
    ('r = n', decode('ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551', 'hex') || substr(signature(token), 33, 32)),
    ('s = n', substr(signature(token), 1, 32) || decode('ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551', 'hex')),
    ('one byte short', substr(signature(token), 1, 63))) AS f(form, sig);

-- Privileges: the store is hidden, keys are managed by its owner, and
-- signing with stored keys needs EXECUTE on jwt_pg.sign_with_stored_keys().
CREATE ROLE regress_jwt_key_user;
GRANT USAGE ON SCHEMA public TO regress_jwt_key_user;
GRANT SELECT ON signed TO regress_jwt_key_user;
SELECT has_table_privilege('regress_jwt_key_user', 'jwt_pg.keys', 'SELECT') AS may_read_keys,
       has_function_privilege('regress_jwt_key_user', 'jwt_key_generate(text, text)', 'EXECUTE') AS may_generate,
       has_function_privilege('regress_jwt_key_user', 'jwt_key_import(text, text, text)', 'EXECUTE') AS may_import,
       has_function_privilege('regress_jwt_key_user', 'jwt_key_set_state(text, text)', 'EXECUTE') AS may_set_state,
       has_function_privilege('regress_jwt_key_user', 'jwt_jwks()', 'EXECUTE') AS may_read_jwks;
CREATE FUNCTION issue_token(subject text) RETURNS text
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp
AS $$ SELECT jwt_create(jsonb_build_object('sub', subject), algorithm => 'ES256') $$;
GRANT EXECUTE ON FUNCTION issue_token(text) TO regress_jwt_key_user;
SET ROLE regress_jwt_key_user;
SELECT count(*) AS verified FROM signed WHERE jwt_valid(token);
SELECT jsonb_array_length(jwt_jwks() -> 'keys') > 0 AS sees_jwks;
SELECT outcome_store(issue_token('bob')) AS through_definer;
-- should fail
SELECT jwt_create('{}', algorithm => 'ES256');
SELECT * FROM jwt_decode(jws_sign('x', NULL::text, 'ES256'));
SELECT count(*) FROM jwt_pg.keys;
SELECT jwt_key_generate('ES256');
RESET ROLE;
GRANT EXECUTE ON FUNCTION jwt_pg.sign_with_stored_keys() TO regress_jwt_key_user;
SET ROLE regress_jwt_key_user;
SELECT outcome_store(jwt_create('{}', algorithm => 'ES256')) AS granted;
RESET ROLE;
REVOKE EXECUTE ON FUNCTION jwt_pg.sign_with_stored_keys() FROM regress_jwt_key_user;
DROP FUNCTION issue_token(text);
REVOKE ALL ON signed FROM regress_jwt_key_user;
REVOKE USAGE ON SCHEMA public FROM regress_jwt_key_user;
DROP ROLE regress_jwt_key_user;

-- Parallel workers read the key store with the query's snapshot.
SET force_parallel_mode = on;
SELECT count(*) AS verified_in_worker FROM signed WHERE jwt_valid(token);
SELECT jwt_valid(jwt_create('{"sub":"p"}', algorithm => 'EdDSA')) AS signed_in_worker;
RESET force_parallel_mode;

DROP TABLE generated, signed, rotation, ecdsa;
DELETE FROM jwt_pg.keys;
DELETE FROM jwt_pg.refresh_tokens;
DELETE FROM jwt_pg.refresh_families;

-- The errors of the key functions, with their SQLSTATEs.
SELECT jwt_key_generate('ES256', 'errors-key') AS kid;
SELECT statement, error_of(statement) AS error
  FROM (VALUES
    ($$SELECT jwt_key_generate(NULL)$$),
    ($$SELECT jwt_key_generate('none')$$),
    ($$SELECT jwt_key_generate('es256')$$),
    ($$SELECT jwt_key_generate('ES256', '')$$),
    ($$SELECT jwt_key_generate('ES256', 'errors-key')$$),
    ($$SELECT jwt_key_import(NULL, 'ES256')$$),
    ($$SELECT jwt_key_import('not a key', 'ES256')$$),
    ($$SELECT jwt_key_import('too-short', 'HS256')$$),
    ($$SELECT jwt_key_import('{"keys":[]}'::jsonb, 'ES256')$$),
    ($$SELECT jwt_key_set_state('missing', 'retired')$$),
    ($$SELECT jwt_key_set_state('errors-key', 'revoked')$$),
    ($$SELECT jwt_key_set_state(NULL, 'retired')$$),
    ($$SELECT jwt_create('{}', algorithm => 'EdDSA')$$),
    ($$SELECT jwt_create('{}', algorithm => 'ES256', header => '{"kid":"missing"}')$$)
  ) AS t(statement);
DELETE FROM jwt_pg.keys;
