#!/usr/bin/python3
"""Interop between jwt_pg and PyJWT: both ways for HS256, HS384 and HS512,
and PyJWT's RS, PS, ES and EdDSA tokens verified by jwt_pg against a JWK Set.
With the key store, both ways for all 13 algorithms: keys that jwt_pg
generates or imports sign tokens that PyJWT verifies, with the public keys
of jwt_jwks(), and public keys and secrets from python verify PyJWT's tokens
in jwt_pg.  Key rotation is checked on both sides too.

Run with Debian's /usr/bin/python3 (python3-jwt, python3-psycopg2).  The
server comes from the libpq environment (PGHOST, PGPORT, PGUSER,
PGDATABASE).  The test creates the database jwt_interop and drops it at
the end.  The last line printed is "N passed, N failed".
"""

import base64
import datetime
import hashlib
import json
import re
import time
import unittest

import jwt
import psycopg2
from cryptography.hazmat.primitives import serialization
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

    def assertCreatedClaims(self, claims, before, after):
        """Check the claims of a token that jwt_create signed with CLAIMS.

        before and after are the Unix times around the call, and the call
        passed an expires_in of EXPIRES_IN_SECONDS."""
        iat, exp, jti = (claims.get(k) for k in ('iat', 'exp', 'jti'))
        self.assertIsInstance(iat, int, f'iat in {claims}')
        self.assertGreaterEqual(iat, before, 'iat is before the call')
        self.assertLessEqual(iat, after + 1, 'iat is after the call')
        self.assertEqual(exp - iat, EXPIRES_IN_SECONDS, f'exp - iat in {claims}')
        self.assertIsInstance(jti, str, f'jti in {claims}')
        self.assertRegex(jti, JTI)
        self.assertEqual(claims, {**CLAIMS, 'iat': iat, 'exp': exp, 'jti': jti})


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
                self.assertCreatedClaims(claims, before, after)

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


# The key store: jwt_key_generate, jwt_key_import, jwt_key_set_state and
# jwt_jwks, with jwt_create and jwt_verify called without a secret.

# Each ES algorithm's curve: its JWK crv, its python class, and the bytes of
# one coordinate.
CURVES = {
    'ES256': ('P-256', ec.SECP256R1, 32),
    'ES384': ('P-384', ec.SECP384R1, 48),
    'ES512': ('P-521', ec.SECP521R1, 66),
}
# The kid of an HMAC key imported without one: 16 random bytes in base64url.
RANDOM_KID = re.compile(r'\A[A-Za-z0-9_-]{22}\Z')
# The members that an RFC 7638 thumbprint covers, for each key type.
THUMBPRINT_MEMBERS = {
    'RSA': ('e', 'kty', 'n'),
    'EC': ('crv', 'kty', 'x', 'y'),
    'OKP': ('crv', 'kty', 'x'),
}
# How PyJWT's public key reaches jwt_key_import for each algorithm.  A PEM
# SubjectPublicKeyInfo goes without a kid, so the stored kid is the RFC 7638
# thumbprint.  A JWK carries its own "kid" member.
PUBLIC_KEY_FORMS = {
    'RS256': 'pem', 'RS384': 'jwk', 'RS512': 'pem',
    'PS256': 'jwk', 'PS384': 'pem', 'PS512': 'jwk',
    'ES256': 'pem', 'ES384': 'jwk', 'ES512': 'pem',
    'EdDSA': 'jwk',
}
# Private keys from python that jwt_key_import takes, and in what form.
PRIVATE_KEY_FORMS = [
    ('RS256', 'pkcs1'), ('PS384', 'pkcs8'), ('RS512', 'jwk'),
    ('ES256', 'jwk'), ('ES384', 'pkcs8'), ('ES512', 'jwk'),
    ('EdDSA', 'jwk'), ('EdDSA', 'pkcs8'),
]
PEM_HEADERS = {
    'pkcs1': '-----BEGIN RSA PRIVATE KEY-----\n',
    'pkcs8': '-----BEGIN PRIVATE KEY-----\n',
    'spki': '-----BEGIN PUBLIC KEY-----\n',
}


def base64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode()


def base64url_decode(text):
    return base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))


def generate_private_key(alg):
    if alg in CURVES:
        return ec.generate_private_key(CURVES[alg][1]())
    if alg == 'EdDSA':
        return ed25519.Ed25519PrivateKey.generate()
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk_algorithm(alg):
    """Return the PyJWT class that converts the algorithm's keys to JWKs."""
    return {'RS': RSAAlgorithm, 'PS': RSAAlgorithm, 'ES': ECAlgorithm, 'Ed': OKPAlgorithm}[alg[:2]]


