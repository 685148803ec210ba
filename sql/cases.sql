--
-- Tokens that JWT libraries have got wrong, one per kind of fault, with
-- the result a careful verifier gives.  The secret and times are fixed:
-- exp 4102444800 is 2100-01-01, exp 1 is long past.
--

CREATE TABLE cases (id text, token text, secret text, audience text, issuer text);
INSERT INTO cases VALUES
  ('valid-baseline', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJyb2xlIjoicmVhZGVyIiwiZXhwIjo0MTAyNDQ0ODAwfQ.HsLv8LH3c0JK0rPeNjeaMAwUQCngDAkeDphmPWkXAPY',
   'cases-secret-0123456789abcdefghijklmnop', NULL, NULL),
  ('alg-none-empty-sig', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1c2VyLTEiLCJyb2xlIjoicmVhZGVyIiwiZXhwIjo0MTAyNDQ0ODAwfQ.',
   'cases-secret-0123456789abcdefghijklmnop', NULL, NULL),
  ('alg-none-with-sig', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1c2VyLTEiLCJyb2xlIjoicmVhZGVyIiwiZXhwIjo0MTAyNDQ0ODAwfQ.AAAA',
   'cases-secret-0123456789abcdefghijklmnop', NULL, NULL),
  ('mac-truncated-16', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJyb2xlIjoicmVhZGVyIiwiZXhwIjo0MTAyNDQ0ODAwfQ.HsLv8LH3c0JK0rPeNjeaMA',
   'cases-secret-0123456789abcdefghijklmnop', NULL, NULL),
  ('mac-extra-bytes', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJyb2xlIjoicmVhZGVyIiwiZXhwIjo0MTAyNDQ0ODAwfQ.HsLv8LH3c0JK0rPeNjeaMAwUQCngDAkeDphmPWkXAPY12',
   'cases-secret-0123456789abcdefghijklmnop', NULL, NULL),
  ('sig-padded', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJyb2xlIjoicmVhZGVyIiwiZXhwIjo0MTAyNDQ0ODAwfQ.HsLv8LH3c0JK0rPeNjeaMAwUQCngDAkeDphmPWkXAPY=',
   'cases-secret-0123456789abcdefghijklmnop', NULL, NULL),
  ('sig-std-alphabet', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJyb2xlIjoicmVhZGVyIiwiZXhwIjo0MTAyNDQ0ODAwfQ.HsLv8LH3c0JK0rPeNjeaMAwUQCngDAkeDphmPWkXAP+',
   'cases-secret-0123456789abcdefghijklmnop', NULL, NULL),
  ('trailing-newline', E'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJyb2xlIjoicmVhZGVyIiwiZXhwIjo0MTAyNDQ0ODAwfQ.HsLv8LH3c0JK0rPeNjeaMAwUQCngDAkeDphmPWkXAPY\n',
   'cases-secret-0123456789abcdefghijklmnop', NULL, NULL),
  ('four-segments', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJyb2xlIjoicmVhZGVyIiwiZXhwIjo0MTAyNDQ0ODAwfQ.HsLv8LH3c0JK0rPeNjeaMAwUQCngDAkeDphmPWkXAPY.x',
   'cases-secret-0123456789abcdefghijklmnop', NULL, NULL),
  ('two-segments', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJyb2xlIjoicmVhZGVyIiwiZXhwIjo0MTAyNDQ0ODAwfQ',
   'cases-secret-0123456789abcdefghijklmnop', NULL, NULL),
  ('empty-token', '',
   'cases-secret-0123456789abcdefghijklmnop', NULL, NULL),
  ('exp-as-string', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJyb2xlIjoicmVhZGVyIiwiZXhwIjoiNDEwMjQ0NDgwMCJ9.kYmEwqpebwyHZLgpgBAsou2qln6hjzhz0uUZ9tvBjvo',
   'cases-secret-0123456789abcdefghijklmnop', NULL, NULL),
  ('exp-overflow', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJleHAiOjk5OTk5OTk5OTk5OTk5OTk5OTk5fQ.35ULFiuH2BBQZ0-v4UqEVK69MaM-JZLUiqIVhKoJbUY',
   'cases-secret-0123456789abcdefghijklmnop', NULL, NULL),
  ('exp-huge-float', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJleHAiOjFlNDAwfQ.PChyIpEJvymtuKdIFPfXZeMMsEL8ZXrCgyZ3trDJndU',
   'cases-secret-0123456789abcdefghijklmnop', NULL, NULL),
  ('exp-fractional', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJleHAiOjQxMDI0NDQ4MDAuNX0.u5mjcx_6pMIS5V5PARfPwL4E_wY1x-K2SEDq4OWiE8o',
   'cases-secret-0123456789abcdefghijklmnop', NULL, NULL),
  ('exp-past', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJyb2xlIjoicmVhZGVyIiwiZXhwIjoxfQ.BtvErivBcJMSXQfPi9b0kevilvHzER6soVJPnKYbA_8',
   'cases-secret-0123456789abcdefghijklmnop', NULL, NULL),
  ('nbf-future', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJyb2xlIjoicmVhZGVyIiwiZXhwIjo0MTAyNDQ0ODAwLCJuYmYiOjQxMDI0NDQ3OTl9.6RVZ5l67OB7Liw-8Qzc34SYQfWXehPlLA3ScV-u9CqA',
   'cases-secret-0123456789abcdefghijklmnop', NULL, NULL),
  ('iat-future', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJyb2xlIjoicmVhZGVyIiwiZXhwIjo0MTAyNDQ0ODAwLCJpYXQiOjQxMDI0NDQ3OTl9.RZtonr4K1ycU49eltjJe_mz8QZQTWPr0b6r6_iuU8Y0',
   'cases-secret-0123456789abcdefghijklmnop', NULL, NULL),
  ('dup-alg-header', 'eyJhbGciOiJIUzI1NiIsImFsZyI6Im5vbmUifQ.eyJzdWIiOiAidXNlci0xIiwgInJvbGUiOiAicmVhZGVyIiwgImV4cCI6IDQxMDI0NDQ4MDB9.1f1XS7k5N6iA34EHa0WJRceWrPIQSUf5kqYSERCwofQ',
   'cases-secret-0123456789abcdefghijklmnop', NULL, NULL),
  ('dup-claim', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJyb2xlIjoicmVhZGVyIiwicm9sZSI6ImFkbWluIiwiZXhwIjo0MTAyNDQ0ODAwfQ.ftuuuRy_3q5yKnm3nj48eu2IrOevrJpxwi9lh_viTUs',
   'cases-secret-0123456789abcdefghijklmnop', NULL, NULL),
  ('crit-unknown', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImNyaXQiOlsieC1leHQiXSwieC1leHQiOjF9.eyJzdWIiOiJ1c2VyLTEiLCJyb2xlIjoicmVhZGVyIiwiZXhwIjo0MTAyNDQ0ODAwfQ.q1bqMVPBHzBSUP9uWBp4qpi-BREZoeEnfxyg8KcZNlM',
   'cases-secret-0123456789abcdefghijklmnop', NULL, NULL),
  ('b64-false', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImI2NCI6ZmFsc2UsImNyaXQiOlsiYjY0Il19.eyJzdWIiOiJ1c2VyLTEiLCJyb2xlIjoicmVhZGVyIiwiZXhwIjo0MTAyNDQ0ODAwfQ.ETRgtZA2TwPVcKKTxToDQCg4ATDr8ZaaIahExvG58Hg',
   'cases-secret-0123456789abcdefghijklmnop', NULL, NULL),
  ('jwe-five-segments', 'eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.AAAA.AAAA.AAAA.AAAA',
   'cases-secret-0123456789abcdefghijklmnop', NULL, NULL),
  ('header-not-object', 'WyJIUzI1NiJd.eyJzdWIiOiAidXNlci0xIiwgInJvbGUiOiAicmVhZGVyIiwgImV4cCI6IDQxMDI0NDQ4MDB9.YIryQlccvbPu5EzgHknfvtJUCZJx2lQ-_tAiG7M6MEo',
   'cases-secret-0123456789abcdefghijklmnop', NULL, NULL),
  ('claims-not-object', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.WyJ1c2VyLTEiXQ.LoVvNI0xuiTbrTTMkLD_9THMUvn0FyfYHNQkOkW14ts',
   'cases-secret-0123456789abcdefghijklmnop', NULL, NULL),
  ('claims-invalid-utf8', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiL__iIsImV4cCI6NDEwMjQ0NDgwMH0.lXZdxhNLpVAp0uIP8b7RvnroYXJu7v7Ga3Cyaep5K5E',
   'cases-secret-0123456789abcdefghijklmnop', NULL, NULL),
  ('claims-nul-escape', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTFcdTAwMDB4IiwiZXhwIjo0MTAyNDQ0ODAwfQ.Zjnkqpcvm-NCDEtturnl4hoB1uCaYnQk3lCF6CcybHY',
   'cases-secret-0123456789abcdefghijklmnop', NULL, NULL),
  ('aud-array-match', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJyb2xlIjoicmVhZGVyIiwiZXhwIjo0MTAyNDQ0ODAwLCJhdWQiOlsic3ZjLWEiLCJzdmMtYiJdfQ.g8In66a9GBFM5_rVqgxfp-nLDXLuYOYEVY6pkMG-UWo',
   'cases-secret-0123456789abcdefghijklmnop', 'svc-b', NULL),
  ('aud-array-miss', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJyb2xlIjoicmVhZGVyIiwiZXhwIjo0MTAyNDQ0ODAwLCJhdWQiOlsic3ZjLWEiXX0.wNXoThssZ96MeboGqOEAqGKcbalbwab7y350rRBUfBs',
   'cases-secret-0123456789abcdefghijklmnop', 'svc-b', NULL),
  ('aud-number', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJyb2xlIjoicmVhZGVyIiwiZXhwIjo0MTAyNDQ0ODAwLCJhdWQiOjV9.72e6iEnmAuo-SD7OgCJIJYXMB8ToNH11UyBVroNzNa0',
   'cases-secret-0123456789abcdefghijklmnop', 'svc-b', NULL),
  ('aud-missing', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJyb2xlIjoicmVhZGVyIiwiZXhwIjo0MTAyNDQ0ODAwfQ.HsLv8LH3c0JK0rPeNjeaMAwUQCngDAkeDphmPWkXAPY',
   'cases-secret-0123456789abcdefghijklmnop', 'svc-b', NULL),
  ('iss-prefix', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJyb2xlIjoicmVhZGVyIiwiZXhwIjo0MTAyNDQ0ODAwLCJpc3MiOiJodHRwczovL2lzc3Vlci5leGFtcGxlL2F1dGgveCJ9.SF-HqckAm4WcV8RSc60LWwmplnfJjcre9N-0VxxBDbQ',
   'cases-secret-0123456789abcdefghijklmnop', NULL, 'https://issuer.example/auth'),
  ('iss-case', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJyb2xlIjoicmVhZGVyIiwiZXhwIjo0MTAyNDQ0ODAwLCJpc3MiOiJodHRwczovL0lTU1VFUi5leGFtcGxlL2F1dGgifQ.c5MvHjxwYlnDgylNJLfg9P-7jss5GOKnsLYt2E1Puf0',
   'cases-secret-0123456789abcdefghijklmnop', NULL, 'https://issuer.example/auth'),
  ('short-secret', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJyb2xlIjoicmVhZGVyIiwiZXhwIjo0MTAyNDQ0ODAwfQ.9WBkZgoY8lGd4D1uhxHxTyCdBy2xchmQ9SY3dUxWteY',
   'short-key', NULL, NULL);

