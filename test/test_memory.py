#!/usr/bin/python3
"""A backend's memory after 1,000,000 calls of jwt_verify.

Half the calls succeed and half fail with 28000 at four different steps
(malformed token, invalid signature, expired, revoked), each failure caught
in its own subtransaction as an application would.  The backend's private
resident size and its memory contexts must end where they started, within
the bounds below, measured after a warm-up with the same calls.  A leak of one small
allocation per call would exceed them many times over: 16 bytes per call
is 16 MB here.

Run with Debian's /usr/bin/python3 on the machine that runs the server,
because the resident size comes from /proc.  The test creates the database
jwt_memory and drops it at the end.
"""

import unittest

import _database
import _runner

DB = 'jwt_memory'
SECRET = 'memory-test-secret-0123456789abcdef'
CALLS_PER_KIND = 125000          # 4 kinds of failure and 500,000 successes
RSS_BOUND_KB = 1024              # private resident size may grow by at most 1 MB
CONTEXT_BOUND_BYTES = 64 * 1024  # memory contexts by at most 64 kB

conn = None


def setUpModule():
    global conn
    conn = _database.create(DB)


def tearDownModule():
    _database.drop(DB, conn)


def query(sql, *args):
    return _database.one(conn, sql, *args)


def resident_kb(pid):
    """Return the backend's private resident memory (RssAnon), where a leak
    shows.  The shared buffers it touches count in VmRSS too, and grow with
    the tables it reads, leak or not."""
    with open(f'/proc/{pid}/status', encoding='ascii') as f:
        for line in f:
            if line.startswith('RssAnon:'):
                return int(line.split()[1])
    raise AssertionError(f'no RssAnon for backend {pid}')


def context_bytes():
    return query('SELECT sum(total_bytes)::bigint FROM pg_backend_memory_contexts')


# A PL/pgSQL loop over the four failures; each call runs in its own
# subtransaction, like an application that catches the error.
FAILURES = """
CREATE FUNCTION verify_failures(calls int, secret text, tokens text[])
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  rejected bigint := 0;
BEGIN
  FOR i IN 1..calls LOOP
    FOREACH t IN ARRAY tokens LOOP
      BEGIN
        PERFORM jwt_verify(t, secret);
      EXCEPTION WHEN invalid_authorization_specification THEN
        rejected := rejected + 1;
      END;
    END LOOP;
  END LOOP;
  RETURN rejected;
END $$;
""".replace('FOREACH t IN', 'FOREACH token IN').replace('jwt_verify(t,', 'jwt_verify(token,')


class VerifyMemory(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        with conn.cursor() as cur:
            cur.execute(FAILURES.replace('DECLARE\n', 'DECLARE\n  token text;\n'))
        cls.valid = query("SELECT jwt_create('{\"sub\":\"m\"}', %s, expires_in => '1 day')", SECRET)
        revoked = query("SELECT jwt_create('{\"sub\":\"r\"}', %s, expires_in => '1 day')", SECRET)
        query('SELECT jwt_blacklist(%s) IS NULL', revoked)
        expired = query("SELECT jwt_create('{\"sub\":\"e\",\"exp\":1}', %s)", SECRET)
        bad_signature = cls.valid[:-1] + ('A' if cls.valid[-1] != 'A' else 'B')
        cls.failures = ['not.a-token', bad_signature, expired, revoked]

    def run_successes(self, calls):
        successes = query('SELECT count(jwt_verify(%s, %s)) FROM generate_series(1, %s)',
                          self.valid, SECRET, calls)
        self.assertEqual(successes, calls)

    def run_failures(self, calls_per_kind):
        rejected = query('SELECT verify_failures(%s, %s, %s)',
                         calls_per_kind, SECRET, self.failures)
        self.assertEqual(rejected, calls_per_kind * len(self.failures))

    def test_million_calls_keep_memory(self):
        """Compare memory before and after 1,000,000 calls, once warmed up."""
        pid = query('SELECT pg_backend_pid()')

        # The warm-up runs the same calls twice, which brings the resident
        # size to its plateau: freed memory stays in glibc's heap, and here
        # the second run of the 500,000-row statement still grew it once.
        for _ in range(2):
            self.run_successes(CALLS_PER_KIND * 4)
            self.run_failures(CALLS_PER_KIND)
        contexts_before = context_bytes()
        contexts_before = context_bytes()  # the first query of the view loads caches
        rss_before = resident_kb(pid)

        self.run_successes(CALLS_PER_KIND * 4)
        self.run_failures(CALLS_PER_KIND)

        rss_after = resident_kb(pid)
        contexts_after = context_bytes()
        print(f'resident size {rss_before} kB -> {rss_after} kB; '
              f'memory contexts {contexts_before} -> {contexts_after} bytes', flush=True)
        self.assertLessEqual(rss_after - rss_before, RSS_BOUND_KB)
        self.assertLessEqual(contexts_after - contexts_before, CONTEXT_BOUND_BYTES)


# Verifies each token with the key store, counting rejections, and every
# reload_every rounds touches the key store, so that each backend drops its
# parsed keys and parses them again.
STORE_LOOP = """
CREATE FUNCTION verify_with_store(rounds int, reload_every int, tokens text[])
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  token text;
  rejected bigint := 0;
BEGIN
  FOR i IN 1..rounds LOOP
    FOREACH token IN ARRAY tokens LOOP
      BEGIN
        PERFORM jwt_verify(token);
      EXCEPTION WHEN invalid_authorization_specification THEN
        rejected := rejected + 1;
      END;
    END LOOP;
    PERFORM jwt_create('{}', algorithm => 'ES256');
    IF i % reload_every = 0 THEN
      UPDATE jwt_pg.keys SET state = state;
    END IF;
  END LOOP;
  RETURN rejected;
END $$;
"""
STORE_ROUNDS = 10000    # 80,000 verifications and 10,000 signatures a run
STORE_RELOAD_EVERY = 100


class StoredKeyMemory(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        with conn.cursor() as cur:
            cur.execute(STORE_LOOP)
        tokens = []
        for alg in ('RS256', 'PS256', 'ES256', 'EdDSA'):
            query('SELECT jwt_key_generate(%s)', alg)
            tokens.append(query("SELECT jwt_create('{\"sub\":\"m\"}', algorithm => %s)", alg))
        # Each token again with a broken signature, which is rejected.
        cls.tokens = tokens + [t[:-2] + ('AA' if t[-2:] != 'AA' else 'BA') for t in tokens]

    def run_rounds(self):
        rejected = query('SELECT verify_with_store(%s, %s, %s)',
                         STORE_ROUNDS, STORE_RELOAD_EVERY, self.tokens)
        self.assertEqual(rejected, STORE_ROUNDS * 4)

    def test_stored_keys_keep_memory(self):
        """Compare memory before and after verifying and reloading stored keys."""
        pid = query('SELECT pg_backend_pid()')
        for _ in range(2):
            self.run_rounds()
        contexts_before = context_bytes()
        contexts_before = context_bytes()
        rss_before = resident_kb(pid)

        self.run_rounds()

        rss_after = resident_kb(pid)
        contexts_after = context_bytes()
        print(f'stored keys: resident size {rss_before} kB -> {rss_after} kB; '
              f'memory contexts {contexts_before} -> {contexts_after} bytes', flush=True)
        self.assertLessEqual(rss_after - rss_before, RSS_BOUND_KB)
        self.assertLessEqual(contexts_after - contexts_before, CONTEXT_BOUND_BYTES)


if __name__ == '__main__':
    _runner.main(__name__)