def pyjwt_jwk(key, alg):
    """Return the JWK, public or private, that PyJWT's to_jwk makes for the key."""
    return json.loads(jwk_algorithm(alg).to_jwk(key))


def public_jwk(public_key, alg):
    """Return the public key's JWK with the members that RFC 7518 requires.

    PyJWT 2.6's to_jwk drops the leading zero bytes of EC coordinates, but
    RFC 7518 section 6.2.1.2 requires the full width, and jwt_jwks() gives
    it.  So x and y are encoded here from the key's numbers."""
    if alg in CURVES:
        crv, _, width = CURVES[alg]
        numbers = public_key.public_numbers()
        return {'kty': 'EC', 'crv': crv,
                'x': base64url(numbers.x.to_bytes(width, 'big')),
                'y': base64url(numbers.y.to_bytes(width, 'big'))}
    jwk = pyjwt_jwk(public_key, alg)
    jwk.pop('key_ops', None)  # PyJWT 2.6 adds ["verify"] to RSA keys only.
    return jwk


def stored_jwk(public_key, alg, kid):
    """Return the JWK that jwt_jwks() shows for a stored key."""
    return {**public_jwk(public_key, alg), 'alg': alg, 'kid': kid, 'use': 'sig'}


def thumbprint(jwk):
    """Return the RFC 7638 SHA-256 thumbprint of a public JWK, in base64url."""
    required = {name: jwk[name] for name in THUMBPRINT_MEMBERS[jwk['kty']]}
    text = json.dumps(required, sort_keys=True, separators=(',', ':'))
    return base64url(hashlib.sha256(text.encode()).digest())


def public_pem(public_key):
    return public_key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def private_pem(private_key, form):
    key_format = {'pkcs1': serialization.PrivateFormat.TraditionalOpenSSL,
                  'pkcs8': serialization.PrivateFormat.PKCS8}[form]
    return private_key.private_bytes(serialization.Encoding.PEM, key_format,
                                     serialization.NoEncryption()).decode()


def store_generate(alg):
    return sql('SELECT jwt_key_generate(%s)', alg)


def store_import(key, alg, kid=None):
    return sql('SELECT jwt_key_import(%s, %s, %s)', key, alg, kid)


def store_set_state(kid, state):
    with conn.cursor() as cur:
        cur.execute('SELECT jwt_key_set_state(%s, %s)', (kid, state))


def store_state(kid):
    """Return the key's state in jwt_pg.keys, or None when no row has the kid."""
    with conn.cursor() as cur:
        cur.execute('SELECT state FROM jwt_pg.keys WHERE kid = %s', (kid,))
        row = cur.fetchone()
    return None if row is None else row[0]


def store_sign(claims, alg, kid=None):
    """Sign with the key store: the key with this kid, or the newest active key of alg."""
    return pg_sign(claims, None, alg, EXPIRES_IN_SECONDS, None if kid is None else {'kid': kid})


def store_verify(token):
    return sql('SELECT jwt_verify(%s::text)', token)


def store_jwks():
    return sql('SELECT jwt_jwks()')


def jwks_kids():
    return [key['kid'] for key in store_jwks()['keys']]


def jwks_key(kid):
    """Return the key of jwt_jwks() with this kid, as PyJWT reads it."""
    return jwt.PyJWKSet.from_dict(store_jwks())[kid]


def short_key(alg, member):
    """Return a new private key whose PyJWT JWK has a short EC member.

    PyJWT 2.6 drops leading zero bytes.  The top byte of a 66-byte P-521
    value contains only its highest bit, so the member ("x", "y" or "d") of
    about one P-521 key in two has 65 bytes."""
    width = CURVES[alg][2]
    for _ in range(200):
        key = generate_private_key(alg)
        if len(base64url_decode(pyjwt_jwk(key, alg)[member])) < width:
            return key
    raise AssertionError(f'no {alg} key in 200 has a short {member}')


