// An auth_request verifier written the way teams usually write one: node's
// http server and `jose` (npm, pinned by tests/peers/package-lock.json) with a
// local JWKS. nginx asks it about every request (`auth_request`); it answers
// 204 with X-User-Id / X-User-Email / X-User-Role when the bearer token (or
// the __Host-spa_at cookie) verifies and its exp/nbf/iss/aud hold, else 401.
// It is the comparison row of `make bench` (bench/all.sh), not part of the
// product.
//
//   node bench/jose-verifier.mjs PORT JWKS_FILE ISSUER AUDIENCE
//
// The JWKS is read again when the file changes (checked at most once a
// second), as a team's verifier that follows key rotation would.
import { createServer } from 'node:http';
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';

// jose lives in tests/peers/node_modules (one lock for every node peer).
const require = createRequire(new URL('../tests/peers/package.json', import.meta.url));
const { createLocalJWKSet, jwtVerify } = await import(require.resolve('jose'));

const [port, jwksFile, issuer, audience] = process.argv.slice(2);
if (!port || !jwksFile || !issuer || !audience) {
  console.error('usage: node bench/jose-verifier.mjs PORT JWKS_FILE ISSUER AUDIENCE');
  process.exit(2);
}

let keys = null;
let keysMtime = 0;
let checkedAt = 0;
function jwks() {
  const now = Date.now();
  if (keys && now - checkedAt < 1000) return keys;
  checkedAt = now;
  const mtime = statSync(jwksFile).mtimeMs;
  if (!keys || mtime !== keysMtime) {
    keys = createLocalJWKSet(JSON.parse(readFileSync(jwksFile, 'utf8')));
    keysMtime = mtime;
  }
  return keys;
}

function tokenOf(req) {
  const auth = req.headers.authorization;
  if (auth && auth.startsWith('Bearer ')) return auth.slice(7).trim();
  const cookie = req.headers.cookie;
  if (cookie) {
    for (const part of cookie.split(';')) {
      const [name, ...rest] = part.trim().split('=');
      if (name === '__Host-spa_at') return rest.join('=');
    }
  }
  return null;
}

function deny(res, description) {
  res.writeHead(401, {
    'Content-Type': 'application/json',
    'WWW-Authenticate': `Bearer realm="spa", error="invalid_token", error_description="${description}"`,
  });
  res.end(JSON.stringify({ success: false, error: { code: 'invalid_token', message: description } }));
}

const server = createServer(async (req, res) => {
  const token = tokenOf(req);
  if (!token) return deny(res, 'no token');
  try {
    const { payload } = await jwtVerify(token, jwks(), {
      issuer,
      audience,
      algorithms: ['EdDSA', 'ES256', 'RS256'],
      clockTolerance: 30,
      requiredClaims: ['sub', 'exp'],
    });
    res.writeHead(204, {
      'X-User-Id': String(payload.sub),
      'X-User-Email': String(payload.email ?? ''),
      'X-User-Role': String(payload.role ?? ''),
    });
    res.end();
  } catch (e) {
    deny(res, e.code || 'invalid token');
  }
});
server.keepAliveTimeout = 65000;
server.listen(Number(port), '127.0.0.1', () => console.log(`jose-verifier listening on 127.0.0.1:${port}`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => { server.closeAllConnections(); process.exit(0); });
