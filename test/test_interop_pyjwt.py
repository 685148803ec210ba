#!/usr/bin/python3
"""Interop between jwt_pg and PyJWT: both ways for HS256, HS384 and HS512,
and PyJWT's RS, PS, ES and EdDSA tokens verified by jwt_pg against a JWK Set.

Run with Debian's /usr/bin/python3 (python3-jwt, python3-psycopg2).  The
server comes from the libpq environment (PGHOST, PGPORT, PGUSER,
PGDATABASE).  The test creates the database jwt_interop and drops it at
the end.  The last line printed is "N passed, N failed".
"""

import datetime
import json
import re
import time
import unittest

import jwt
import psycopg2
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

import _database
import _runner
from psycopg2.extras import Json

DB = 'jwt_interop'
# Minimum secret length in bytes for each algorithm: its hash output size.
ALGS = {'HS256': 32, 'HS384': 48, 'HS512': 64}
EXPIRES_IN_SECONDS = 900
JTI = re.compile(r'[A-Za-z0-9_-]{22,}')

# Everything JSON can hold, and the spots where encoders differ: non-ASCII
# (PyJWT sends \u escapes, surrogate pairs for the emoji), escapes, floats
# whose shortest form is long or uses an exponent, and 2**53.
CLAIMS = {
    'sub': 'user-42',
    'name': 'Zoë',
    'city': '東京',
    'emoji': '😀',
    'escapes': 'tab\tquote"back\\slash\nline',
    'nested': {'roles': ['admin', 'dev'], 'limits': {'rate': 2.5, 'burst': None}},
    'list': [1, -2, 3.25, True, False, None, 'x', {'k': []}],
    'ratio': 0.1 + 0.2,
    'tiny': 1.5e-07,
    'big': 2 ** 53,
    'admin': True,
    'banned': False,
    'manager': None,
}

conn = None


def text_secret(nbytes):
    """Return a text secret of exactly nbytes in UTF-8.

    The é makes bytes and characters differ, so both sides must key HMAC
    with the UTF-8 bytes."""
    prefix = 'clé-'
    return prefix + 'x' * (nbytes - len(prefix.encode()))


def bytea_secret(nbytes):
    """Return a binary secret of exactly nbytes that contains a NUL and is not valid UTF-8."""
    return b'\x00\xff' + bytes(range(0x80, 0x80 + nbytes - 2))


SECRETS = {'text': text_secret, 'bytea': bytea_secret}


def cast(secret):
    return '::bytea' if isinstance(secret, bytes) else '::text'


def sql(query, *args):
    with conn.cursor() as cur:
        cur.execute(query, args)
        return cur.fetchone()[0]


def pg_sign(claims, secret, alg, expires_in=None, header=None):
    return sql(f'SELECT jwt_create(%s::jsonb, %s{cast(secret)}, %s::text, '
               '%s::interval, %s::jsonb)',
               Json(claims), secret, alg,
               None if expires_in is None else datetime.timedelta(seconds=expires_in),
               None if header is None else Json(header))


def pg_verify(token, secret, algorithms=None):
    return sql(f'SELECT jwt_verify(%s::text, %s{cast(secret)}, %s::text[])',
               token, secret, algorithms)


def py_sign(claims, secret, alg, header=None):
    return jwt.encode(claims, secret, algorithm=alg, headers=header)


SIGNERS = {'jwt_pg': pg_sign, 'PyJWT': py_sign}


def tamper(token):
    """Return the token with the first character of its signature changed.

    The first character carries no padding bits, so the MAC bytes change
    and the base64url stays canonical."""
    head, payload, sig = token.split('.')
    return '.'.join([head, payload, ('B' if sig[0] == 'A' else 'A') + sig[1:]])


def setUpModule():
    global conn
    conn = _database.create(DB)


def tearDownModule():
    _database.drop(DB, conn)


class Case(unittest.TestCase):
    maxDiff = None

    def assertPgError(self, code, message, call, *args):
        expected = f'expected jwt_pg to raise {code} {message!r}, but it returned a result'
        with self.assertRaises(psycopg2.Error, msg=expected) as cm:
            call(*args)

        e = cm.exception
        self.assertEqual(e.pgcode, code, f'wrong SQLSTATE for error: {e.pgerror}')
        self.assertEqual(e.diag.message_primary, message)
        self.assertEqual(e.pgerror.splitlines()[0], f'ERROR:  {message}')


