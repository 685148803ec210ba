#!/usr/bin/python3
"""The API of examples/postgrest/schema.sql, called the way PostgREST calls
it: per request, one transaction of the authenticator role that switches
to the request's role, sets request.headers and request.cookies, calls the
function and reads response.headers.

Walks login, a protected read, refresh through the cookie, logout, and the
requests that must be refused afterwards.  Run with Debian's
/usr/bin/python3 (python3-psycopg2).  The server comes from the libpq
environment (PGHOST, PGPORT, PGUSER).  The test creates the database
jwt_postgrest and drops it at the end.  The last line printed is
"N passed, N failed".
"""

import json
import os
import unittest

import psycopg2

import _database
import _runner

DB = 'jwt_postgrest'
SCHEMA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      'examples', 'postgrest', 'schema.sql')

admin = None
authenticator = None


def setUpModule():
    global admin, authenticator
    admin = _database.create(DB)
    with open(SCHEMA, encoding='utf-8') as f, admin.cursor() as cur:
        cur.execute(f.read())
        cur.execute("INSERT INTO private.users (email, password_hash) VALUES"
                    " ('ann@example.com', crypt('ann-password', gen_salt('bf', 4))),"
                    " ('ben@example.com', crypt('ben-password', gen_salt('bf', 4)))")
        cur.execute("INSERT INTO api.notes (owner, body) VALUES"
                    " ('1', 'ann: buy milk'), ('1', 'ann: call mom'), ('2', 'ben: fix bike')")
    authenticator = psycopg2.connect(dbname=DB, user='authenticator')


def tearDownModule():
    if authenticator is not None:
        authenticator.close()
    _database.drop(DB, admin)
    # The example's roles are cluster-wide; nothing else uses them here.
    for role in ('authenticator', 'web_user', 'web_anon'):
        _database.admin_execute(f'DROP ROLE IF EXISTS {role}')


class Response:
    def __init__(self, rows=None, headers=None, error=None):
        self.rows = rows
        self.headers = headers or []
        self.error = error

    def cookie(self, name):
        """The value of a Set-Cookie header for the cookie, or None."""
        for header in self.headers:
            value = header.get('Set-Cookie', '')
            if value.startswith(name + '='):
                return value.split(';', 1)[0].split('=', 1)[1]
        return None


def request(sql, args=(), token=None, cookies=None):
    """Run one request as PostgREST does; return its rows, the headers that
    response.headers holds, or the error (SQLSTATE, message)."""
    role = 'web_anon'
    if token is not None:
        # PostgREST takes the role from the verified token; here jwt_pg
        # decodes it, and the functions verify it again.
        with admin.cursor() as cur:
            cur.execute("SELECT payload ->> 'role' FROM jwt_decode(%s)", (token,))
            role = cur.fetchone()[0]
    headers = {'accept': 'application/json'}
    if token is not None:
        headers['authorization'] = f'Bearer {token}'
    try:
        with authenticator, authenticator.cursor() as cur:
            cur.execute(f'SET LOCAL ROLE {role}')
            cur.execute("SELECT set_config('request.headers', %s, true),"
                        "       set_config('request.cookies', %s, true)",
                        (json.dumps(headers), json.dumps(cookies or {})))
            cur.execute(sql, args)
            rows = cur.fetchall()
            cur.execute("SELECT current_setting('response.headers', true)")
            value = cur.fetchone()[0]
            return Response(rows, json.loads(value) if value else [])
    except psycopg2.Error as e:
        return Response(error=(e.pgcode, e.diag.message_primary))


