-- One refresh-token rotation per transaction, a pgbench script.  Each
-- client rotates a session of its own and always presents the refresh
-- token that its previous rotation returned, so no rotation is a reuse.
-- pgbench keeps a client's variables from one transaction to the next.
-- The first transaction of a client also opens its session.
--
-- pgbench variables, set with -D: secret (an HS256 secret of at least 32
-- bytes) and session_started=0.

\if :session_started = 0
SELECT jwt_refresh_generate('bench-client-' || :client_id) AS refresh_token \gset
\set session_started 1
\endif

SELECT refresh_token FROM jwt_refresh(:refresh_token, :secret) \gset