class ExtensionToPyJWT(Case):
    """Tokens from jwt_create verify in PyJWT with the same claims."""

    def check(self, form):
        for alg, size in ALGS.items():
            with self.subTest(alg=alg, secret=form):
                secret = SECRETS[form](size)
                before = int(time.time())
                token = pg_sign(CLAIMS, secret, alg, EXPIRES_IN_SECONDS, {'kid': 'k1'})
                after = int(time.time())
                self.assertEqual(jwt.get_unverified_header(token),
                                 {'alg': alg, 'typ': 'JWT', 'kid': 'k1'})
                claims = jwt.decode(token, secret, algorithms=[alg])
                iat, exp, jti = (claims.get(k) for k in ('iat', 'exp', 'jti'))
                self.assertIsInstance(iat, int, f'iat in {claims}')
                self.assertGreaterEqual(iat, before, 'iat is before the call')
                self.assertLessEqual(iat, after + 1, 'iat is after the call')
                self.assertEqual(exp - iat, EXPIRES_IN_SECONDS, f'exp - iat in {claims}')
                self.assertIsInstance(jti, str, f'jti in {claims}')
                self.assertRegex(jti, JTI)
                self.assertEqual(claims, {**CLAIMS, 'iat': iat, 'exp': exp, 'jti': jti})

    def test_text_secret(self):
        self.check('text')

    def test_bytea_secret(self):
        with self.assertRaises(UnicodeDecodeError):
            bytea_secret(32).decode('utf-8')
        self.check('bytea')

    def test_defaults(self):
        """Sign without header and expires_in: a bare header and no exp."""
        for alg, size in ALGS.items():
            with self.subTest(alg=alg):
                secret = text_secret(size)
                token = sql('SELECT jwt_create(%s::jsonb, %s::text, %s::text)',
                            Json({'sub': 'a'}), secret, alg)
                self.assertEqual(jwt.get_unverified_header(token), {'alg': alg, 'typ': 'JWT'})
                claims = jwt.decode(token, secret, algorithms=[alg])
                self.assertEqual(sorted(claims), ['iat', 'jti', 'sub'])

    def test_caller_iat_jti_kept(self):
        """Keep the iat and jti that the caller passes in the claims."""
        own = {'sub': 'a', 'iat': 1700000000, 'jti': 'my-own-id'}
        for alg, size in ALGS.items():
            with self.subTest(alg=alg):
                secret = bytea_secret(size)
                claims = jwt.decode(pg_sign(own, secret, alg), secret, algorithms=[alg])
                self.assertEqual(claims, own)


class PyJWTToExtension(Case):
    """Tokens from PyJWT verify in jwt_verify with the same claims."""

    def check(self, form, allowed):
        now = int(time.time())
        claims = {**CLAIMS, 'iat': now, 'exp': now + EXPIRES_IN_SECONDS}
        for alg, size in ALGS.items():
            with self.subTest(alg=alg, secret=form):
                secret = SECRETS[form](size)
                token = py_sign(claims, secret, alg, {'kid': 'k1'})
                self.assertEqual(pg_verify(token, secret, list(ALGS) if allowed else None), claims)

    def test_text_secret(self):
        self.check('text', allowed=False)

    def test_bytea_secret(self):
        self.check('bytea', allowed=False)

    def test_allowed_list(self):
        """Verify with an explicit list of all three algorithms."""
        self.check('text', allowed=True)


