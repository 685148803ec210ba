#!/usr/bin/python3
"""Interop between jwt_pg's key store and jose (Node.js), both ways, for
HS256/384/512, RS256/384/512, PS256/384/512, ES256/384/512 and EdDSA.

jwt_pg signs with keys from jwt_key_generate and jwt_key_import, and jose
verifies the tokens against jwt_jwks() or the shared HMAC secret.  jose
signs with its own keys, whose JWKs jwt_key_import stores, and jwt_verify
checks the tokens with the key store.

Needs Node.js 20 or later (`node` on PATH, or the NODE environment
variable) and the jose package: run `npm ci --prefix test/js` first.  Run
with Debian's /usr/bin/python3 (python3-psycopg2).  The server comes from
the libpq environment (PGHOST, PGPORT, PGUSER).  The test creates the
database jwt_interop_jose and drops it at the end.  The last line printed
is "N passed, N failed".
"""

import base64
import datetime
import json
import os
import re
import secrets
import shutil
import subprocess
import time
import unittest

import psycopg2
from psycopg2.extras import Json

import _database
import _runner

DB = 'jwt_interop_jose'
JS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'js')
TOOL = os.path.join(JS_DIR, 'jose_tool.mjs')
NODE = os.environ.get('NODE') or shutil.which('node')
NODE_TIMEOUT_SECONDS = 120

# Minimum secret length in bytes for each HMAC algorithm: its hash output size.
HMAC = {'HS256': 32, 'HS384': 48, 'HS512': 64}
ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512',
              'ES256', 'ES384', 'ES512', 'EdDSA']
ALGORITHMS = list(HMAC) + ASYMMETRIC
# The key type and curve that each asymmetric algorithm's JWK must have.
KEY_TYPES = {
    'RS256': ('RSA', None), 'RS384': ('RSA', None), 'RS512': ('RSA', None),
    'PS256': ('RSA', None), 'PS384': ('RSA', None), 'PS512': ('RSA', None),
    'ES256': ('EC', 'P-256'), 'ES384': ('EC', 'P-384'), 'ES512': ('EC', 'P-521'),
    'EdDSA': ('OKP', 'Ed25519'),
}
# The JWK members that define each key type's public key (RFC 7638).
PUBLIC_MEMBERS = {'RSA': ('kty', 'n', 'e'), 'EC': ('kty', 'crv', 'x', 'y'),
                  'OKP': ('kty', 'crv', 'x')}
# Algorithms whose private JWK from jose is also imported.  They cover RSA
# PKCS #1 v1.5, RSA-PSS, two curves and Ed25519, and keep the test fast.
PRIVATE_IMPORTS = ['RS256', 'PS384', 'ES256', 'ES512', 'EdDSA']

EXPIRES_IN_SECONDS = 900
JTI = re.compile(r'[A-Za-z0-9_-]{22,}')

# Values where JSON encoders differ: non-ASCII (jwt_pg and jose both write
# raw UTF-8), escapes, and floats whose shortest form is long or has an
# exponent (JavaScript writes 1.5e-7).  2**53 is the largest integer up to
# which every integer is exact in a JavaScript number.
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
    'manager': None,
}
NON_ASCII_KID = 'clé-東京-😀'

conn = None
# jose's keys for every algorithm: {alg: {'private': JWK, 'public': JWK}},
# or {alg: {'secret': JWK}} for HMAC, each with kid "jose-<alg>".
jose_keys = {}


def jose(request):
    """Run jose_tool.mjs on one request, or on a list of them in one process."""
    result = subprocess.run([NODE, TOOL], input=json.dumps(request), capture_output=True,
                            text=True, encoding='utf-8', timeout=NODE_TIMEOUT_SECONDS)
    if result.returncode != 0:
        raise RuntimeError(f'jose_tool.mjs failed with exit status {result.returncode}: '
                           f'{result.stderr.strip()}')
    return json.loads(result.stdout)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode('ascii')


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))


