// A real OpenID Connect provider for sign-in tests: npm `oidc-provider` 9 (end2end/package.json),
// configured from a JSON file and extended with test controls.
//
//   node provider.mjs <config.json>     serve (prints `ready` once listening)
//   node provider.mjs generate-key      print a fresh RSA 2048 private key (PKCS#1 PEM)
//
// Packages are resolved from $PORTOLAN_NODE_MODULES (absolute path of a node_modules directory),
// else from end2end/node_modules of this repository: an ESM `import` ignores NODE_PATH.
//
// Configuration (all keys snake_case; see crates/testkit/src/oidc.rs, which writes it):
//   { "port": 4567, "issuer": "http://127.0.0.1:4567",
//     "clients": [{ "client_id", "client_secret" (absent: public client), "redirect_uris": [],
//                   "post_logout_redirect_uris": [], "require_pkce": true,
//                   "token_endpoint_auth_method": "client_secret_basic" }],
//     "users": [{ "login", "password", "claims": { "sub", "name", "preferred_username", "email",
//                 "email_verified", "groups" } }],
//     "scope_claims_in_id_token": false, "access_token_ttl": 3600, "id_token_ttl": 3600,
//     "signing_key": { "pem": "-----BEGIN RSA PRIVATE KEY-----…", "kid": "…" } }
//
// Interactions: GET /interaction/:uid shows a login form (inputs `login` and `password`, buttons
// "Sign in" and "Cancel"); a good password finishes the login, consent is granted automatically.
// Sign-out (RP-initiated logout, /session/end) submits itself when called with an id_token_hint,
// otherwise it asks, with a "Sign out" button.
//
// Test controls:
//   POST /__test/tamper {"mode": "nonce"|"issuer"|"signature"|"expired"|"audience"|"at-hash"|
//                                "correct-at-hash"|"unknown-key"|null}
//        alters the id_token of the NEXT successful token response (re-signed with the signing
//        key, except "signature", which breaks the signature, and "unknown-key", which signs it
//        with a fresh key no JWKS lists), so that exactly one check fails. "at-hash" adds an
//        at_hash that is not the access token's; "correct-at-hash" adds the access token's (as
//        Keycloak sends one), which must pass.
//   GET  /__test/tamper     the pending mode.
//   POST /__test/rotate {"keep_old": false}
//        key rotation: a new signing key (RSA 2048, a kid of its own) signs every ID token from
//        now on, and the JWKS publishes it — alone, or after the keys published so far with
//        "keep_old". Answers {"kid": "…"}.
//   POST /__test/delay-token {"ms": 1500}
//        holds the NEXT token request that long before answering it (sign-ins overlapping).
//   GET  /__test/reads      how often the discovery document and the JWKS were read:
//                           {"discovery": n, "jwks": n}.
//   GET  /__test/sessions   the provider's signed-in sessions: [{uid, account_id, login_ts, clients}].
//
// Stops on SIGTERM/SIGINT, and when its standard input (a pipe) closes.

