#!/usr/bin/python3
"""Search every message the test run produced for secrets.

scripts/test.sh runs this after all other suites, against the same server,
whose log level is debug1.  It first makes its own refresh tokens fail in
every way jwt_refresh can fail, then reads the messages of the whole run:

- the server log, less the STATEMENT entries that echo a failing statement
  (the README warns that SQL literals can appear there);
- the ERROR, DETAIL, HINT, NOTICE, WARNING and CONTEXT lines of the
  pg_regress and isolation results.

None may contain a secret used by the tests, a raw refresh token, or the
SHA-256 of one in hex or base64.  A canary raised on purpose must be found,
so that a scan reading nothing cannot pass.

Reads the log path from JWT_PG_SERVER_LOG and the connection from the libpq
environment.
"""

import base64
import glob
import hashlib
import os
import re
import unittest

import psycopg2

import _database
import _runner

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DB = 'jwt_scan'
SECRET = 'scan-secrets-0123456789abcdefghij'
CANARY = 'canary-7f3e9c2a-not-a-secret'

# Secrets that the test files pass to jwt_pg.
TEST_SECRETS = [
    '0123456789abcdef0123456789abcdef',         # sql/setup.sql s32(), s48(), s64()
    'cases-secret-0123456789abcdefghijklmnop',  # sql/cases.sql
    'another-secret-of-32-bytes-long!',         # sql/verify.sql
    'a-secret-of-at-least-32-bytes!!!',         # README examples
    'latin1-secret-0123456789abcdefgh',         # test/test_encoding.py
    'memory-test-secret-0123456789abcdef',      # test/test_memory.py
    'clé-xxxxxxxxxxxxxxxxxxxxxxxxxxxx',         # test/test_interop_pyjwt.py
    'k' * 32,                                   # specs/*.spec
    '849b57219dae48de646d07dbb533566e',         # RFC 7520 HMAC key, in hex
    SECRET,
]

# A log entry starts with the timestamp of log_line_prefix '%m [%p] '.
ENTRY = re.compile(r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \S+ \[\d+\] ([A-Z0-9]+):')
RESULT_MESSAGE = re.compile(r'^(ERROR|DETAIL|HINT|NOTICE|WARNING|CONTEXT):')

conn = None


def setUpModule():
    global conn
    conn = _database.create(DB)


def tearDownModule():
    _database.drop(DB, conn)


def attempt(sql, *args):
    """Run a statement that may fail, and return its error message or None."""
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
        return None
    except psycopg2.Error as e:
        return e.diag.message_primary


def server_log_messages():
    """Yield the server log entries, without STATEMENT entries."""
    with open(os.environ['JWT_PG_SERVER_LOG'], encoding='utf-8', errors='replace') as f:
        skipping = False
        for line in f:
            entry = ENTRY.match(line)
            if entry:
                skipping = entry.group(1) == 'STATEMENT'
            if not skipping:
                yield line


def result_messages():
    """Yield the message lines of the pg_regress and isolation results."""
    pattern_dirs = [os.path.join(ROOT, 'results'), os.path.join(ROOT, 'output_iso', 'results')]
    for folder in pattern_dirs:
        for path in sorted(glob.glob(os.path.join(folder, '*.out'))):
            with open(path, encoding='utf-8', errors='replace') as f:
                for line in f:
                    if RESULT_MESSAGE.match(line):
                        yield line


class MessagesHoldNoSecrets(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        """Make refresh tokens fail every way, and raise the canary."""
        cls.refresh_tokens = []
        with conn.cursor() as cur:
            cur.execute("SELECT jwt_refresh_generate('scan', '1 day')")
            first = cur.fetchone()[0]
            cur.execute('SELECT refresh_token FROM jwt_refresh(%s, %s)', (first, SECRET))
            second = cur.fetchone()[0]
            cur.execute("SELECT jwt_refresh_generate('scan-expired', '1 day')")
            expired = cur.fetchone()[0]
            cur.execute("UPDATE jwt_pg.refresh_tokens SET expires_at = now() - interval '1 day'"
                        " WHERE token_hash = sha256(convert_to(%s, 'UTF8'))", (expired,))
        cls.refresh_tokens = [first, second, expired]
        cls.outcomes = [
            attempt('SELECT * FROM jwt_refresh(%s, %s)', first, SECRET),
            attempt('SELECT * FROM jwt_refresh(%s, %s)', second, SECRET),
            attempt('SELECT * FROM jwt_refresh(%s, %s)', expired, SECRET),
            attempt('SELECT * FROM jwt_refresh(%s, %s)', 'no-such-token', SECRET),
            attempt('SELECT jwt_verify(%s, %s)', 'x.y.z', SECRET),
            attempt('SELECT jwt_create(%s, %s)', '{"exp":"soon"}', SECRET),
            attempt('SELECT jwt_create(%s, %s)', '{}', SECRET[:20]),
        ]
        attempt("DO $$ BEGIN RAISE NOTICE 'scan: %%', %s; END $$", CANARY)
        conn.notices.clear()

    def forbidden(self):
        values = list(TEST_SECRETS)
        for token in self.refresh_tokens:
            digest = hashlib.sha256(token.encode()).digest()
            values += [token, digest.hex(), base64.b64encode(digest).decode().rstrip('='),
                       base64.urlsafe_b64encode(digest).decode().rstrip('=')]
        return values

    def test_failures_happened(self):
        """Check that the workload failed the ways it should."""
        self.assertEqual(self.outcomes, [
            'refresh token reuse detected',
            'refresh token has been revoked',
            'refresh token has expired',
            'unknown refresh token',
            'malformed token',
            'invalid claim "exp"',
            'secret is too short for HS256',
        ])

    def test_server_log_clean(self):
        """Search the server log, which must contain the canary."""
        lines = list(server_log_messages())
        self.assertTrue(any(CANARY in line for line in lines),
                        'the canary is missing: the scan read the wrong log')
        for value in self.forbidden():
            found = [line.strip() for line in lines if value in line]
            self.assertEqual(found, [], f'a secret appears in the server log: {value[:6]}...')

    def test_results_clean(self):
        """Search the messages in the pg_regress and isolation results."""
        lines = list(result_messages())
        self.assertGreater(len(lines), 100, 'too few messages: were the SQL suites run?')
        for value in self.forbidden():
            found = [line.strip() for line in lines if value in line]
            self.assertEqual(found, [], f'a secret appears in a test result: {value[:6]}...')


if __name__ == '__main__':
    _runner.main(__name__)
