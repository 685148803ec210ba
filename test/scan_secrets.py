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
SHA-256 of one in hex or base64, nor a secret or private key that the key
store holds.  A canary raised on purpose must be found,
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
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

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
    'a-stored-hmac-secret-of-32-bytes',         # sql/keystore.sql
    'jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI',  # RFC 7515 A.3 private d
    'nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A',  # RFC 8037 private d
    'PRIVATE KEY-----',                         # any PEM private key
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
        cls.outcomes += cls.fail_with_stored_keys()
        attempt("DO $$ BEGIN RAISE NOTICE 'scan: %%', %s; END $$", CANARY)
        conn.notices.clear()

    @classmethod
    def fail_with_stored_keys(cls):
        """Store keys of every kind, then fail the key functions with them."""
        with conn.cursor() as cur:
            for alg in ('HS256', 'RS256', 'ES256', 'EdDSA'):
                cur.execute('SELECT jwt_key_generate(%s, %s)', (alg, 'scan-' + alg))
            cur.execute('SELECT alg, secret FROM jwt_pg.keys')
            cls.stored_keys = [(alg, bytes(secret)) for alg, secret in cur.fetchall()]
        es256 = dict(cls.stored_keys)['ES256']
        pem = serialization.load_der_private_key(es256, None).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode()
        return [
            attempt('SELECT jwt_key_generate(%s, %s)', 'ES256', 'scan-ES256'),
            attempt('SELECT jwt_key_import(%s, %s)', pem, 'ES384'),
            attempt('SELECT jwt_key_import(%s, %s)', pem, 'HS256'),
            attempt('SELECT jwt_key_set_state(%s, %s)', 'scan-ES256', 'retired'),
            attempt("SELECT jwt_create('{}', algorithm => 'ES256')"),
            attempt('SELECT jwt_verify(%s)',
                    'eyJhbGciOiJFUzI1NiIsImtpZCI6InNjYW4tRVMyNTYifQ.e30.' + 'A' * 86),
        ]

    def stored_secrets(self):
        """Yield each stored secret or private value in the forms a leak
        would take: hex and base64 of the bytes, and a private key's own
        numbers in base64url."""
        for alg, secret in self.stored_keys:
            yield secret.hex()
            yield base64.b64encode(secret).decode()[:40]
            yield base64.urlsafe_b64encode(secret).decode().rstrip('=')[:40]
            if alg.startswith('HS'):
                continue
            key = serialization.load_der_private_key(secret, None)
            if isinstance(key, ed25519.Ed25519PrivateKey):
                private = key.private_bytes(serialization.Encoding.Raw,
                                            serialization.PrivateFormat.Raw,
                                            serialization.NoEncryption())
            elif isinstance(key, ec.EllipticCurvePrivateKey):
                private = key.private_numbers().private_value.to_bytes(32, 'big')
            else:
                numbers = key.private_numbers()
                private = numbers.d.to_bytes((numbers.d.bit_length() + 7) // 8, 'big')
            yield base64.urlsafe_b64encode(private).decode().rstrip('=')[:40]
            yield private.hex()[:40]

    def forbidden(self):
        values = list(TEST_SECRETS) + list(self.stored_secrets())
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
            'key "scan-ES256" already exists in the key store',
            'key does not fit algorithm ES384',
            'key is not an HMAC key',
            None,
            'no active ES256 key in the key store',
            'token key not found',
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