def token_part(token, index):
    """Return the header (0) or payload (1) of a token, parsed from its UTF-8 JSON."""
    return json.loads(b64url_decode(token.split('.')[index]).decode('utf-8'))


def tamper(token):
    """Return the token with the first character of its signature changed.

    The first character carries no padding bits, so the signature bytes
    change and the base64url stays canonical."""
    head, payload, sig = token.split('.')
    return '.'.join([head, payload, ('B' if sig[0] == 'A' else 'A') + sig[1:]])


def sql(query, *args):
    with conn.cursor() as cur:
        cur.execute(query, args)
        return cur.fetchone()[0]


def execute(query, *args):
    with conn.cursor() as cur:
        cur.execute(query, args)


def pg_sign(claims, alg, kid=None):
    """Sign with the key store: the key with this kid, or the newest active key of alg."""
    return sql('SELECT jwt_create(%s::jsonb, algorithm => %s::text, expires_in => %s::interval,'
               ' header => %s::jsonb)',
               Json(claims), alg, datetime.timedelta(seconds=EXPIRES_IN_SECONDS),
               None if kid is None else Json({'kid': kid}))


def pg_verify(token, algorithms=None):
    return sql('SELECT jwt_verify(%s::text, algorithms => %s::text[])', token, algorithms)


def pg_valid(token):
    return sql('SELECT jwt_valid(%s::text)', token)


def pg_import(key, alg, kid=None):
    return sql('SELECT jwt_key_import(%s::text, %s::text, %s::text)', key, alg, kid)


def stored_key(kid):
    """Return the key store row of a kid as (alg, state, public_jwk, secret)."""
    with conn.cursor() as cur:
        cur.execute('SELECT alg, state, public_jwk, secret FROM jwt_pg.keys WHERE kid = %s',
                    (kid,))
        row = cur.fetchone()
    if row is None:
        raise AssertionError(f'no key with kid {kid!r} in jwt_pg.keys')
    alg, state, public_jwk, secret = row
    return alg, state, public_jwk, None if secret is None else bytes(secret)


def public_members(jwk):
    return {name: jwk[name] for name in PUBLIC_MEMBERS[jwk['kty']]}


def jose_claims():
    now = int(time.time())
    return {**CLAIMS, 'iat': now, 'exp': now + EXPIRES_IN_SECONDS}


def setUpModule():
    global conn
    if NODE is None:
        raise RuntimeError('node is not on PATH: install Node.js 20 or later, '
                           'or set NODE to its path')
    if not os.path.isdir(os.path.join(JS_DIR, 'node_modules', 'jose')):
        raise RuntimeError(f'jose is not installed in {JS_DIR}/node_modules: '
                           'run `npm ci --prefix test/js` from the repository root')

    responses = jose([{'op': 'generate', 'alg': alg, 'kid': f'jose-{alg}'} for alg in ALGORITHMS])
    jose_keys.update(zip(ALGORITHMS, responses))
    conn = _database.create(DB, "ENCODING 'UTF8' TEMPLATE template0")


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

    def assertJoseError(self, response, code):
        self.assertIn('error', response, f'expected jose to reject the token with {code}')
        self.assertEqual(response['error']['code'], code, response['error']['message'])

    def assertPgClaims(self, token, header, claims, before, after):
        """Check a jwt_pg token's header, and its claims with the iat, exp
        and jti that jwt_create adds, against what jose returned."""
        self.assertEqual(token_part(token, 0), header)
        iat, exp, jti = (claims.get(k) for k in ('iat', 'exp', 'jti'))
        self.assertIsInstance(iat, int, f'iat in {claims}')
        self.assertGreaterEqual(iat, before, 'iat is before the call')
        self.assertLessEqual(iat, after + 1, 'iat is after the call')
        self.assertEqual(exp - iat, EXPIRES_IN_SECONDS, f'exp - iat in {claims}')
        self.assertIsInstance(jti, str, f'jti in {claims}')
        self.assertRegex(jti, JTI)
        self.assertEqual(claims, {**CLAIMS, 'iat': iat, 'exp': exp, 'jti': jti})
        self.assertEqual(token_part(token, 1), claims)


