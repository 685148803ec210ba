#!/usr/bin/python3
"""Updating jwt_pg from version 0.1.0 to the current one keeps data and
functions.

The test installs version 0.1.0 in a scratch database, adds keys, tokens,
sessions and blacklist entries, and checks what the current library does
with the old tables.  Then it runs ALTER EXTENSION jwt_pg UPDATE and checks
that the data is still there, that every function works, and that the
updated extension has the same objects as a new install.

Run with Debian's /usr/bin/python3.  The server comes from the libpq
environment (PGHOST, PGPORT, PGUSER).  The test creates the databases
jwt_upgrade and jwt_upgrade_new and drops them at the end.  The last line
printed is "N passed, N failed".
"""

import unittest

import psycopg2

import _database
import _runner

DB = 'jwt_upgrade'
NEW_DB = 'jwt_upgrade_new'
SECRET = 'upgrade-test-secret-0123456789abc'

conn = None

# The extension's objects, as pg_describe_object names them, to compare an
# updated database with a new install.
MEMBERS = """
SELECT pg_describe_object(classid, objid, 0) AS member
  FROM pg_depend
 WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'jwt_pg')
 ORDER BY 1
"""


def setUpModule():
    global conn
    _database.admin_execute(f'DROP DATABASE IF EXISTS {DB}')
    _database.admin_execute(f'CREATE DATABASE {DB}')
    conn = psycopg2.connect(dbname=DB)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CREATE EXTENSION jwt_pg VERSION '0.1.0'")


def tearDownModule():
    _database.drop(DB, conn)
    _database.admin_execute(f'DROP DATABASE IF EXISTS {NEW_DB}')


def query(sql, *args):
    return _database.one(conn, sql, *args)


def error_of(sql, *args):
    """Run a statement that must fail; return (SQLSTATE, message)."""
    try:
        query(sql, *args)
    except psycopg2.Error as e:
        return e.pgcode, e.diag.message_primary
    return None


class Upgrade(unittest.TestCase):
    """The steps run in order, as one test, because each builds on the last."""

    def test_update_keeps_data_and_functions(self):
        self.assertEqual(query("SELECT extversion FROM pg_extension WHERE extname = 'jwt_pg'"),
                         '0.1.0')

        # Data of version 0.1.0.
        kid = query("SELECT jwt_key_generate('ES256')")
        stored_token = query("SELECT jwt_create('{\"sub\":\"ann\"}', algorithm => 'ES256',"
                             " expires_in => '1 hour')")
        secret_token = query("SELECT jwt_create('{\"sub\":\"ann\"}', %s, expires_in => '1 hour')",
                             SECRET)
        revoked_token = query("SELECT jwt_create('{\"sub\":\"ann\",\"jti\":\"old-1\"}', %s,"
                              " expires_in => '1 hour')", SECRET)
        query('SELECT jwt_blacklist(%s) IS NULL', revoked_token)
        refresh = query("SELECT jwt_refresh_generate('ann', '1 day', '{\"role\":\"reader\"}')")

        # The current library verifies with the old tables, and its error
        # names the fix where it needs the new ones.
        self.assertEqual(query('SELECT jwt_verify(%s) ->> %s', stored_token, 'sub'), 'ann')
        self.assertFalse(query('SELECT jwt_valid(%s, %s)', revoked_token, SECRET))
        self.assertEqual(error_of('SELECT * FROM jwt_refresh(%s, %s)', refresh, SECRET),
                         ('55000', "jwt_pg's tables are older than its library"))
        self.assertTrue(query('SELECT jwt_refresh_validate(%s)', refresh))

        query('ALTER EXTENSION jwt_pg UPDATE')
        self.assertEqual(query("SELECT extversion FROM pg_extension WHERE extname = 'jwt_pg'"),
                         query("SELECT default_version FROM pg_available_extensions"
                               " WHERE name = 'jwt_pg'"))

        # The data is still there and still counts.
        self.assertEqual(query('SELECT jwt_verify(%s) ->> %s', stored_token, 'sub'), 'ann')
        self.assertEqual(query('SELECT jwt_verify(%s, %s) ->> %s', secret_token, SECRET, 'sub'),
                         'ann')
        self.assertEqual(error_of('SELECT jwt_verify(%s, %s)', revoked_token, SECRET),
                         ('28000', 'token has been revoked'))
        self.assertEqual(query('SELECT count(*) FROM jwt_pg.keys WHERE kid = %s', kid), 1)
        self.assertEqual(query("SELECT jwt_jwks() -> 'keys' -> 0 ->> 'kid'"), kid)

        # The session from before the update rotates, and its successor key
        # was filled in.
        self.assertEqual(query('SELECT octet_length(successor_key) FROM jwt_pg.refresh_families'),
                         32)
        with conn.cursor() as cur:
            cur.execute("SELECT token, refresh_token FROM jwt_refresh(%s, algorithm => 'ES256')",
                        (refresh,))
            access, successor = cur.fetchone()
        self.assertEqual(query('SELECT jwt_verify(%s) ->> %s', access, 'role'), 'reader')
        self.assertTrue(query('SELECT jwt_refresh_validate(%s)', successor))
        self.assertEqual(query('SELECT rotations FROM jwt_pg.sessions'), 1)

        # Every function of version 0.2.0 works.
        self.assertEqual(query("SELECT jwt_key_generate('EdDSA', 'after-update')"), 'after-update')
        self.assertEqual(query("SELECT jwt_key_set_state('after-update', 'verify_only')"), '')
        self.assertEqual(query("SELECT jwt_key_import("
                               "'{\"kty\":\"oct\",\"kid\":\"hs\",\"k\":\"" + 'A' * 43 + "\"}',"
                               " 'HS256')"), 'hs')
        self.assertEqual(query("SELECT header ->> 'kid' FROM jwt_decode(%s)", stored_token), kid)
        self.assertFalse(query('SELECT jwt_is_expired(%s)', stored_token))
        self.assertEqual(query("SELECT convert_from(jws_verify(jws_sign('x', %s), %s), 'UTF8')",
                               SECRET, SECRET), 'x')
        self.assertTrue(query('SELECT jwt_refresh_revoke(%s)', successor))
        self.assertEqual(query("SELECT jwt_revoke_subject('ann', 'test')"), '')
        self.assertEqual(error_of('SELECT jwt_verify(%s)', stored_token),
                         ('28000', 'token has been revoked'))
        self.assertEqual(query("SELECT jwt_blacklist_jti('id-2', now() + interval '1 hour')"), '')
        self.assertGreaterEqual(query('SELECT jwt_purge()'), 0)

        # The same objects as a new install.
        updated = self.members(DB)
        _database.admin_execute(f'DROP DATABASE IF EXISTS {NEW_DB}')
        _database.admin_execute(f'CREATE DATABASE {NEW_DB}')
        fresh = psycopg2.connect(dbname=NEW_DB)
        fresh.autocommit = True
        with fresh.cursor() as cur:
            cur.execute('CREATE EXTENSION jwt_pg')
        fresh.close()
        self.assertEqual(updated, self.members(NEW_DB))
        self.assertIn('view jwt_pg.sessions', updated)
        self.assertIn('table jwt_pg.subject_cutoffs', updated)

    @staticmethod
    def members(dbname):
        with psycopg2.connect(dbname=dbname) as other, other.cursor() as cur:
            cur.execute(MEMBERS)
            return [row[0] for row in cur.fetchall()]


if __name__ == '__main__':
    _runner.main(__name__)
