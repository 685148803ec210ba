-- One jwt_verify call per transaction, a pgbench script.  The first
-- transaction of a client also signs the client's token, with the claims
-- of bench/verify_create.sql, and the client verifies that token from
-- then on.  Its sub and jti are not in jwt_pg.subject_cutoffs or
-- jwt_pg.blacklist, so every call looks both up and accepts the token.
--
-- pgbench variables, set with -D: secret (an HS256 secret of at least 32
-- bytes) and token_created=0.

\if :token_created = 0
SELECT jwt_create(jsonb_build_object('sub', 'user-' || :client_id, 'role', 'reader',
                                     'email', 'user' || :client_id || '@example.com',
                                     'iss', 'https://auth.example.com'),
                  :secret, expires_in => '1 day') AS token \gset
\set token_created 1
\endif

SELECT jwt_verify(:token, :secret);
