#!/usr/bin/python3
"""jwt_pg in a database whose encoding is not UTF-8.

Tokens always carry UTF-8; jwt_pg converts claims to and from the database
encoding.  Run with Debian's /usr/bin/python3 (python3-psycopg2).  The
server comes from the libpq environment.  The test creates the LATIN1
database jwt_latin1 and drops it at the end.
"""

import base64
import json
import unittest

import psycopg2

import _database
import _runner

SECRET = 'latin1-secret-0123456789abcdefgh'
DATABASES = {'LATIN1': 'jwt_latin1', 'SQL_ASCII': 'jwt_sql_ascii'}

# One connection per database, keyed by encoding.
connections = {}


def setUpModule():
    for encoding, name in DATABASES.items():
        conn = _database.create(name, f"ENCODING '{encoding}' LC_COLLATE 'C' LC_CTYPE 'C' "
                                      "TEMPLATE template0")
        conn.set_client_encoding('UTF8' if encoding == 'LATIN1' else 'SQL_ASCII')
        connections[encoding] = conn


def tearDownModule():
    for encoding, name in DATABASES.items():
        _database.drop(name, connections.get(encoding))


def query(sql, *args, encoding='LATIN1'):
    with connections[encoding].cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchone()[0]


def segment_json(token, index):
    part = token.split('.')[index]
    return base64.urlsafe_b64decode(part + '=' * (-len(part) % 4))


class Latin1Database(unittest.TestCase):

    def test_claims_signed_as_utf8(self):
        """Sign Latin-1 text: the payload bytes are UTF-8."""
        token = query("SELECT jwt_create(%s::jsonb, %s, header => %s::jsonb)",
                      '{"name":"Zoë","iat":1,"jti":"j"}', SECRET, '{"kid":"clé"}')
        self.assertEqual(segment_json(token, 1), '{"iat":1,"jti":"j","name":"Zoë"}'.encode())
        self.assertEqual(segment_json(token, 0),
                         '{"alg":"HS256","typ":"JWT","kid":"clé"}'.encode())

    def test_claims_verified_into_latin1(self):
        """Verify a token signed here: the claims come back as the same text."""
        token = query("SELECT jwt_create(%s::jsonb, %s)", '{"name":"Zoë"}', SECRET)
        claims = query("SELECT jwt_verify(%s, %s)", token, SECRET)
        self.assertEqual(claims['name'], 'Zoë')

    def test_character_missing_from_latin1(self):
        """A claim with a character that LATIN1 lacks raises an error, not a wrong result."""
        payload = json.dumps({'city': '東京'}, ensure_ascii=False).encode()
        token = query("SELECT jws_sign(%s::bytea, %s)", payload, SECRET)
        with self.assertRaises(psycopg2.Error) as raised:
            query("SELECT jwt_verify(%s, %s)", token, SECRET)
        self.assertEqual(raised.exception.pgcode, '22P05')

    def test_text_secret_is_utf8(self):
        """Key HMAC with a text secret's UTF-8 bytes, as other libraries do."""
        secret = 'clé-' + 'x' * 28
        as_text = query("SELECT jwt_create('{\"iat\":1,\"jti\":\"j\"}', %s::text)", secret)
        as_utf8 = query("SELECT jwt_create('{\"iat\":1,\"jti\":\"j\"}', %s::bytea)",
                        secret.encode())
        self.assertEqual(as_text, as_utf8)
        self.assertTrue(query("SELECT jwt_valid(%s, %s::text)", as_utf8, secret))

    def test_audience_and_issuer_compared_as_utf8(self):
        """Match a non-ASCII audience and issuer given in the database encoding."""
        token = query("SELECT jwt_create(%s::jsonb, %s)",
                      '{"aud":"café","iss":"émetteur"}', SECRET)
        self.assertTrue(query("SELECT jwt_valid(%s, %s, audience => %s, issuer => %s)",
                              token, SECRET, 'café', 'émetteur'))
        self.assertFalse(query("SELECT jwt_valid(%s, %s, audience => %s)",
                               token, SECRET, 'cafe'))

    def test_empty_strings_stay_empty(self):
        """Keep empty claim, header and jti strings empty after conversion."""
        token = query("SELECT jwt_create(%s::jsonb, %s, header => %s::jsonb)",
                      '{"note":"","jti":"","iat":1}', SECRET, '{"kid":""}')
        self.assertEqual(segment_json(token, 1), b'{"iat":1,"jti":"","note":""}')
        self.assertEqual(segment_json(token, 0), b'{"alg":"HS256","typ":"JWT","kid":""}')
        claims = query("SELECT jwt_verify(%s, %s)", token, SECRET)
        self.assertEqual(claims, {'note': '', 'jti': '', 'iat': 1})
        query("SELECT jwt_blacklist(%s) IS NULL", token)
        self.assertEqual(query("SELECT jti FROM jwt_pg.blacklist WHERE jti = ''"), '')

    def test_blacklist_non_ascii_jti(self):
        """A jti with a non-ASCII character is matched after conversion."""
        token = query("SELECT jwt_create(%s::jsonb, %s)", '{"jti":"révoqué"}', SECRET)
        query("SELECT jwt_blacklist(%s) IS NULL", token)
        self.assertEqual(query("SELECT jti FROM jwt_pg.blacklist WHERE jti <> ''"), 'révoqué')
        self.assertFalse(query("SELECT jwt_valid(%s, %s)", token, SECRET))


class SqlAsciiDatabase(unittest.TestCase):
    """In SQL_ASCII, text is bytes: they go into tokens unconverted."""

    def test_text_secret_deterministic(self):
        """Sign the same claims twice with a text secret: the same token."""
        sign = "SELECT jwt_create('{\"iat\":1,\"jti\":\"j\"}', %s::text)"
        first = query(sign, SECRET, encoding='SQL_ASCII')
        second = query(sign, SECRET, encoding='SQL_ASCII')
        self.assertEqual(first, second)
        as_bytes = query("SELECT jwt_create('{\"iat\":1,\"jti\":\"j\"}', %s::bytea)",
                         SECRET.encode(), encoding='SQL_ASCII')
        self.assertEqual(first, as_bytes)

    def test_claims_round_trip(self):
        """Verify what was signed: every member keeps its value."""
        token = query("SELECT jwt_create(%s::jsonb, %s)",
                      '{"sub":"alice","note":"","iat":1,"jti":"j"}', SECRET, encoding='SQL_ASCII')
        self.assertEqual(segment_json(token, 1), b'{"iat":1,"jti":"j","sub":"alice","note":""}')
        claims = query("SELECT jwt_verify(%s, %s)::text", token, SECRET, encoding='SQL_ASCII')
        self.assertEqual(json.loads(claims), {'sub': 'alice', 'note': '', 'iat': 1, 'jti': 'j'})


if __name__ == '__main__':
    _runner.main(__name__)