import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { fstatSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

if (process.argv[2] === 'generate-key') {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  process.stdout.write(privateKey.export({ type: 'pkcs1', format: 'pem' }));
  process.exit(0);
}

const here = dirname(fileURLToPath(import.meta.url));
const nodeModules = process.env.PORTOLAN_NODE_MODULES || resolve(here, '../../../end2end/node_modules');

async function load(name) {
  let path;
  try {
    path = createRequire(join(nodeModules, 'resolver.cjs')).resolve(name);
  } catch {
    console.error(`cannot find the npm package ${name} in ${nodeModules}: run scripts/tools.sh node`);
    process.exit(3);
  }
  return import(pathToFileURL(path).href);
}

const { default: Provider } = await load('oidc-provider');
const jose = await load('jose');

const configPath = process.argv[2];
if (!configPath) {
  console.error('usage: node provider.mjs <config.json> | generate-key');
  process.exit(2);
}
const config = JSON.parse(readFileSync(configPath, 'utf8'));
const port = config.port;
const issuer = config.issuer || `http://127.0.0.1:${port}`;

const privateKey = createPrivateKey(config.signing_key.pem);
const privateJwk = { ...privateKey.export({ format: 'jwk' }), kid: config.signing_key.kid, alg: 'RS256', use: 'sig' };

// The key ID tokens are signed with: the configured one until a rotation (/__test/rotate).
const publicJwk = (key, kid) => ({ ...createPublicKey(key).export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' });
let signing = { key: privateKey, kid: config.signing_key.kid };
// The JWKS served once keys were rotated (null: the provider's own, with the configured key).
let published = null;
const reads = { discovery: 0, jwks: 0 };
// Milliseconds the next token request is held (0: none).
let delayNextToken = 0;

function freshKey(prefix) {
  const { privateKey: key } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { key, kid: `${prefix}-${randomBytes(6).toString('hex')}` };
}

const usersByLogin = new Map(config.users.map((u) => [u.login, u]));
const usersBySub = new Map(config.users.map((u) => [u.claims.sub, u]));
const pkceByClient = new Map(config.clients.map((c) => [c.client_id, c.require_pkce !== false]));

const clients = config.clients.map((c) => {
  const client = {
    client_id: c.client_id,
    redirect_uris: c.redirect_uris,
    post_logout_redirect_uris: c.post_logout_redirect_uris || [],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  };
  if (c.client_secret) {
    client.client_secret = c.client_secret;
    client.token_endpoint_auth_method = c.token_endpoint_auth_method || 'client_secret_basic';
  } else {
    client.token_endpoint_auth_method = 'none';
  }
  return client;
});

const html = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

function page(title, body, script = '') {
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>${html(title)}</title><link rel="icon" href="data:,">
<style>body{font-family:sans-serif;max-width:22rem;margin:3rem auto}label,input,button{display:block;width:100%;margin:.3rem 0}.error{color:#b00}</style>
</head>
<body>
<h1>${html(title)}</h1>
${body}
${script}
</body>
</html>`;
}

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [privateJwk] },
  async findAccount(ctx, sub) {
    const user = usersBySub.get(sub);
    if (!user) return undefined;
    return {
      accountId: sub,
      async claims() {
        return { ...user.claims, sub };
      },
    };
  },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
  conformIdTokenClaims: !config.scope_claims_in_id_token,
  pkce: { required: (ctx, client) => pkceByClient.get(client.clientId) ?? true },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  ttl: {
    AccessToken: config.access_token_ttl ?? 3600,
    IdToken: config.id_token_ttl ?? 3600,
    AuthorizationCode: 60,
    Interaction: 3600,
    Session: 24 * 3600,
    Grant: 24 * 3600,
    RefreshToken: 24 * 3600,
  },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      async logoutSource(ctx, form) {
        const confirm = form.replace('</form>', '<input type="hidden" name="logout" value="yes"/><button type="submit">Sign out</button></form>');
        const auto = ctx.oidc.params.id_token_hint ? "<script>document.getElementById('op.logoutForm').submit()</script>" : '';
        ctx.body = page('Sign out', `<p>Sign out of ${html(ctx.host)}?</p>${confirm}`, auto);
      },
      async postLogoutSuccessSource(ctx) {
        ctx.body = page('Signed out', '<p>You are signed out.</p>');
      },
    },
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Error', Object.entries(out).map(([k, v]) => `<p><strong>${html(k)}</strong>: <span class="${html(k)}">${html(v)}</span></p>`).join(''));
  },
});

// Sessions, as the provider saves and destroys them (keyed by their stable uid).
const sessions = new Map();
provider.on('session.saved', (session) => {
  if (session.accountId) {
    sessions.set(session.uid, {
      uid: session.uid,
      account_id: session.accountId,
      login_ts: session.loginTs,
      clients: Object.keys(session.authorizations || {}),
    });
  } else {
    sessions.delete(session.uid);
  }
});
provider.on('session.destroyed', (session) => sessions.delete(session.uid));
provider.on('server_error', (ctx, err) => console.error('server_error', err));

const TAMPER_MODES = new Set(['nonce', 'issuer', 'signature', 'expired', 'audience', 'at-hash', 'correct-at-hash', 'unknown-key']);
let tamper = null;

// at_hash for RS256: the left half of the SHA-256 of the access token, base64url.
const atHash = (token) => createHash('sha256').update(token, 'ascii').digest().subarray(0, 16).toString('base64url');

// The token endpoint's id_token, altered by `mode` (null: only re-signed with the current key).
async function tampered(idToken, mode, accessToken) {
  if (mode === 'signature') {
    if (signing.key !== privateKey) idToken = await tampered(idToken, null, accessToken);
    const [h, p, s] = idToken.split('.');
    const sig = Buffer.from(s, 'base64url');
    for (let i = 0; i < 8 && i < sig.length; i++) sig[i] ^= 0xff;
    return `${h}.${p}.${sig.toString('base64url')}`;
  }
  const header = jose.decodeProtectedHeader(idToken);
  const claims = jose.decodeJwt(idToken);
  const now = Math.floor(Date.now() / 1000);
  let key = signing;
  switch (mode) {
    case null:
      break;
    case 'nonce':
      claims.nonce = `tampered-${randomBytes(8).toString('hex')}`;
      break;
    case 'issuer':
      claims.iss = 'https://issuer.invalid';
      break;
    case 'expired':
      claims.iat = now - 7200;
      claims.exp = now - 3600;
      if (claims.auth_time) claims.auth_time = Math.min(claims.auth_time, claims.iat);
      break;
    case 'audience':
      claims.aud = 'another-client';
      break;
    case 'at-hash':
      claims.at_hash = atHash(`${accessToken}-not-this-one`);
      break;
    case 'correct-at-hash':
      claims.at_hash = atHash(accessToken);
      break;
    case 'unknown-key':
      key = freshKey('unknown');
      break;
    default:
      throw new Error(`unknown tamper mode ${mode}`);
  }
  return new jose.SignJWT(claims).setProtectedHeader({ ...header, kid: key.kid }).sign(key.key);
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function loginForm(uid, { login = '', error, clientId }) {
  const message = error ? `<p class="error" role="alert">${html(error)}</p>` : '';
  return page(
    'Sign in',
    `<p>to continue to ${html(clientId)}</p>${message}
<form method="post" action="/interaction/${html(uid)}">
<label for="login">Login</label><input id="login" name="login" autocomplete="username" value="${html(login)}" autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password">
<button type="submit">Sign in</button>
<button type="submit" name="cancel" value="yes">Cancel</button>
</form>`,
  );
}

// Test controls and interactions, ahead of the provider's own routes.
provider.use(async (ctx, next) => {
  if (ctx.path === '/__test/tamper') {
    if (ctx.method === 'POST') {
      const body = JSON.parse((await readBody(ctx.req)) || '{}');
      const mode = body.mode ?? null;
      if (mode !== null && !TAMPER_MODES.has(mode)) {
        ctx.status = 400;
        ctx.body = { error: `unknown mode ${mode}; one of ${[...TAMPER_MODES].join(', ')} or null` };
        return;
      }
      tamper = mode;
    }
    ctx.body = { mode: tamper };
    return;
  }
  if (ctx.path === '/__test/sessions' && ctx.method === 'GET') {
    ctx.body = { sessions: [...sessions.values()] };
    return;
  }
  if (ctx.path === '/__test/rotate' && ctx.method === 'POST') {
    const body = JSON.parse((await readBody(ctx.req)) || '{}');
    const before = published ?? [publicJwk(privateKey, config.signing_key.kid)];
    signing = freshKey('rotated');
    const added = publicJwk(signing.key, signing.kid);
    published = body.keep_old ? [...before, added] : [added];
    console.log(`signing key rotated to ${signing.kid}; the JWKS lists ${published.map((k) => k.kid).join(', ')}`);
    ctx.body = { kid: signing.kid };
    return;
  }
  if (ctx.path === '/__test/delay-token' && ctx.method === 'POST') {
    const body = JSON.parse((await readBody(ctx.req)) || '{}');
    delayNextToken = Number(body.ms) || 0;
    ctx.body = { ms: delayNextToken };
    return;
  }
  if (ctx.path === '/token' && ctx.method === 'POST' && delayNextToken > 0) {
    const ms = delayNextToken;
    delayNextToken = 0;
    await new Promise((resolve) => setTimeout(resolve, ms));
  }
  if (ctx.path === '/__test/reads' && ctx.method === 'GET') {
    ctx.body = reads;
    return;
  }
  if (ctx.path === '/.well-known/openid-configuration' && ctx.method === 'GET') {
    reads.discovery += 1;
  }
  if (ctx.path === '/jwks' && ctx.method === 'GET') {
    reads.jwks += 1;
    if (published) {
      ctx.type = 'application/jwk-set+json; charset=utf-8';
      ctx.body = { keys: published };
      return;
    }
  }

  const interaction = ctx.path.match(/^\/interaction\/([^/]+)$/);
  if (!interaction) {
    await next();
    const rotated = signing.key !== privateKey;
    if ((tamper || rotated) && ctx.method === 'POST' && ctx.oidc?.route === 'token' && ctx.status === 200 && ctx.body?.id_token) {
      const mode = tamper;
      tamper = null;
      ctx.body = { ...ctx.body, id_token: await tampered(ctx.body.id_token, mode, ctx.body.access_token) };
      if (mode) console.log(`tampered id_token: ${mode}`);
    }
    return;
  }

  const uid = interaction[1];
  ctx.set('cache-control', 'no-store');
  let details;
  try {
    details = await provider.interactionDetails(ctx.req, ctx.res);
  } catch (err) {
    ctx.status = 400;
    ctx.type = 'html';
    ctx.body = page('Error', `<p class="error">${html(err.message)}</p>`);
    return;
  }
  const { prompt, params, session, grantId } = details;

  if (prompt.name === 'consent') {
    // Consent is implied: grant what is missing and carry on.
    const grant = grantId
      ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
    if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    if (prompt.details.missingResourceScopes) {
      for (const [indicator, scope] of Object.entries(prompt.details.missingResourceScopes)) {
        grant.addResourceScope(indicator, scope.join(' '));
      }
    }
    await provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
    ctx.respond = false;
    return;
  }
  if (prompt.name !== 'login') {
    ctx.status = 501;
    ctx.body = `prompt ${prompt.name} is not supported`;
    return;
  }

  if (ctx.method === 'GET') {
    ctx.type = 'html';
    ctx.body = loginForm(uid, { login: params.login_hint, clientId: params.client_id });
    return;
  }
  if (ctx.method !== 'POST') {
    ctx.status = 405;
    return;
  }
  const form = new URLSearchParams(await readBody(ctx.req));
  if (form.get('cancel')) {
    await provider.interactionFinished(
      ctx.req,
      ctx.res,
      { error: 'access_denied', error_description: 'End-User cancelled the sign-in' },
      { mergeWithLastSubmission: false },
    );
    ctx.respond = false;
    return;
  }
  const login = form.get('login') || '';
  const user = usersByLogin.get(login);
  if (!user || user.password !== (form.get('password') || '')) {
    ctx.type = 'html';
    ctx.body = loginForm(uid, { login, error: 'Invalid login or password.', clientId: params.client_id });
    return;
  }
  await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: user.claims.sub } }, { mergeWithLastSubmission: false });
  ctx.respond = false;
});

const server = provider.listen(port, '127.0.0.1', () => {
  console.log('ready');
});

function stop() {
  server.close();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
try {
  const stdin = fstatSync(0);
  if (stdin.isFIFO() || stdin.isSocket()) {
    process.stdin.on('end', stop);
    process.stdin.on('close', stop);
    process.stdin.resume();
  }
} catch {
  // no standard input at all
}
