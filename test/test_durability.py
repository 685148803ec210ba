#!/usr/bin/python3
"""The extension's state survives what servers go through.

- pg_dump of a database, restored into a new one: revoked tokens are still
  refused, live refresh tokens still rotate, stored keys still verify.
- A crash: a blacklist entry and a rotation committed just before the
  postmaster is killed with SIGKILL are there after the restart.
- A hot standby made with pg_basebackup verifies and signs tokens, sees
  blacklist entries made on the primary, and refuses jwt_refresh and
  jwt_blacklist with a read-only error.
- pg_cron runs jwt_purge on a schedule.

The dump test uses the shared cluster from the libpq environment (PGHOST,
PGPORT, PGUSER); the others start clusters of their own beside it
(test/_cluster.py).  Run with Debian's /usr/bin/python3 as root or as the
postgres OS user.  The last line printed is "N passed, N failed".
"""

import os
import subprocess
import time
import unittest

import psycopg2

import _cluster
import _database
import _runner

SECRET = 'durability-secret-0123456789abcde'
BINDIR = _cluster.BINDIR
BASE_PORT = int(os.environ.get('PGPORT', '54329')) + 10


one = _database.one


def error_of(conn, sql, *args):
    """Run a statement that must fail; return (SQLSTATE, message)."""
    try:
        one(conn, sql, *args)
    except psycopg2.Error as e:
        return e.pgcode, e.diag.message_primary
    return None


def make_state(conn):
    """Create the state each test checks: a stored key and its token, a
    blacklisted token, a subject cutoff, and a live refresh token."""
    state = {}
    state['kid'] = one(conn, "SELECT jwt_key_generate('ES256')")
    state['token'] = one(conn, "SELECT jwt_create('{\"sub\":\"kim\"}', algorithm => 'ES256',"
                               " expires_in => '1 hour')")
    state['revoked'] = one(conn, "SELECT jwt_create('{\"sub\":\"kim\",\"jti\":\"r-1\"}', %s,"
                                 " expires_in => '1 hour')", SECRET)
    one(conn, "SELECT jwt_blacklist(%s, 'test')", state['revoked'])
    state['cut'] = one(conn, "SELECT jwt_create('{\"sub\":\"lee\"}', %s, expires_in => '1 hour')",
                       SECRET)
    one(conn, "SELECT jwt_revoke_subject('lee')")
    state['refresh'] = one(conn, "SELECT jwt_refresh_generate('kim', '1 day')")
    return state


class DumpAndRestore(unittest.TestCase):

    def test_restored_database_keeps_state(self):
        """Restore a dump into a new database and check every kind of state."""
        source = _database.create('jwt_dump_source')
        target = None
        try:
            state = make_state(source)
            _database.admin_execute('DROP DATABASE IF EXISTS jwt_dump_target')
            _database.admin_execute('CREATE DATABASE jwt_dump_target TEMPLATE template0')
            dump = subprocess.run([f'{BINDIR}/pg_dump', '-d', 'jwt_dump_source'], check=True,
                                  stdout=subprocess.PIPE).stdout
            subprocess.run([f'{BINDIR}/psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d',
                            'jwt_dump_target'], input=dump, check=True,
                           stdout=subprocess.DEVNULL)
            target = psycopg2.connect(dbname='jwt_dump_target')
            target.autocommit = True

            self.assertEqual(one(target, 'SELECT jwt_verify(%s) ->> %s', state['token'], 'sub'),
                             'kim')
            self.assertEqual(error_of(target, 'SELECT jwt_verify(%s, %s)', state['revoked'],
                                      SECRET), ('28000', 'token has been revoked'))
            self.assertEqual(error_of(target, 'SELECT jwt_verify(%s, %s)', state['cut'], SECRET),
                             ('28000', 'token has been revoked'))
            with target.cursor() as cur:
                cur.execute('SELECT refresh_token FROM jwt_refresh(%s, %s)',
                            (state['refresh'], SECRET))
                successor = cur.fetchone()[0]
            self.assertTrue(one(target, 'SELECT jwt_refresh_validate(%s)', successor))
            self.assertEqual(one(target, "SELECT jwt_jwks() -> 'keys' -> 0 ->> 'kid'"),
                             state['kid'])
            # The restored key still signs.
            token = one(target, "SELECT jwt_create('{}', algorithm => 'ES256')")
            self.assertTrue(one(target, 'SELECT jwt_valid(%s)', token))
        finally:
            if target is not None:
                target.close()
            _database.drop('jwt_dump_source', source)
            _database.admin_execute('DROP DATABASE IF EXISTS jwt_dump_target')


class Crash(unittest.TestCase):

    def test_commits_survive_sigkill(self):
        """Kill the postmaster right after commits and find them after restart."""
        cluster = _cluster.Cluster('crash', BASE_PORT)
        try:
            cluster.init()
            cluster.start()
            conn = cluster.connect()
            one(conn, 'CREATE EXTENSION jwt_pg')
            state = make_state(conn)
            victim = one(conn, "SELECT jwt_create('{\"sub\":\"kim\",\"jti\":\"crash-1\"}', %s,"
                               " expires_in => '1 hour')", SECRET)
            one(conn, 'SELECT jwt_blacklist(%s)', victim)
            with conn.cursor() as cur:
                cur.execute('SELECT refresh_token FROM jwt_refresh(%s, %s)',
                            (state['refresh'], SECRET))
                successor = cur.fetchone()[0]
            conn.close()

            cluster.kill()
            cluster.start()
            conn = cluster.connect()
            self.assertEqual(error_of(conn, 'SELECT jwt_verify(%s, %s)', victim, SECRET),
                             ('28000', 'token has been revoked'))
            self.assertTrue(one(conn, 'SELECT jwt_refresh_validate(%s)', successor))
            self.assertFalse(one(conn, 'SELECT jwt_refresh_validate(%s)', state['refresh']))
            self.assertEqual(one(conn, 'SELECT jwt_verify(%s) ->> %s', state['token'], 'sub'),
                             'kim')
            with open(cluster.log, encoding='utf-8', errors='replace') as f:
                self.assertIn('database system was interrupted', f.read())
            conn.close()
        finally:
            cluster.destroy()


