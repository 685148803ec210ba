#!/usr/bin/python3
"""Write the seed corpora of the fuzzing harnesses.

Seeds are the tokens in the regression tests (sql/*.sql) and in the
shared bad-input cases, their decoded headers and claims for the JSON
harness, and their segments for the base64url harness.  Run it from the
repository root after adding tests; the seeds are committed.
"""

import base64
import hashlib
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASES = os.path.join(ROOT, '..', 'shared', 'cases', 'hs256-cases.json')
TOKEN = re.compile(r"[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_=+/-]*")
MAX_SEED_BYTES = 4096


def tokens():
    found = set()
    for name in sorted(os.listdir(os.path.join(ROOT, 'sql'))):
        with open(os.path.join(ROOT, 'sql', name), encoding='utf-8') as f:
            for match in TOKEN.findall(f.read()):
                if match.startswith('eyJ'):
                    found.add(match)
    if os.path.exists(CASES):
        with open(CASES, encoding='utf-8') as f:
            for case in json.load(f)['cases']:
                found.add(case['token'])
    return sorted(t for t in found if len(t) <= MAX_SEED_BYTES)


def decode_segment(segment):
    try:
        return base64.urlsafe_b64decode(segment + '=' * (-len(segment) % 4))
    except ValueError:
        return None


def write(harness, data):
    folder = os.path.join(ROOT, 'fuzz', 'corpus', harness)
    os.makedirs(folder, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(folder, name), 'wb') as f:
        f.write(data)


def jwk_seeds():
    """Yield the JWKs of the shared vectors, the JWK Sets in sql/jwks.sql,
    and the PEM keys and JWKs that the key store tests import."""
    folder = os.path.join(ROOT, '..', 'shared', 'peer', 'jose-cookbook', 'jwk')
    if os.path.isdir(folder):
        for name in sorted(os.listdir(folder)):
            with open(os.path.join(folder, name), 'rb') as f:
                yield f.read()
    with open(os.path.join(ROOT, 'sql', 'jwks.sql'), encoding='utf-8') as f:
        for match in re.findall(r"'(\{\"keys\":.*?)'::jsonb", f.read()):
            yield match.encode()
    with open(os.path.join(ROOT, 'sql', 'keystore.sql'), encoding='utf-8') as f:
        for match in re.findall(r"\$\$(-----BEGIN .*?)\$\$", f.read(), re.S):
            yield match.encode()
    with open(os.path.join(ROOT, 'sql', 'keystore_vectors.sql'), encoding='utf-8') as f:
        for match in re.findall(r"jwt_key_import\('(\{.*?\})'", f.read()):
            yield match.encode()


def main():
    for seed in jwk_seeds():
        write('fuzz_jwk', seed)
    for token in tokens():
        write('fuzz_token', token.encode())
        for segment in token.split('.'):
            write('fuzz_base64url', segment.encode())
            decoded = decode_segment(segment)
            if decoded is not None and decoded[:1] in (b'{', b'['):
                write('fuzz_json', decoded)
    return 0


if __name__ == '__main__':
    sys.exit(main())