SELECT id, outcome(token, secret, audience, issuer) FROM cases ORDER BY id;

-- The same faults with the reason in full.
-- should fail
SELECT jwt_verify(token, secret) FROM cases WHERE id = 'alg-none-empty-sig';
SELECT jwt_verify(token, secret) FROM cases WHERE id = 'mac-truncated-16';
SELECT jwt_verify(token, secret) FROM cases WHERE id = 'sig-padded';
SELECT jwt_verify(token, secret) FROM cases WHERE id = 'jwe-five-segments';
SELECT jwt_verify(token, secret) FROM cases WHERE id = 'exp-as-string';
SELECT jwt_verify(token, secret) FROM cases WHERE id = 'exp-huge-float';
SELECT jwt_verify(token, secret) FROM cases WHERE id = 'dup-alg-header';
SELECT jwt_verify(token, secret) FROM cases WHERE id = 'dup-claim';
SELECT jwt_verify(token, secret) FROM cases WHERE id = 'crit-unknown';
SELECT jwt_verify(token, secret) FROM cases WHERE id = 'claims-invalid-utf8';
SELECT jwt_verify(token, secret) FROM cases WHERE id = 'claims-nul-escape';
SELECT jwt_verify(token, secret, audience => audience) FROM cases WHERE id = 'aud-number';
SELECT jwt_verify(token, secret, issuer => issuer) FROM cases WHERE id = 'iss-prefix';
SELECT jwt_verify(token, secret) FROM cases WHERE id = 'short-secret';

-- A 20,000-level nested array, 53 kB, signed correctly: rejected by the
-- depth limit, and the backend carries on.
SELECT length(t) AS bytes, outcome(t, 'cases-secret-0123456789abcdefghijklmnop', NULL, NULL)
  FROM (SELECT jws_sign(convert_to('{"sub":"user-1","exp":4102444800,"x":' || repeat('[', 20000) ||
                                   repeat(']', 20000) || '}', 'UTF8'),
                        'cases-secret-0123456789abcdefghijklmnop', 'HS256', '{"typ":"JWT"}') AS t) s;
SELECT 1 AS still_alive;

DROP TABLE cases;
