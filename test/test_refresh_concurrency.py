#!/usr/bin/python3
"""Twenty sessions present one refresh token at the same moment.

Without a reuse interval, exactly one of them gets a new pair, every other
one is refused, and the session ends revoked.  With
jwt_pg.refresh_reuse_interval, every one of them gets the same successor
refresh token, each with an access token of its own, and the session stays
live.  Either way the tables end consistent: the presented token used once,
one successor, and nothing else.

Run with Debian's /usr/bin/python3.  The server comes from the libpq
environment (PGHOST, PGPORT, PGUSER); it must allow 25 connections.  The
test creates the database jwt_concurrency and drops it at the end.  The last
line printed is "N passed, N failed".
"""

import threading
import unittest

import psycopg2

import _database
import _runner

DB = 'jwt_concurrency'
SECRET = 'concurrency-secret-0123456789abcd'
SESSIONS = 20

conn = None


def setUpModule():
    global conn
    conn = _database.create(DB)


def tearDownModule():
    _database.drop(DB, conn)


def query(sql, *args):
    return _database.one(conn, sql, *args)


def present_at_once(refresh_token, settings):
    """Have SESSIONS connections call jwt_refresh together; return each
    one's (access token, refresh token) or (None, error message)."""
    connections = []
    for _ in range(SESSIONS):
        c = psycopg2.connect(dbname=DB)
        c.autocommit = True
        with c.cursor() as cur:
            for statement in settings:
                cur.execute(statement)
        connections.append(c)

    barrier = threading.Barrier(SESSIONS)
    results = [None] * SESSIONS

    def present(i):
        barrier.wait()
        try:
            with connections[i].cursor() as cur:
                cur.execute('SELECT token, refresh_token FROM jwt_refresh(%s, %s)',
                            (refresh_token, SECRET))
                results[i] = cur.fetchone()
        except psycopg2.Error as e:
            results[i] = (None, e.diag.message_primary)

    threads = [threading.Thread(target=present, args=(i,)) for i in range(SESSIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for c in connections:
        c.close()
    return results


class TwentySessions(unittest.TestCase):

    def table_state(self, subject):
        """Return (tokens, used tokens, revoked reason) of the subject's session."""
        with conn.cursor() as cur:
            cur.execute('SELECT count(t.*), count(t.used_at), f.revoked_reason'
                        '  FROM jwt_pg.refresh_families f'
                        '  JOIN jwt_pg.refresh_tokens t USING (family_id)'
                        ' WHERE f.subject = %s GROUP BY f.family_id', (subject,))
            return cur.fetchone()

    def test_without_interval_one_pair(self):
        """Without a reuse interval one session rotates and the others revoke."""
        first = query("SELECT jwt_refresh_generate('race-strict', '1 day')")
        results = present_at_once(first, [])

        winners = [r for r in results if r[0] is not None]
        errors = sorted({r[1] for r in results if r[0] is None})
        self.assertEqual(len(winners), 1)
        self.assertEqual(len(results) - len(winners), SESSIONS - 1)
        self.assertLessEqual(set(errors), {'refresh token reuse detected',
                                           'refresh token has been revoked'})
        self.assertIn('refresh token reuse detected', errors)
        self.assertEqual(self.table_state('race-strict'), (2, 1, 'refresh token reuse'))
        self.assertFalse(query('SELECT jwt_refresh_validate(%s)', winners[0][1]))

    def test_within_interval_same_successor(self):
        """Within the reuse interval every session gets the same successor."""
        first = query("SELECT jwt_refresh_generate('race-grace', '1 day')")
        results = present_at_once(first, ["SET jwt_pg.refresh_reuse_interval = '30s'"])

        self.assertEqual([r for r in results if r[0] is None], [])
        successors = {r[1] for r in results}
        access_tokens = {r[0] for r in results}
        self.assertEqual(len(successors), 1)
        self.assertEqual(len(access_tokens), SESSIONS)
        for access in access_tokens:
            self.assertEqual(query('SELECT jwt_verify(%s, %s) ->> %s', access, SECRET, 'sub'),
                             'race-grace')
        self.assertEqual(self.table_state('race-grace'), (2, 1, None))
        self.assertTrue(query('SELECT jwt_refresh_validate(%s)', successors.pop()))


if __name__ == '__main__':
    _runner.main(__name__)
