-- Prepares the pgbench benchmark of bench/run.sh: one database for the
-- rotations, two for jwt_verify (revocation tables empty, and filled with
-- :revoked_rows unrelated rows each), and one for the results.  Run it
-- connected to database postgres.  psql variable: revoked_rows.

\set ON_ERROR_STOP 1
SET client_min_messages = warning;

CREATE DATABASE bench_pgbench;
CREATE DATABASE bench_refresh;
CREATE DATABASE bench_verify_empty;
CREATE DATABASE bench_verify_filled;

\c bench_pgbench
SET client_min_messages = warning;
CREATE SCHEMA bench;
-- One row per pgbench run.  revoked_rows is the number of rows in each of
-- jwt_pg.blacklist and jwt_pg.subject_cutoffs, and is 0 for rotations.
CREATE TABLE bench.pgbench_runs (
    round int NOT NULL,
    benchmark text NOT NULL,
    clients int NOT NULL,
    revoked_rows int NOT NULL,
    transactions int8 NOT NULL,
    per_second float8 NOT NULL
);

\c bench_refresh
SET client_min_messages = warning;
CREATE EXTENSION jwt_pg;

\c bench_verify_empty
SET client_min_messages = warning;
CREATE EXTENSION jwt_pg;
VACUUM ANALYZE jwt_pg.blacklist, jwt_pg.subject_cutoffs;

\c bench_verify_filled
SET client_min_messages = warning;
CREATE EXTENSION jwt_pg;

-- Revoked jtis and subjects that are not those of the verified tokens,
-- which are random jtis and "user-<client id>".
INSERT INTO jwt_pg.blacklist (jti, expires_at, reason)
SELECT 'revoked-' || g, statement_timestamp() + interval '1 day', 'benchmark'
  FROM generate_series(1, :revoked_rows) g;
INSERT INTO jwt_pg.subject_cutoffs (subject, revoked_before, reason)
SELECT 'revoked-user-' || g, statement_timestamp(), 'benchmark'
  FROM generate_series(1, :revoked_rows) g;

-- Sets the hint bits and the visibility map now, so that the first timed
-- run does not pay for it.
VACUUM ANALYZE jwt_pg.blacklist, jwt_pg.subject_cutoffs;
