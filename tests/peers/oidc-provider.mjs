// A real OpenID provider for tests/nginx-t (oidc-provider, certified by the
// OpenID Foundation), on loopback over plain HTTP, with development
// interactions: its login form accepts any login name and no password.
//
//   node tests/peers/oidc-provider.mjs PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI
//
// PKCE S256 is required of every client. Each start signs with a fresh RSA
// key (a restart is a key rotation). Accounts: the login name is the
// subject; e-mail NAME@example.com, verified unless NAME starts with
// "unverified". Consent is implied, so the form is the only stop.
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const [port, clientId, clientSecret, redirectUri] = process.argv.slice(2);
if (!redirectUri) {
  console.error('usage: oidc-provider.mjs PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI');
  process.exit(2);
}

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'RS256' };

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  pkce: { required: () => true, methods: ['S256'] },
  features: { devInteractions: { enabled: true } },
  jwks: { keys: [signingKey] },
  cookies: { keys: ['spa-auth test provider cookie key'] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username'] },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: `${id}@example.com`,
          email_verified: !id.startsWith('unverified'),
          name: `Test ${id}`,
          preferred_username: id,
        };
      },
    };
  },
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
});
provider.on('server_error', (ctx, err) => console.error('server_error', err));
provider.listen(Number(port), '127.0.0.1', () => console.log(`oidc-provider listening on ${port}`));
