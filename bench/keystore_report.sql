-- Summarizes the key store benchmark as CSV: the median rate of jwt_pg and
-- of `openssl speed` over all rounds, and the ratio of jwt_pg's time per
-- operation to OpenSSL's.  The ratio is computed in each round from the
-- queries and the `openssl speed` run next to each other, and the median,
-- lowest and highest of those per-round ratios are shown.

\set ON_ERROR_STOP 1
SET client_min_messages = warning;

-- Target: jwt_pg at most 1.25 times OpenSSL's time per operation.
\set target 1.25

WITH per_round AS (
  SELECT j.algorithm, j.operation, a.primitive, j.round,
         j.operations / j.seconds AS jwt_pg_per_second,
         CASE j.operation WHEN 'sign' THEN o.signs_per_second
                          ELSE o.verifies_per_second END AS openssl_per_second
    FROM bench.jwt_pg_results j
    JOIN bench.algorithms a USING (algorithm)
    JOIN bench.openssl_results o ON o.round = j.round AND o.primitive = a.primitive
),
summary AS (
  SELECT algorithm, operation, primitive,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY jwt_pg_per_second) AS jwt_pg_per_second,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY openssl_per_second) AS openssl_per_second,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY openssl_per_second / jwt_pg_per_second) AS ratio,
         min(openssl_per_second / jwt_pg_per_second) AS ratio_min,
         max(openssl_per_second / jwt_pg_per_second) AS ratio_max
    FROM per_round
   GROUP BY algorithm, operation, primitive
)
SELECT algorithm, operation, 'openssl speed ' || primitive AS compared_with,
       round(jwt_pg_per_second::numeric) AS jwt_pg_per_s,
       round(openssl_per_second::numeric) AS openssl_per_s,
       round((1e6 / jwt_pg_per_second)::numeric, 1) AS jwt_pg_us,
       round((1e6 / openssl_per_second)::numeric, 1) AS openssl_us,
       round(ratio::numeric, 2) AS ratio,
       round(ratio_min::numeric, 2) AS ratio_min,
       round(ratio_max::numeric, 2) AS ratio_max,
       CASE WHEN ratio <= :target THEN 'yes' ELSE 'no' END AS within_target
  FROM summary
 ORDER BY array_position(ARRAY['RS256', 'PS256', 'ES256', 'EdDSA'], algorithm),
          array_position(ARRAY['sign', 'verify'], operation);