class HotStandby(unittest.TestCase):

    def test_standby_verifies_and_refuses_writes(self):
        """Verify, sign and see revocations on a standby; writes fail clearly."""
        primary = _cluster.Cluster('primary', BASE_PORT + 1)
        standby = _cluster.Cluster('standby', BASE_PORT + 2)
        try:
            primary.init()
            primary.start()
            conn = primary.connect()
            one(conn, 'CREATE EXTENSION jwt_pg')
            state = make_state(conn)
            primary.base_backup_to(standby)
            standby.start()
            replica = standby.connect()
            self.assertTrue(one(replica, 'SELECT pg_is_in_recovery()'))

            # A blacklist entry made on the primary after the backup.
            later = one(conn, "SELECT jwt_create('{\"sub\":\"kim\",\"jti\":\"late-1\"}', %s,"
                              " expires_in => '1 hour')", SECRET)
            one(conn, 'SELECT jwt_blacklist(%s)', later)
            lsn = one(conn, 'SELECT pg_current_wal_lsn()::text')
            deadline = time.monotonic() + 30
            while not one(replica, 'SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn', lsn):
                self.assertLess(time.monotonic(), deadline, 'the standby did not catch up')
                time.sleep(0.1)

            self.assertEqual(one(replica, 'SELECT jwt_verify(%s) ->> %s', state['token'], 'sub'),
                             'kim')
            self.assertEqual(error_of(replica, 'SELECT jwt_verify(%s, %s)', later, SECRET),
                             ('28000', 'token has been revoked'))
            self.assertEqual(error_of(replica, 'SELECT jwt_verify(%s, %s)', state['cut'], SECRET),
                             ('28000', 'token has been revoked'))
            signed = one(replica, "SELECT jwt_create('{\"sub\":\"kim\"}', algorithm => 'ES256',"
                                  " expires_in => '5 minutes')")
            self.assertEqual(one(conn, 'SELECT jwt_verify(%s) ->> %s', signed, 'sub'), 'kim')
            self.assertTrue(one(replica, 'SELECT jwt_refresh_validate(%s)', state['refresh']))

            self.assertEqual(error_of(replica, 'SELECT * FROM jwt_refresh(%s, %s)',
                                      state['refresh'], SECRET),
                             ('25006', 'jwt_refresh cannot run on a standby server'))
            self.assertEqual(error_of(replica, 'SELECT jwt_blacklist(%s)', signed),
                             ('25006', 'jwt_blacklist cannot run on a standby server'))
            self.assertEqual(error_of(replica, "SELECT jwt_refresh_generate('kim')"),
                             ('25006', 'jwt_refresh_generate cannot run on a standby server'))
            # The refresh token is still live on the primary: nothing was written.
            self.assertTrue(one(conn, 'SELECT jwt_refresh_validate(%s)', state['refresh']))
            replica.close()
            conn.close()
        finally:
            standby.destroy()
            primary.destroy()


class CronPurge(unittest.TestCase):

    def test_pg_cron_runs_jwt_purge(self):
        """Schedule jwt_purge with pg_cron and wait for a run that purged."""
        cluster = _cluster.Cluster('cron', BASE_PORT + 3)
        try:
            cluster.init("shared_preload_libraries = 'pg_cron'\n"
                         "cron.database_name = 'postgres'\n"
                         "cron.use_background_workers = on\n")
            cluster.start()
            conn = cluster.connect()
            one(conn, 'CREATE EXTENSION jwt_pg')
            one(conn, 'CREATE EXTENSION pg_cron')
            expired = one(conn, "SELECT jwt_refresh_generate('old', '1 day')")
            one(conn, "UPDATE jwt_pg.refresh_tokens SET expires_at = now() - interval '1 hour'")
            # pg_cron 1.4 schedules by the minute, so the first run may be a
            # minute away.
            one(conn, "SELECT cron.schedule('jwt-purge', '* * * * *', 'SELECT jwt_purge()')")
            deadline = time.monotonic() + 75
            while one(conn, 'SELECT count(*) FROM jwt_pg.refresh_tokens') > 0:
                self.assertLess(time.monotonic(), deadline, 'pg_cron did not run jwt_purge')
                time.sleep(1)
            self.assertEqual(one(conn, "SELECT status FROM cron.job_run_details"
                                       " ORDER BY start_time DESC LIMIT 1"), 'succeeded')
            self.assertEqual(error_of(conn, 'SELECT * FROM jwt_refresh(%s, %s)', expired, SECRET),
                             ('28000', 'unknown refresh token'))
            conn.close()
        finally:
            cluster.destroy()


if __name__ == '__main__':
    _runner.main(__name__)
