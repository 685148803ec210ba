-- Times one round of jwt_create and jwt_verify with stored keys for the
-- algorithms that bench.algorithms maps to one `openssl speed` primitive.
-- bench/run.sh runs this in a new session each time, between runs of
-- `openssl speed`.  psql variables: round, primitive.

\set ON_ERROR_STOP 1
SET client_min_messages = warning;
-- bench.tokens is an ordinary table, so without this setting the planner
-- may split a query over parallel workers, which would understate the time
-- per call.
SET max_parallel_workers_per_gather = 0;
SELECT set_config('bench.round', :'round', false),
       set_config('bench.primitive', :'primitive', false) \g /dev/null

DO $$
DECLARE
  a record;
  started timestamptz;
  operations int8;
BEGIN
  -- Untimed: the first call in a session loads and parses the stored keys.
  FOR a IN SELECT * FROM bench.algorithms
            WHERE primitive = current_setting('bench.primitive') LOOP
    PERFORM jwt_verify(jwt_create('{}', algorithm => a.algorithm));
  END LOOP;

  FOR a IN SELECT * FROM bench.algorithms
            WHERE primitive = current_setting('bench.primitive')
            ORDER BY algorithm LOOP
    started := clock_timestamp();
    EXECUTE format($q$
      SELECT count(jwt_create(jsonb_build_object('sub', 'user-' || g, 'role', 'reader',
                                                 'email', 'user' || g || '@example.com',
                                                 'iss', 'https://auth.example.com'),
                              algorithm => %L, expires_in => '1 day'))
        FROM generate_series(1, %s) g$q$, a.algorithm, a.sign_rows)
      INTO operations;
    INSERT INTO bench.jwt_pg_results
    VALUES (current_setting('bench.round')::int, a.algorithm, 'sign', operations,
            extract(epoch FROM clock_timestamp() - started));

    -- jwt_verify raises on a token it rejects, so the count is the row count.
    started := clock_timestamp();
    EXECUTE format('SELECT count(jwt_verify(token)) FROM bench.tokens WHERE algorithm = %L',
                   a.algorithm)
      INTO operations;
    INSERT INTO bench.jwt_pg_results
    VALUES (current_setting('bench.round')::int, a.algorithm, 'verify', operations,
            extract(epoch FROM clock_timestamp() - started));
  END LOOP;
END $$;
