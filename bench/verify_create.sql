-- Per-call cost of jwt_verify and jwt_create against pgcrypto baselines.
-- Run by bench/run.sh on a throwaway cluster; psql variables: rows, rounds.

\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE EXTENSION IF NOT EXISTS jwt_pg;

CREATE TEMP TABLE bench_tokens AS
SELECT g AS id,
       jwt_create(jsonb_build_object('sub', 'user-' || g, 'role', 'reader',
                                     'email', 'user' || g || '@example.com',
                                     'iss', 'https://auth.example.com'),
                  '0123456789abcdef0123456789abcdef', expires_in => '1 day') AS token
  FROM generate_series(1, :rows) g;
ANALYZE bench_tokens;

CREATE TEMP TABLE bench_queries (name text, sql text);
INSERT INTO bench_queries VALUES
  ('verify baseline: pgcrypto hmac of the signing input',
   $q$SELECT count(hmac(split_part(token, '.', 1) || '.' || split_part(token, '.', 2),
                        '0123456789abcdef0123456789abcdef', 'sha256')) FROM bench_tokens$q$),
  ('jwt_verify',
   $q$SELECT count(jwt_verify(token, '0123456789abcdef0123456789abcdef')) FROM bench_tokens$q$),
  ('create baseline: jsonb_build_object + base64url + hmac',
   $q$SELECT count(h || '.' || p || '.' ||
                   translate(encode(hmac(h || '.' || p, '0123456789abcdef0123456789abcdef', 'sha256'), 'base64'), E'+/=\n', '-_'))
        FROM (SELECT 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9' AS h,
                     translate(encode(convert_to(jsonb_build_object(
                         'sub', 'user-' || id, 'role', 'reader', 'email', 'user' || id || '@example.com',
                         'iss', 'https://auth.example.com',
                         'iat', floor(extract(epoch FROM statement_timestamp())),
                         'exp', floor(extract(epoch FROM statement_timestamp())) + 86400,
                         'jti', translate(encode(gen_random_bytes(16), 'base64'), E'+/=\n', '-_'))::text, 'UTF8'),
                       'base64'), E'+/=\n', '-_') AS p
                FROM bench_tokens) s$q$),
  ('jwt_create',
   $q$SELECT count(jwt_create(jsonb_build_object('sub', 'user-' || id, 'role', 'reader',
                                                'email', 'user' || id || '@example.com',
                                                'iss', 'https://auth.example.com'),
                              '0123456789abcdef0123456789abcdef', expires_in => '1 day'))
        FROM bench_tokens$q$);

-- Each query runs once per round, in turn, so that noise from other
-- processes falls on all of them alike.
CREATE TEMP TABLE bench_results (phase text, query text, round int, ms float8);

CREATE FUNCTION pg_temp.run_rounds(phase text, pattern text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  q record;
  started timestamptz;
BEGIN
  FOR r IN 1..current_setting('bench.rounds')::int LOOP
    FOR q IN SELECT * FROM bench_queries WHERE name ~ pattern ORDER BY name LOOP
      started := clock_timestamp();
      EXECUTE q.sql;
      INSERT INTO bench_results VALUES (phase, q.name, r,
        extract(epoch FROM clock_timestamp() - started) * 1000);
    END LOOP;
  END LOOP;
END $$;

SELECT pg_temp.run_rounds('empty blacklist', '.') \g /dev/null

-- 100,000 revoked tokens that are not the ones verified.
INSERT INTO jwt_pg.blacklist (jti, expires_at, reason)
SELECT 'revoked-' || g, statement_timestamp() + interval '1 day', 'benchmark'
  FROM generate_series(1, 100000) g;
ANALYZE jwt_pg.blacklist;
SELECT pg_temp.run_rounds('100000 blacklist entries', 'verify') \g /dev/null
DELETE FROM jwt_pg.blacklist WHERE reason = 'benchmark';

-- Median milliseconds per query over all tokens, and the ratio to the
-- baseline of the same phase.
WITH medians AS (
  SELECT phase, query, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS ms
    FROM bench_results GROUP BY phase, query
)
SELECT m.phase, m.query, round(m.ms::numeric, 1) AS median_ms,
       round((m.ms * 1000 / :rows)::numeric, 2) AS us_per_call,
       round((m.ms / b.ms)::numeric, 2) AS ratio_to_baseline
  FROM medians m
  JOIN medians b ON b.phase = m.phase
   AND b.query LIKE split_part(CASE WHEN m.query LIKE '%create%' THEN 'create' ELSE 'verify' END, ' ', 1) || ' baseline%'
 ORDER BY m.phase DESC, m.query DESC;
