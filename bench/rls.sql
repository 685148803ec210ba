-- Row-level security with jwt_pg: the cost of a policy that reads the
-- request's claims, against the same query without it.  Run by
-- bench/run.sh in database bench_rls with -v rows=N -v rounds=N; prints
-- one CSV table.
--
-- Five tables hold the same :rows rows, 1,000 per owner:
--   by_claim     policy owner = jwt_claim('sub')
--   by_constant  policy owner = 'user-7' (the same rows, no jwt_pg call)
--   by_valid     policy jwt_valid(current_setting('request.jwt'), NULL), per row
--   by_setting   policy current_setting('request.jwt') IS NOT NULL, per row:
--                what reading the setting alone costs
--   open         no row-level security
-- The queries run as role bench_reader with an ES256 token of user-7 set
-- by jwt_session_set and in request.jwt.  Rounds interleave the queries.

\set ON_ERROR_STOP on
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS jwt_pg;
DROP ROLE IF EXISTS bench_reader;
CREATE ROLE bench_reader;
SELECT jwt_key_generate('ES256') AS kid \gset

CREATE TABLE source AS
SELECT i AS id, 'user-' || (i % (:rows / 1000)) AS owner, md5(i::text) AS body
  FROM generate_series(1, :rows) AS i;
CREATE TABLE by_claim (LIKE source);
CREATE TABLE by_constant (LIKE source);
CREATE TABLE by_valid (LIKE source);
CREATE TABLE by_setting (LIKE source);
CREATE TABLE open (LIKE source);
INSERT INTO by_claim SELECT * FROM source;
INSERT INTO by_constant SELECT * FROM source;
INSERT INTO by_valid SELECT * FROM source;
INSERT INTO by_setting SELECT * FROM source;
INSERT INTO open SELECT * FROM source;
CREATE INDEX ON by_claim (owner);
CREATE INDEX ON by_constant (owner);
ALTER TABLE by_claim ENABLE ROW LEVEL SECURITY;
ALTER TABLE by_constant ENABLE ROW LEVEL SECURITY;
ALTER TABLE by_valid ENABLE ROW LEVEL SECURITY;
ALTER TABLE by_setting ENABLE ROW LEVEL SECURITY;
CREATE POLICY p ON by_claim USING (owner = jwt_claim('sub'));
CREATE POLICY p ON by_constant USING (owner = 'user-7');
CREATE POLICY p ON by_valid USING (jwt_valid(current_setting('request.jwt'), NULL));
CREATE POLICY p ON by_setting USING (current_setting('request.jwt') IS NOT NULL);
GRANT SELECT ON by_claim, by_constant, by_valid, by_setting, open TO bench_reader;
VACUUM ANALYZE;

CREATE TABLE timings (round int, query text, ms float8);

-- Time one query in milliseconds, as bench_reader.
CREATE FUNCTION time_query(sql text) RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE
    started timestamptz;
BEGIN
    started := clock_timestamp();
    EXECUTE sql;
    RETURN extract(epoch FROM clock_timestamp() - started) * 1000;
END
$$;

SELECT jwt_create('{"sub":"user-7"}', algorithm => 'ES256', expires_in => '1 hour') AS token \gset
SELECT set_config('request.jwt', :'token', false) IS NOT NULL AS set_token;
SELECT jwt_session_set(:'token', false) IS NOT NULL AS set_session;

CREATE TABLE queries (name text, sql text);
INSERT INTO queries VALUES
  ('policy owner = jwt_claim(''sub'')', 'SELECT count(*), max(body) FROM by_claim'),
  ('policy owner = constant', 'SELECT count(*), max(body) FROM by_constant'),
  ('policy jwt_valid per row', 'SELECT count(*), max(body) FROM by_valid'),
  ('policy current_setting per row', 'SELECT count(*), max(body) FROM by_setting'),
  ('no policy', 'SELECT count(*), max(body) FROM open');
GRANT SELECT ON queries TO bench_reader;
GRANT INSERT ON timings TO bench_reader;
SET bench.rounds = :rounds;
SET max_parallel_workers_per_gather = 0;
SET ROLE bench_reader;

-- A warm-up of each query, then the rounds.
SELECT count(time_query(sql)) AS warmed FROM queries;

DO $$
DECLARE
    q record;
    r int;
BEGIN
    FOR r IN 1 .. current_setting('bench.rounds')::int LOOP
        FOR q IN SELECT * FROM queries ORDER BY CASE WHEN r % 2 = 0 THEN name END DESC,
                                                CASE WHEN r % 2 = 1 THEN name END LOOP
            INSERT INTO timings VALUES (r, q.name, time_query(q.sql));
        END LOOP;
    END LOOP;
END
$$;
RESET ROLE;

\pset format csv
\pset footer off
WITH medians AS (
    SELECT query, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS ms FROM timings GROUP BY query
)
SELECT m.query, round(m.ms::numeric, 2) AS median_ms,
       CASE m.query
           WHEN 'policy owner = jwt_claim(''sub'')' THEN 'policy owner = constant'
           WHEN 'policy jwt_valid per row' THEN 'no policy'
           WHEN 'policy current_setting per row' THEN 'no policy'
       END AS baseline,
       round((m.ms / b.ms)::numeric, 2) AS ratio,
       CASE m.query
           WHEN 'policy owner = jwt_claim(''sub'')' THEN 1.3
           WHEN 'policy jwt_valid per row' THEN 2.0
       END AS target
  FROM medians m
  LEFT JOIN medians b ON b.query = CASE m.query
           WHEN 'policy owner = jwt_claim(''sub'')' THEN 'policy owner = constant'
           WHEN 'policy jwt_valid per row' THEN 'no policy'
           WHEN 'policy current_setting per row' THEN 'no policy'
       END
 ORDER BY m.query;