class Rejections(Case):
    """Bad tokens fail in both libraries."""

    def tokens(self, claims):
        """Sign the claims with every algorithm, signer and secret form."""
        out = []
        for alg, size in ALGS.items():
            for signer, sign in SIGNERS.items():
                for form, make in SECRETS.items():
                    secret = make(size)
                    label = {'alg': alg, 'signer': signer, 'secret': form}
                    out.append((label, alg, secret, sign(claims, secret, alg)))
        return out

    def test_altered_signature(self):
        for label, alg, secret, token in self.tokens({'sub': 'a'}):
            with self.subTest(**label):
                bad = tamper(token)
                with self.assertRaises(jwt.InvalidSignatureError):
                    jwt.decode(bad, secret, algorithms=[alg])
                self.assertPgError('28000', 'invalid token signature', pg_verify, bad, secret)

    def test_expired(self):
        now = int(time.time())
        for label, alg, secret, token in self.tokens({'sub': 'a', 'iat': now - 7200, 'exp': now - 3600}):
            with self.subTest(**label):
                with self.assertRaises(jwt.ExpiredSignatureError):
                    jwt.decode(token, secret, algorithms=[alg])
                self.assertPgError('28000', 'token has expired', pg_verify, token, secret)

    def test_alg_not_allowed(self):
        for signer, sign in SIGNERS.items():
            with self.subTest(signer=signer):
                secret = text_secret(64)
                token = sign({'sub': 'a'}, secret, 'HS256')
                with self.assertRaises(jwt.InvalidAlgorithmError):
                    jwt.decode(token, secret, algorithms=['HS512'])
                self.assertPgError('28000', 'token algorithm not allowed',
                                   pg_verify, token, secret, ['HS512'])

    def test_short_secret(self):
        """Reject a secret one byte short of the hash length.

        Signing raises 22023.  jwt_pg verifies only with the algorithms the
        secret is long enough for: a token of another one is not allowed
        (28000), and a secret too short for every algorithm that the call
        allows raises 22023.  PyJWT 2.6 signs with such secrets without
        error."""
        for alg, size in ALGS.items():
            for form, make in SECRETS.items():
                with self.subTest(alg=alg, secret=form):
                    secret = make(size - 1)
                    too_short = f'secret is too short for {alg}'
                    self.assertPgError('22023', too_short, pg_sign, {'sub': 'a'}, secret, alg)
                    token = py_sign({'sub': 'a'}, secret, alg)
                    self.assertPgError('22023', too_short, pg_verify, token, secret, [alg])
                    if alg == 'HS256':
                        self.assertPgError('22023', too_short, pg_verify, token, secret)
                    else:
                        self.assertPgError('28000', 'token algorithm not allowed',
                                           pg_verify, token, secret)


def asymmetric_keys():
    """Return fresh private keys, and the public JWK Set with their kids."""
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    keys = {
        'rsa': (rsa_key, RSAAlgorithm),
        'p256': (ec.generate_private_key(ec.SECP256R1()), ECAlgorithm),
        'p384': (ec.generate_private_key(ec.SECP384R1()), ECAlgorithm),
        'p521': (ec.generate_private_key(ec.SECP521R1()), ECAlgorithm),
        'ed25519': (ed25519.Ed25519PrivateKey.generate(), OKPAlgorithm),
    }
    jwks = []
    for kid, (private_key, algorithm) in keys.items():
        jwk = json.loads(algorithm.to_jwk(private_key.public_key()))
        jwk['kid'] = kid
        jwks.append(jwk)
    return {kid: key for kid, (key, _) in keys.items()}, {'keys': jwks}


# Each asymmetric algorithm and the kid of the key that signs it.
ASYMMETRIC = {
    'RS256': 'rsa', 'RS384': 'rsa', 'RS512': 'rsa',
    'PS256': 'rsa', 'PS384': 'rsa', 'PS512': 'rsa',
    'ES256': 'p256', 'ES384': 'p384', 'ES512': 'p521',
    'EdDSA': 'ed25519',
}


class PyJWTAsymmetricToExtension(Case):
    """PyJWT's RS, PS, ES and EdDSA tokens verify against the public JWK Set."""

    @classmethod
    def setUpClass(cls):
        cls.private_keys, cls.jwks = asymmetric_keys()

    def verify(self, token, algorithms=None):
        return sql('SELECT jwt_verify(%s::text, %s::jsonb, %s::text[])',
                   token, Json(self.jwks), algorithms)

    def test_every_algorithm(self):
        """Verify each algorithm's token, with and without an explicit list."""
        for alg, kid in ASYMMETRIC.items():
            with self.subTest(alg=alg):
                token = jwt.encode(CLAIMS, self.private_keys[kid], algorithm=alg,
                                   headers={'kid': kid})
                self.assertEqual(self.verify(token), CLAIMS)
                self.assertEqual(self.verify(token, [alg]), CLAIMS)

    def test_tampered_signature(self):
        """Reject a changed signature for each algorithm."""
        for alg, kid in ASYMMETRIC.items():
            with self.subTest(alg=alg):
                token = jwt.encode(CLAIMS, self.private_keys[kid], algorithm=alg,
                                   headers={'kid': kid})
                self.assertPgError('28000', 'invalid token signature', self.verify, tamper(token))

    def test_wrong_kid(self):
        """Reject a token whose kid names another key, even of the same kind."""
        token = jwt.encode(CLAIMS, self.private_keys['p256'], algorithm='ES256',
                           headers={'kid': 'p384'})
        self.assertPgError('28000', 'token key not found', self.verify, token)


if __name__ == '__main__':
    _runner.main(__name__)
