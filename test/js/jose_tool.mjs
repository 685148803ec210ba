// Runs jose operations for test/test_interop_jose.py.
//
// Reads one JSON request on stdin and writes one JSON response on stdout:
//
//   {"op": "generate", "alg": "ES256", "kid": "k1"}
//       -> {"private": JWK, "public": JWK}, or {"secret": JWK} for HS256/384/512
//   {"op": "sign", "jwk": private JWK, "claims": {...}, "header": {...}}
//       -> {"token": "..."}
//   {"op": "verify", "token": "...", "jwk": JWK | "jwks": JWK Set, "algorithms": [...]}
//       -> {"payload": {...}, "header": {...}}
//   {"op": "thumbprint", "jwk": JWK}
//       -> {"thumbprint": "..."}  (RFC 7638, SHA-256)
//
// The request may also be a JSON array of requests.  They run in order in
// this one process, so that a test starts Node.js once for many
// operations, and the response is the array of their responses.
//
// Generated JWKs carry "alg", and "kid" when the request gives one.  A JWK
// without "alg" needs an "alg" member in the sign or verify request.  When
// jose rejects a token or key, the response is {"error": {"code",
// "message"}} with jose's error code, such as
// ERR_JWS_SIGNATURE_VERIFICATION_FAILED, and the exit status is 0.  A
// malformed request exits with status 1 and a message on stderr.

import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  errors,
  exportJWK,
  generateKeyPair,
  generateSecret,
  importJWK,
  jwtVerify,
  SignJWT,
} from 'jose';

const HMAC_ALGORITHMS = new Set(['HS256', 'HS384', 'HS512']);

async function readRequest() {
  const chunks = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

function labelJwk(jwk, alg, kid) {
  const labeled = { ...jwk, alg };
  if (kid !== undefined) {
    labeled.kid = kid;
  }
  return labeled;
}

async function generate({ alg, kid }) {
  if (HMAC_ALGORITHMS.has(alg)) {
    const secret = await generateSecret(alg, { extractable: true });
    return { secret: labelJwk(await exportJWK(secret), alg, kid) };
  }
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return {
    private: labelJwk(await exportJWK(privateKey), alg, kid),
    public: labelJwk(await exportJWK(publicKey), alg, kid),
  };
}

function algorithmOf(request) {
  const alg = request.alg ?? request.jwk?.alg;
  if (typeof alg !== 'string') {
    throw new TypeError('missing "alg": set it in the request or in the JWK');
  }
  return alg;
}

async function sign(request) {
  const alg = algorithmOf(request);
  const key = await importJWK(request.jwk, alg);
  const header = { alg, typ: 'JWT', ...request.header };
  if (request.jwk.kid !== undefined && header.kid === undefined) {
    header.kid = request.jwk.kid;
  }
  const token = await new SignJWT(request.claims).setProtectedHeader(header).sign(key);
  return { token };
}

async function verify(request) {
  let key;
  if (request.jwks !== undefined) {
    key = createLocalJWKSet(request.jwks);
  } else {
    key = await importJWK(request.jwk, algorithmOf(request));
  }
  const options = {};
  if (request.algorithms !== undefined) {
    options.algorithms = request.algorithms;
  }
  const { payload, protectedHeader } = await jwtVerify(request.token, key, options);
  return { payload, header: protectedHeader };
}

async function thumbprint({ jwk }) {
  return { thumbprint: await calculateJwkThumbprint(jwk, 'sha256') };
}

const OPERATIONS = { generate, sign, verify, thumbprint };

// Runs one request and returns its response, or undefined after writing
// the reason for a malformed request to stderr.
async function run(request) {
  const operation = OPERATIONS[request?.op];
  if (operation === undefined) {
    const names = Object.keys(OPERATIONS).join(', ');
    const op = JSON.stringify(request?.op);
    process.stderr.write(`jose_tool: invalid "op" ${op}; expected one of ${names}\n`);
    return undefined;
  }

  try {
    return await operation(request);
  } catch (e) {
    if (!(e instanceof errors.JOSEError)) {
      process.stderr.write(`jose_tool: ${request.op} failed: ${e.stack ?? e}\n`);
      return undefined;
    }
    return { error: { code: e.code, message: e.message } };
  }
}

async function main() {
  let request;
  try {
    request = await readRequest();
  } catch (e) {
    process.stderr.write(`jose_tool: request on stdin is not valid JSON: ${e.message}\n`);
    return 1;
  }

  const batch = Array.isArray(request);
  const responses = [];
  for (const [index, item] of (batch ? request : [request]).entries()) {
    const response = await run(item);
    if (response === undefined) {
      if (batch) {
        process.stderr.write(`jose_tool: request ${index} of the array failed\n`);
      }
      return 1;
    }
    responses.push(response);
  }
  process.stdout.write(JSON.stringify(batch ? responses : responses[0]) + '\n');
  return 0;
}

process.exitCode = await main();
