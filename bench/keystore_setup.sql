-- Prepares the key store benchmark: one generated key per algorithm and
-- :rows tokens signed with each.  The tables live in schema bench, not in
-- temporary tables, because bench/run.sh times each round in a new session
-- (bench/keystore_round.sql).  psql variable: rows.

\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS jwt_pg;
CREATE SCHEMA bench;

-- primitive is the `openssl speed` test that each algorithm is compared
-- with.  PS256 has no test of its own, so it shares rsa2048 with RS256.
-- An RSA-2048 signature costs over 20 times an ECDSA P-256 one (compare
-- their sign/s in `openssl speed`), so the RSA signing queries sign a
-- quarter of the rows to keep a round short.
CREATE TABLE bench.algorithms (
    algorithm text PRIMARY KEY,
    primitive text NOT NULL,
    sign_rows int NOT NULL
);
INSERT INTO bench.algorithms VALUES
  ('RS256', 'rsa2048', greatest(:rows / 4, 1)),
  ('PS256', 'rsa2048', greatest(:rows / 4, 1)),
  ('ES256', 'ecdsap256', :rows),
  ('EdDSA', 'ed25519', :rows);

-- RSA 2048 bits, P-256 and Ed25519 keys, each the only active key of its
-- algorithm, so that jwt_create signs with it and puts its kid in the header.
SELECT jwt_key_generate(algorithm) FROM bench.algorithms \g /dev/null

-- The same claims as the HS256 tokens of bench/verify_create.sql.
CREATE TABLE bench.tokens AS
SELECT a.algorithm,
       g AS id,
       jwt_create(jsonb_build_object('sub', 'user-' || g, 'role', 'reader',
                                     'email', 'user' || g || '@example.com',
                                     'iss', 'https://auth.example.com'),
                  algorithm => a.algorithm, expires_in => '1 day') AS token
  FROM bench.algorithms a, generate_series(1, :rows) g;
ANALYZE bench.tokens;

-- One row per timed query: operations done in seconds of wall-clock time.
CREATE TABLE bench.jwt_pg_results (
    round int NOT NULL,
    algorithm text NOT NULL,
    operation text NOT NULL CHECK (operation IN ('sign', 'verify')),
    operations int8 NOT NULL,
    seconds float8 NOT NULL
);

-- One row per `openssl speed` run, as it reports them.
CREATE TABLE bench.openssl_results (
    round int NOT NULL,
    primitive text NOT NULL,
    signs_per_second float8 NOT NULL,
    verifies_per_second float8 NOT NULL
);