class KeyStoreCase(Case):
    """A test that starts with an empty key store.

    So the newest active key of an algorithm, which jwt_create signs with
    when the header names no kid, is the last one that the test stored."""

    def setUp(self):
        with conn.cursor() as cur:
            cur.execute('DELETE FROM jwt_pg.keys')

    def sign_and_check(self, alg, kid, key, by_kid=False):
        """Sign CLAIMS with the stored key named kid, and verify the token with PyJWT and key.

        With by_kid, the header passed to jwt_create names the key.  Without
        it, the key must be the newest active key of alg.  Return the token
        and its claims."""
        before = int(time.time())
        token = store_sign(CLAIMS, alg, kid if by_kid else None)
        after = int(time.time())
        self.assertEqual(jwt.get_unverified_header(token), {'alg': alg, 'typ': 'JWT', 'kid': kid})
        claims = jwt.decode(token, key, algorithms=[alg])
        self.assertCreatedClaims(claims, before, after)
        return token, claims


class StoreToPyJWT(KeyStoreCase):
    """Tokens that jwt_create signs with stored keys verify in PyJWT."""

    def test_generated_keys(self):
        """Generate a key, sign with it, and verify with its JWK from jwt_jwks()."""
        for alg in ASYMMETRIC:
            with self.subTest(alg=alg):
                kid = store_generate(alg)
                self.assertEqual(store_state(kid), 'active')
                pyjwk = jwks_key(kid)

                # The JWK has the RFC 7518 members at full width, and the kid
                # is its RFC 7638 thumbprint.
                jwk = store_jwks()['keys'][0]
                self.assertEqual(jwk, stored_jwk(pyjwk.key, alg, kid))
                self.assertEqual(kid, thumbprint(jwk))

                token, claims = self.sign_and_check(alg, kid, pyjwk.key)
                self.assertEqual(store_verify(token), claims)

    def test_imported_secrets(self):
        """Import an HMAC secret as text and as an oct JWK, sign, and verify with the secret."""
        for alg, size in ALGS.items():
            with self.subTest(alg=alg, secret='text'):
                secret = text_secret(size)
                kid = store_import(secret, alg)
                self.assertRegex(kid, RANDOM_KID)
                token, claims = self.sign_and_check(alg, kid, secret)
                self.assertEqual(store_verify(token), claims)

            with self.subTest(alg=alg, secret='oct JWK'):
                secret = bytea_secret(size)
                oct_jwk = {'kty': 'oct', 'k': base64url(secret), 'kid': f'oct-{alg}'}
                self.assertEqual(store_import(json.dumps(oct_jwk), alg), f'oct-{alg}')
                token, claims = self.sign_and_check(alg, f'oct-{alg}', secret)
                self.assertEqual(store_verify(token), claims)

        self.assertEqual(store_jwks(), {'keys': []}, 'jwt_jwks() shows an HMAC key')

    def test_imported_private_keys(self):
        """Import a python private key, sign with its kid, and verify with the public key."""
        for alg, form in PRIVATE_KEY_FORMS:
            with self.subTest(alg=alg, form=form):
                private_key = generate_private_key(alg)
                kid = f'py-{alg}-{form}'
                if form == 'jwk':
                    key = json.dumps(pyjwt_jwk(private_key, alg))
                    self.assertIn('"d"', key)
                else:
                    key = private_pem(private_key, form)
                    self.assertTrue(key.startswith(PEM_HEADERS[form]), key[:40])
                self.assertEqual(store_import(key, alg, kid), kid)
                self.assertEqual(store_state(kid), 'active')
                self.assertEqual(store_jwks()['keys'][0], stored_jwk(private_key.public_key(), alg, kid))

                token, claims = self.sign_and_check(alg, kid, private_key.public_key(), by_kid=True)
                self.assertEqual(store_verify(token), claims)

    def test_private_jwk_short_d(self):
        """Import a private P-521 JWK whose d lacks its leading zero byte, as PyJWT 2.6 writes it."""
        private_key = short_key('ES512', 'd')
        kid = store_import(json.dumps(pyjwt_jwk(private_key, 'ES512')), 'ES512', 'short-d')
        self.assertEqual(kid, 'short-d')
        self.sign_and_check('ES512', kid, private_key.public_key())


