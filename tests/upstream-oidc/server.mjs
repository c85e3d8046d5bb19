// The company IdP of the federation tests: panva's oidc-provider (a certified
// OpenID Provider, from npm) on loopback, with a small login page of its own
// (the library leaves the login UI to its host). Gatehouse signs people in here.
//
// - client `gatehouse` (client_secret_basic, PKCE) with the redirect URI from
//   GATEHOUSE_CALLBACK; client `corp-ai-app` for ID tokens an AI app would hold;
// - people: alice, carol (both seeded in Gatehouse's demo world), newbie and
//   nonce-victim (not there yet), nameless (no preferred_username); password
//   `pw-<login>`; the code `123456` in the login form is a second factor
//   (acr urn:corp:mfa, amr pwd+otp), without it acr urn:corp:pwd, amr pwd;
// - RS256 ID tokens carrying the profile, email and groups claims;
// - POST /__test/misbehave?nonce=wrong makes the token endpoint return ID tokens
//   with another nonce (re-signed with the provider's own key): a provider that
//   misbehaves, which the tests need and no honest provider does.
//
// Prints one JSON line {"issuer": ...} once it listens. Env: CLIENT_SECRET,
// GATEHOUSE_CALLBACK.
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import Provider from 'oidc-provider';
import { SignJWT, decodeJwt, importJWK } from 'jose';

const CALLBACK = process.env.GATEHOUSE_CALLBACK;
const SECRET = process.env.CLIENT_SECRET;
if (!CALLBACK || !SECRET) {
  console.error('GATEHOUSE_CALLBACK and CLIENT_SECRET are required');
  process.exit(2);
}

const PEOPLE = {
  alice: { name: 'Alice Anders', groups: ['employees', 'engineering'] },
  carol: { name: 'Carol Chen', groups: ['employees', 'iam-approvers'] },
  newbie: { name: 'Nora Newbie', groups: ['employees', 'engineering', 'iam-approvers', 'not-in-gatehouse'] },
  'nonce-victim': { name: 'Nina Victim', groups: ['employees'] },
  nameless: { name: 'No Username', groups: [] },
};

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'corp-rs256-1', alg: 'RS256', use: 'sig' };

const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(0, '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'gatehouse',
      client_secret: SECRET,
      redirect_uris: [CALLBACK],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    {
      client_id: 'corp-ai-app',
      client_secret: `${SECRET}-app`,
      redirect_uris: ['http://127.0.0.1/app-callback'],
      grant_types: ['authorization_code'],
      response_types: ['code'],
    },
  ],
  jwks: { keys: [jwk] },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  acrValues: ['urn:corp:pwd', 'urn:corp:mfa'],
  claims: {
    openid: ['sub', 'acr', 'amr', 'auth_time'],
    profile: ['name', 'preferred_username', 'groups'],
    email: ['email', 'email_verified'],
  },
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    const p = PEOPLE[id];
    if (!p) return undefined;
    return {
      accountId: id,
      async claims() {
        const c = { sub: `corp-${id}`, name: p.name, email: `${id}@corp.example`, email_verified: true, groups: p.groups };
        if (id !== 'nameless') c.preferred_username = id;
        return c;
      },
    };
  },
  // Every client of this test IdP is first-party: no consent screen.
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile email');
    await grant.save();
    return grant;
  },
  renderError(ctx, out) {
    ctx.type = 'json';
    ctx.body = out;
  },
});
provider.proxy = false;

let wrongNonce = false;
const signingKey = await importJWK(jwk, 'RS256');
provider.use(async (ctx, next) => {
  await next();
  if (wrongNonce && ctx.path === '/token' && ctx.body && ctx.body.id_token) {
    const claims = decodeJwt(ctx.body.id_token);
    claims.nonce = 'not-the-nonce-gatehouse-sent';
    ctx.body.id_token = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: jwk.kid })
      .sign(signingKey);
  }
});

const page = (body) => `<!doctype html><html><body>${body}</body></html>`;
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 10_000) throw new Error('too large');
  }
  return Object.fromEntries(new URLSearchParams(body));
}

const callback = provider.callback();
server.on('request', async (req, res) => {
  try {
    const url = new URL(req.url, issuer);
    if (req.method === 'POST' && url.pathname === '/__test/misbehave') {
      wrongNonce = url.searchParams.get('nonce') === 'wrong';
      res.writeHead(204).end();
      return;
    }
    const m = url.pathname.match(/^\/interaction\/([^/]+)(\/login)?$/);
    if (m && req.method === 'GET' && !m[2]) {
      const details = await provider.interactionDetails(req, res);
      const acr = details.params.acr_values || '';
      res.writeHead(200, { 'content-type': 'text/html' }).end(page(
        `<h1>Corp sign-in</h1><p id="asked">acr_values=${esc(acr)} prompt=${esc(details.prompt.name)}</p>`
        + `<form method="post" action="/interaction/${esc(m[1])}/login">`
        + '<input name="login"><input name="password" type="password"><input name="otp">'
        + '<button>Sign in</button></form>',
      ));
      return;
    }
    if (m && req.method === 'POST' && m[2]) {
      const form = await readForm(req);
      if (!PEOPLE[form.login] || form.password !== `pw-${form.login}`) {
        res.writeHead(401, { 'content-type': 'text/html' }).end(page('<p>wrong username or password</p>'));
        return;
      }
      const mfa = form.otp === '123456';
      await provider.interactionFinished(req, res, {
        login: {
          accountId: form.login,
          acr: mfa ? 'urn:corp:mfa' : 'urn:corp:pwd',
          amr: mfa ? ['pwd', 'otp'] : ['pwd'],
        },
      }, { mergeWithLastSubmission: false });
      return;
    }
    callback(req, res);
  } catch (e) {
    res.writeHead(500, { 'content-type': 'text/plain' }).end(String(e));
  }
});

const stop = () => { server.close(() => process.exit(0)); server.closeAllConnections(); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
console.log(JSON.stringify({ issuer }));