class ExtensionToJose(Case):
    """Tokens that jwt_pg signs with stored keys verify in jose."""

    @classmethod
    def setUpClass(cls):
        # Asymmetric keys come from jwt_key_generate, and jose reads their
        # public JWKs from jwt_jwks().  HMAC keys are random text secrets
        # that both sides know, with "é" so that the UTF-8 bytes of the
        # text are the key.
        cls.kids = {alg: sql('SELECT jwt_key_generate(%s)', alg) for alg in ASYMMETRIC}
        cls.hmac_jwks = {}
        for alg, size in HMAC.items():
            secret = 'clé-' + secrets.token_urlsafe(size)
            cls.kids[alg] = pg_import(secret, alg, f'pg-{alg}')
            cls.hmac_jwks[alg] = {'kty': 'oct', 'k': b64url(secret.encode('utf-8')), 'alg': alg}

    def jose_key(self, alg, jwks):
        """Return the verify request members that give jose the key for alg."""
        if alg in HMAC:
            return {'jwk': self.hmac_jwks[alg]}
        return {'jwks': jwks}

    def test_generated_key_members(self):
        """Store generated keys as active, with a JWK whose kid is its thumbprint."""
        for alg in ASYMMETRIC:
            with self.subTest(alg=alg):
                kid = self.kids[alg]
                stored_alg, state, public_jwk, private_der = stored_key(kid)
                kty, crv = KEY_TYPES[alg]
                self.assertEqual(stored_alg, alg)
                self.assertEqual(state, 'active')
                self.assertIsNotNone(private_der, 'the private key is not stored')
                self.assertEqual(public_jwk['kty'], kty)
                self.assertEqual(public_jwk.get('crv'), crv)
                self.assertEqual(public_jwk['alg'], alg)
                self.assertEqual(public_jwk['kid'], kid)
                self.assertEqual(public_jwk['use'], 'sig')
                self.assertEqual(sorted(public_jwk),
                                 sorted(PUBLIC_MEMBERS[kty] + ('alg', 'kid', 'use')))

        thumbprints = jose([{'op': 'thumbprint', 'jwk': stored_key(self.kids[alg])[2]}
                            for alg in ASYMMETRIC])
        for alg, response in zip(ASYMMETRIC, thumbprints):
            with self.subTest(alg=alg, check='RFC 7638 thumbprint'):
                self.assertEqual(response, {'thumbprint': self.kids[alg]})

    def test_jwks_has_public_keys_only(self):
        """Publish every generated key in jwt_jwks(), and no HMAC key."""
        jwks = sql('SELECT jwt_jwks()')
        by_kid = {jwk['kid']: jwk for jwk in jwks['keys']}
        for alg in ASYMMETRIC:
            with self.subTest(alg=alg):
                self.assertEqual(by_kid.get(self.kids[alg]), stored_key(self.kids[alg])[2])
        for alg in HMAC:
            with self.subTest(alg=alg):
                self.assertNotIn(self.kids[alg], by_kid)
        for jwk in jwks['keys']:
            with self.subTest(kid=jwk['kid']):
                self.assertNotEqual(jwk['kty'], 'oct')
                self.assertNotIn('d', jwk)

    def test_every_algorithm(self):
        """Sign with the newest active key of each algorithm, and jose returns the same claims."""
        jwks = sql('SELECT jwt_jwks()')
        tokens = {}
        for alg in ALGORITHMS:
            before = int(time.time())
            token = pg_sign(CLAIMS, alg)
            tokens[alg] = (token, before, int(time.time()))

        responses = jose([{'op': 'verify', 'token': tokens[alg][0], 'algorithms': [alg],
                           **self.jose_key(alg, jwks)} for alg in ALGORITHMS])
        for alg, response in zip(ALGORITHMS, responses):
            with self.subTest(alg=alg):
                token, before, after = tokens[alg]
                self.assertNotIn('error', response)
                header = {'alg': alg, 'typ': 'JWT', 'kid': self.kids[alg]}
                self.assertEqual(response['header'], header)
                self.assertPgClaims(token, header, response['payload'], before, after)

    def test_tampered_signature(self):
        """jose rejects each algorithm's token with a changed signature."""
        jwks = sql('SELECT jwt_jwks()')
        requests = [{'op': 'verify', 'token': tamper(pg_sign(CLAIMS, alg)), 'algorithms': [alg],
                     **self.jose_key(alg, jwks)} for alg in ALGORITHMS]
        for alg, response in zip(ALGORITHMS, jose(requests)):
            with self.subTest(alg=alg):
                self.assertJoseError(response, 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED')

    def test_retired_key_leaves_jwks(self):
        """A token of a key retired after signing finds no key in the new jwt_jwks()."""
        kid = sql("SELECT jwt_key_generate('ES256', 'retired-soon')")
        self.addCleanup(execute, "SELECT jwt_key_set_state('retired-soon', 'retired')")
        token = pg_sign(CLAIMS, 'ES256', kid)
        self.assertEqual(token_part(token, 0)['kid'], 'retired-soon')

        execute("SELECT jwt_key_set_state('retired-soon', 'verify_only')")
        still_published = sql('SELECT jwt_jwks()')
        execute("SELECT jwt_key_set_state('retired-soon', 'retired')")
        retired = sql('SELECT jwt_jwks()')
        self.assertNotIn(kid, [jwk['kid'] for jwk in retired['keys']])

        while_published, after_retiring = jose([
            {'op': 'verify', 'token': token, 'jwks': still_published},
            {'op': 'verify', 'token': token, 'jwks': retired},
        ])
        self.assertNotIn('error', while_published)
        self.assertEqual(while_published['header']['kid'], kid)
        self.assertJoseError(after_retiring, 'ERR_JWKS_NO_MATCHING_KEY')
        self.assertPgError('28000', 'token key not found', pg_verify, token)


class JoseToExtension(Case):
    """Tokens that jose signs verify in jwt_verify with jose's JWKs in the key store."""

    @classmethod
    def setUpClass(cls):
        # Public JWKs for the asymmetric algorithms, whose "kid" member is
        # the default kid.  The oct JWKs for HMAC get the same kid as an
        # argument, because test_oct_jwk_kid_is_default checks that default
        # on its own.
        cls.kids = {}
        for alg in ASYMMETRIC:
            cls.kids[alg] = pg_import(json.dumps(jose_keys[alg]['public']), alg)
        for alg in HMAC:
            cls.kids[alg] = pg_import(json.dumps(jose_keys[alg]['secret']), alg, f'jose-{alg}')

    def jose_sign(self, claims, header=None):
        """Sign the claims with every algorithm's jose key, and return {alg: token}."""
        requests = []
        for alg in ALGORITHMS:
            key = jose_keys[alg]
            jwk = key['secret'] if alg in HMAC else key['private']
            request = {'op': 'sign', 'jwk': jwk, 'claims': claims}
            if header is not None:
                request['header'] = header
            requests.append(request)
        return {alg: response['token'] for alg, response in zip(ALGORITHMS, jose(requests))}

    def test_import_stores_jwk(self):
        """Store the JWK's kid and key, with public keys as verify_only."""
        for alg in ALGORITHMS:
            with self.subTest(alg=alg):
                self.assertEqual(self.kids[alg], f'jose-{alg}')
                stored_alg, state, public_jwk, secret = stored_key(self.kids[alg])
                self.assertEqual(stored_alg, alg)
                if alg in HMAC:
                    self.assertEqual(state, 'active')
                    self.assertIsNone(public_jwk)
                    self.assertEqual(secret, b64url_decode(jose_keys[alg]['secret']['k']))
                    self.assertEqual(len(secret), HMAC[alg])
                else:
                    self.assertEqual(state, 'verify_only')
                    self.assertIsNone(secret)
                    self.assertEqual(public_jwk, {**jose_keys[alg]['public'], 'use': 'sig'})

    def test_oct_jwk_kid_is_default(self):
        """Take the kid of an oct JWK from its "kid" member, as for other JWKs."""
        for alg in HMAC:
            with self.subTest(alg=alg):
                jwk = {**jose_keys[alg]['secret'], 'kid': f'oct-{alg}'}
                kid = pg_import(json.dumps(jwk), alg)
                self.assertEqual(kid, f'oct-{alg}')

    def test_oct_jwk_alg_must_match(self):
        """Reject jose's HS512 secret for HS256, because its "alg" member names HS512."""
        jwk = {**jose_keys['HS512']['secret'], 'kid': 'oct-HS512-as-HS256'}
        self.assertEqual(len(b64url_decode(jwk['k'])), 64, 'the secret is long enough for HS256')
        self.assertPgError('22023', 'key does not fit algorithm HS256',
                           pg_import, json.dumps(jwk), 'HS256')

    def test_every_algorithm(self):
        """jwt_verify returns jose's claims, with and without an explicit list."""
        claims = jose_claims()
        for alg, token in self.jose_sign(claims).items():
            with self.subTest(alg=alg):
                self.assertEqual(token_part(token, 0),
                                 {'alg': alg, 'typ': 'JWT', 'kid': f'jose-{alg}'})
                self.assertEqual(pg_verify(token), claims)
                self.assertEqual(pg_verify(token, [alg]), claims)
                self.assertIs(pg_valid(token), True)

    def test_tampered_signature(self):
        """Reject each algorithm's token with a changed signature."""
        for alg, token in self.jose_sign(jose_claims()).items():
            with self.subTest(alg=alg):
                bad = tamper(token)
                self.assertPgError('28000', 'invalid token signature', pg_verify, bad)
                self.assertIs(pg_valid(bad), False)

    def test_expired(self):
        """Reject each algorithm's token whose exp has passed."""
        now = int(time.time())
        claims = {**CLAIMS, 'iat': now - 7200, 'exp': now - 3600}
        for alg, token in self.jose_sign(claims).items():
            with self.subTest(alg=alg):
                self.assertPgError('28000', 'token has expired', pg_verify, token)

    def test_unknown_kid(self):
        """Reject a token whose kid is not in the key store."""
        for alg, token in self.jose_sign(jose_claims(), {'kid': 'no-such-key'}).items():
            with self.subTest(alg=alg):
                self.assertPgError('28000', 'token key not found', pg_verify, token)

    def test_kid_of_other_algorithm(self):
        """Reject a PS256 token whose kid names the RS256 key, though both are RSA."""
        token = jose({'op': 'sign', 'jwk': jose_keys['PS256']['private'], 'claims': jose_claims(),
                      'header': {'kid': self.kids['RS256']}})['token']
        self.assertPgError('28000', 'token key not found', pg_verify, token)


class PrivateJwkImport(Case):
    """jose's private JWKs imported into the key store sign in jwt_pg and verify in jose."""

    @classmethod
    def setUpClass(cls):
        # Without a kid in the JWK, the kid is the key's RFC 7638 thumbprint.
        cls.kids = {}
        for alg in PRIVATE_IMPORTS:
            private = {k: v for k, v in jose_keys[alg]['private'].items() if k != 'kid'}
            cls.kids[alg] = pg_import(json.dumps(private), alg)

    def test_kid_is_jose_thumbprint(self):
        """Name each imported key by the RFC 7638 thumbprint that jose computes."""
        responses = jose([{'op': 'thumbprint', 'jwk': jose_keys[alg]['public']}
                          for alg in PRIVATE_IMPORTS])
        for alg, response in zip(PRIVATE_IMPORTS, responses):
            with self.subTest(alg=alg):
                self.assertEqual(response, {'thumbprint': self.kids[alg]})

    def test_stored_public_part(self):
        """Store the key active, with the public JWK that jose derived."""
        for alg in PRIVATE_IMPORTS:
            with self.subTest(alg=alg):
                kid = self.kids[alg]
                stored_alg, state, public_jwk, private_der = stored_key(kid)
                self.assertEqual(stored_alg, alg)
                self.assertEqual(state, 'active')
                self.assertIsNotNone(private_der)
                public = jose_keys[alg]['public']
                self.assertEqual(public_jwk, {**public_members(public), 'alg': alg, 'kid': kid,
                                              'use': 'sig'})

    def test_extension_signs(self):
        """Sign with the imported key, which is the newest active one of its
        algorithm.  jose verifies with its own public JWK."""
        tokens = {}
        for alg in PRIVATE_IMPORTS:
            before = int(time.time())
            token = pg_sign(CLAIMS, alg)
            tokens[alg] = (token, before, int(time.time()))

        responses = jose([{'op': 'verify', 'token': tokens[alg][0], 'algorithms': [alg],
                           'jwk': jose_keys[alg]['public']} for alg in PRIVATE_IMPORTS])
        for alg, response in zip(PRIVATE_IMPORTS, responses):
            with self.subTest(alg=alg):
                token, before, after = tokens[alg]
                self.assertNotIn('error', response)
                header = {'alg': alg, 'typ': 'JWT', 'kid': self.kids[alg]}
                self.assertEqual(response['header'], header)
                self.assertPgClaims(token, header, response['payload'], before, after)

    def test_jose_signs(self):
        """jose's token with the thumbprint as kid verifies with the imported key."""
        claims = jose_claims()
        requests = [{'op': 'sign', 'jwk': jose_keys[alg]['private'], 'claims': claims,
                     'header': {'kid': self.kids[alg]}} for alg in PRIVATE_IMPORTS]
        for alg, response in zip(PRIVATE_IMPORTS, jose(requests)):
            with self.subTest(alg=alg):
                self.assertEqual(pg_verify(response['token'], [alg]), claims)
                self.assertPgError('28000', 'invalid token signature',
                                   pg_verify, tamper(response['token']))


class NonAscii(Case):
    """Non-ASCII kids and claims, both ways, checked on the wire too."""

    def test_jose_to_extension(self):
        """jose signs with a non-ASCII kid, whose JWK jwt_key_import takes as jsonb."""
        key = jose({'op': 'generate', 'alg': 'ES384', 'kid': NON_ASCII_KID})
        kid = sql('SELECT jwt_key_import(%s::jsonb, %s::text)', Json(key['public']), 'ES384')
        self.assertEqual(kid, NON_ASCII_KID)

        claims = jose_claims()
        token = jose({'op': 'sign', 'jwk': key['private'], 'claims': claims})['token']
        self.assertEqual(token_part(token, 0)['kid'], NON_ASCII_KID)
        self.assertEqual(token_part(token, 1), claims)
        self.assertEqual(pg_verify(token), claims)
        verified = sql('SELECT jwt_verify(%s::text) ->> %s', token, 'city')
        self.assertEqual(verified, '東京')

    def test_extension_to_jose(self):
        """jwt_pg signs with a non-ASCII kid, and jose finds the key in jwt_jwks()."""
        kid = 'ключ-' + NON_ASCII_KID
        self.assertEqual(sql("SELECT jwt_key_generate('EdDSA', %s)", kid), kid)
        # Other tests sign without a kid and expect their own key to be the
        # newest active EdDSA key.
        self.addCleanup(execute, "SELECT jwt_key_set_state(%s, 'verify_only')", kid)

        before = int(time.time())
        token = pg_sign(CLAIMS, 'EdDSA', kid)
        after = int(time.time())
        jwks = sql('SELECT jwt_jwks()')
        self.assertIn(kid, [jwk['kid'] for jwk in jwks['keys']])

        response = jose({'op': 'verify', 'token': token, 'jwks': jwks})
        self.assertNotIn('error', response)
        header = {'alg': 'EdDSA', 'typ': 'JWT', 'kid': kid}
        self.assertEqual(response['header'], header)
        self.assertPgClaims(token, header, response['payload'], before, after)
        self.assertEqual(response['payload']['name'], 'Zoë')
        self.assertEqual(response['payload']['emoji'], '😀')


if __name__ == '__main__':
    _runner.main(__name__)