class PostgRESTFlow(unittest.TestCase):

    def test_login_read_refresh_logout(self):
        """Walk the whole flow of one user, with another user beside."""
        # Login: a token in the body, the refresh token in a cookie.
        login = request('SELECT api.login(%s, %s)', ('ann@example.com', 'ann-password'))
        self.assertIsNone(login.error)
        token = login.rows[0][0]['token']
        refresh = login.cookie('refresh_token')
        self.assertEqual(len(refresh), 43)
        cookie_header = [h['Set-Cookie'] for h in login.headers][0]
        self.assertTrue(cookie_header.endswith('; Max-Age=2592000; Path=/rpc; SameSite=Strict;'
                                               ' Secure; HttpOnly'), cookie_header)

        wrong = request('SELECT api.login(%s, %s)', ('ann@example.com', 'nope'))
        self.assertEqual(wrong.error, ('28000', 'invalid email or password'))

        # A protected read: Ann's notes only.
        notes = request('SELECT body FROM api.notes ORDER BY body', token=token)
        self.assertEqual(notes.rows, [('ann: buy milk',), ('ann: call mom',)])
        # Without a token the request runs as web_anon, which may not read.
        self.assertEqual(request('SELECT count(*) FROM api.notes').error,
                         ('42501', 'permission denied for table notes'))

        # Refresh through the cookie: a new token and a rotated cookie.
        refreshed = request('SELECT api.refresh()', cookies={'refresh_token': refresh})
        self.assertIsNone(refreshed.error)
        new_token = refreshed.rows[0][0]['token']
        new_refresh = refreshed.cookie('refresh_token')
        self.assertNotEqual(new_refresh, refresh)
        self.assertEqual(request('SELECT count(*) FROM api.notes', token=new_token).rows, [(2,)])

        # Logout with the new token and cookie; the cookie is cleared.
        logout = request('SELECT api.logout()', token=new_token,
                         cookies={'refresh_token': new_refresh})
        self.assertIsNone(logout.error)
        self.assertEqual(logout.cookie('refresh_token'), '')
        self.assertIn('Max-Age=0', logout.headers[0]['Set-Cookie'])

        # Refused afterwards: the token is blacklisted, the session revoked.
        self.assertEqual(request('SELECT count(*) FROM api.notes', token=new_token).error,
                         ('28000', 'token has been revoked'))
        self.assertEqual(request('SELECT api.refresh()',
                                 cookies={'refresh_token': new_refresh}).error,
                         ('28000', 'refresh token has been revoked'))
        self.assertEqual(request('SELECT api.refresh()').error,
                         ('28000', 'refresh token is missing'))

        # Logout needs no access token: the cookie alone ends a session.
        again = request('SELECT api.login(%s, %s)', ('ann@example.com', 'ann-password'))
        cookie_only = request('SELECT api.logout()',
                              cookies={'refresh_token': again.cookie('refresh_token')})
        self.assertIsNone(cookie_only.error)
        self.assertEqual(request('SELECT api.refresh()',
                                 cookies={'refresh_token': again.cookie('refresh_token')}).error,
                         ('28000', 'refresh token has been revoked'))

        # Ben, logged in meanwhile, is not affected.
        ben = request('SELECT api.login(%s, %s)', ('ben@example.com', 'ben-password'))
        ben_token = ben.rows[0][0]['token']
        self.assertEqual(request('SELECT body FROM api.notes', token=ben_token).rows,
                         [('ben: fix bike',)])

    def test_claims_setting_cannot_impersonate(self):
        """A request that sets request.jwt.claims itself sees nothing."""
        with authenticator, authenticator.cursor() as cur:
            cur.execute('SET LOCAL ROLE web_user')
            cur.execute("SELECT set_config('request.jwt.claims', '{\"sub\":\"1\"}', true)")
            cur.execute('SELECT count(*) FROM api.notes')
            self.assertEqual(cur.fetchone()[0], 0)

    def test_forged_token_refused(self):
        """A token signed with another key is refused with 28000."""
        forged = ('eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIiwicm9sZSI6IndlYl91c2VyIn0.'
                  'ZmFrZS1zaWduYXR1cmUtb2YtMzItYnl0ZXMtZm9yLWhzMjU2')
        self.assertEqual(request('SELECT count(*) FROM api.notes', token=forged).error[0],
                         '28000')


if __name__ == '__main__':
    _runner.main(__name__)
