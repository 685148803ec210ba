-- Summarizes the pgbench runs of bench/run.sh as CSV.  Each run is compared
-- with the baseline run of the same round: the 1-client run for rotations,
-- and the run with empty revocation tables for jwt_verify.  The table
-- shows the median, lowest and highest of those per-round ratios, and the
-- median, lowest and highest rate.  Run it in database bench_pgbench.

\set ON_ERROR_STOP 1
SET client_min_messages = warning;

WITH per_round AS (
  SELECT r.benchmark, r.clients, r.revoked_rows, r.per_second,
         r.per_second / b.per_second AS ratio
    FROM bench.pgbench_runs r
    JOIN bench.pgbench_runs b ON b.round = r.round AND b.benchmark = r.benchmark
   WHERE (b.benchmark = 'jwt_refresh' AND b.clients = 1)
      OR (b.benchmark = 'jwt_verify' AND b.revoked_rows = 0)
)
SELECT benchmark, clients, revoked_rows,
       CASE benchmark WHEN 'jwt_refresh' THEN '1 client' ELSE 'empty tables' END AS baseline,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY per_second)::numeric) AS per_s,
       round(min(per_second)::numeric) AS per_s_min,
       round(max(per_second)::numeric) AS per_s_max,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ratio)::numeric, 2) AS ratio,
       round(min(ratio)::numeric, 2) AS ratio_min,
       round(max(ratio)::numeric, 2) AS ratio_max
  FROM per_round
 GROUP BY benchmark, clients, revoked_rows
 ORDER BY benchmark, clients, revoked_rows;