class PyJWTToStore(KeyStoreCase):
    """PyJWT's tokens verify in jwt_verify with keys imported into the key store."""

    def test_imported_public_keys(self):
        """Import PyJWT's public key as PEM or JWK, and verify its token by kid."""
        for alg, form in PUBLIC_KEY_FORMS.items():
            with self.subTest(alg=alg, form=form):
                private_key = generate_private_key(alg)
                public_key = private_key.public_key()
                if form == 'pem':
                    kid = thumbprint(public_jwk(public_key, alg))
                    key = public_pem(public_key)
                    self.assertTrue(key.startswith(PEM_HEADERS['spki']), key[:40])
                else:
                    kid = f'py-{alg}'
                    key = json.dumps({**pyjwt_jwk(public_key, alg), 'kid': kid})

                token = jwt.encode(CLAIMS, private_key, algorithm=alg, headers={'kid': kid})
                self.assertEqual(store_import(key, alg), kid)
                self.assertEqual(store_state(kid), 'verify_only')
                self.assertEqual(store_jwks()['keys'][0], stored_jwk(public_key, alg, kid))

                self.assertEqual(store_verify(token), CLAIMS)
                self.assertPgError('28000', 'invalid token signature', store_verify, tamper(token))

    def test_imported_secrets(self):
        """Import an HMAC secret with a kid, and verify PyJWT's token that names it."""
        now = int(time.time())
        claims = {**CLAIMS, 'iat': now, 'exp': now + EXPIRES_IN_SECONDS}
        for alg, size in ALGS.items():
            for form, make in SECRETS.items():
                with self.subTest(alg=alg, secret=form):
                    secret = make(size)
                    kid = f'{form}-{alg}'
                    if form == 'text':
                        self.assertEqual(store_import(secret, alg, kid), kid)
                    else:
                        oct_jwk = {'kty': 'oct', 'k': base64url(secret)}
                        self.assertEqual(store_import(json.dumps(oct_jwk), alg, kid), kid)

                    token = py_sign(claims, secret, alg, {'kid': kid})
                    self.assertEqual(store_verify(token), claims)
                    self.assertPgError('28000', 'invalid token signature', store_verify, tamper(token))

    def test_public_jwk_short_x(self):
        """Import a P-521 JWK whose x lacks its leading zero byte, as PyJWT 2.6 writes it."""
        private_key = short_key('ES512', 'x')
        key = json.dumps({**pyjwt_jwk(private_key.public_key(), 'ES512'), 'kid': 'short-x'})
        self.assertEqual(store_import(key, 'ES512'), 'short-x')
        self.assertEqual(store_jwks()['keys'][0],
                         stored_jwk(private_key.public_key(), 'ES512', 'short-x'))

        token = jwt.encode(CLAIMS, private_key, algorithm='ES512', headers={'kid': 'short-x'})
        self.assertEqual(store_verify(token), CLAIMS)


class KeyRotation(KeyStoreCase):
    """A newer key takes over signing, and the old one verifies until it is retired."""

    def test_rotation(self):
        before = int(time.time())
        kid_a = store_generate('ES256')
        token_1 = store_sign(CLAIMS, 'ES256')
        kid_b = store_generate('ES256')
        token_2 = store_sign(CLAIMS, 'ES256')
        after = int(time.time())
        self.assertNotEqual(kid_a, kid_b)
        self.assertEqual(jwt.get_unverified_header(token_1)['kid'], kid_a)
        self.assertEqual(jwt.get_unverified_header(token_2)['kid'], kid_b)

        # verify_only: A no longer signs, but both tokens verify on both sides.
        store_set_state(kid_a, 'verify_only')
        self.assertEqual(store_state(kid_a), 'verify_only')
        self.assertPgError('42704', f'no active ES256 key "{kid_a}" in the key store',
                           store_sign, CLAIMS, 'ES256', kid_a)
        self.assertEqual(jwks_kids(), [kid_b, kid_a])
        for token, kid in ((token_1, kid_a), (token_2, kid_b)):
            with self.subTest(state='verify_only', kid=kid):
                claims = store_verify(token)
                self.assertCreatedClaims(claims, before, after)
                self.assertEqual(jwt.decode(token, jwks_key(kid).key, algorithms=['ES256']), claims)

        # retired: A is gone from jwt_jwks() and its token is rejected.
        store_set_state(kid_a, 'retired')
        self.assertEqual(store_state(kid_a), 'retired')
        self.assertEqual(jwks_kids(), [kid_b])
        self.assertPgError('28000', 'token key not found', store_verify, token_1)
        self.assertEqual(sql('SELECT jwt_valid(%s::text)', token_1), False)
        self.assertEqual(jwt.decode(token_2, jwks_key(kid_b).key, algorithms=['ES256']),
                         store_verify(token_2))


if __name__ == '__main__':
    _runner.main(__name__)
