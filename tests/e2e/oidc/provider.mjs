// A real OpenID provider for the tests (npm oidc-provider), on loopback, with test users and groups.
// Usage: node provider.mjs CONFIG.json
//   CONFIG: {"issuer", "port", "clients": [...], "users_file", "access_token_ttl"}
//   users_file: {"alice": {"password", "name", "email", "groups": [...], "disabled": false}, ...}
// The users file is read on every lookup, so a test disables an account by rewriting it: the
// provider then refuses that account's logins, userinfo calls and refresh tokens.
import fs from 'node:fs';
import Provider from 'oidc-provider';

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const users = () => JSON.parse(fs.readFileSync(cfg.users_file, 'utf8'));
const active = (id) => { const u = users()[id]; return u && !u.disabled ? u : undefined; };
const SCOPES = ['openid', 'profile', 'email', 'groups', 'offline_access'];

const provider = new Provider(cfg.issuer, {
  clients: cfg.clients,
  async findAccount(ctx, id) {
    const u = active(id);
    if (!u) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, preferred_username: id, name: u.name || id, email: u.email || `${id}@example.org`,
                 groups: u.groups || [] };
      },
    };
  },
  claims: { openid: ['sub'], profile: ['name', 'preferred_username'], email: ['email'], groups: ['groups'] },
  scopes: SCOPES,
  features: { devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: true } },
  interactions: { url(ctx, interaction) { return `/interaction/${interaction.uid}`; } },
  // First-party test client: no consent screen, every requested scope granted.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope(SCOPES.join(' '));
    await grant.save();
    return grant;
  },
  async issueRefreshToken(ctx, client) { return client.grantTypeAllowed('refresh_token'); },
  ttl: { AccessToken: cfg.access_token_ttl || 60, IdToken: 3600, RefreshToken: 86400, Session: 3600,
         Interaction: 600, Grant: 86400 },
  cookies: { keys: ['cirn-test-only-cookie-key'] },
});

const page = (uid, error) => `<!doctype html><html><head><title>CIRN test identity provider</title></head>
<body><h1>Sign in to the CIRN test identity provider</h1>
${error ? `<p id="idp-error" style="color:#b00">${error}</p>` : ''}
<form method="post" action="/interaction/${uid}/login">
<label>User name <input id="idp-username" name="username" autofocus></label>
<label>Password <input id="idp-password" name="password" type="password"></label>
<button id="idp-login" type="submit">Sign in</button></form></body></html>`;

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return Object.fromEntries(new URLSearchParams(body));
}

provider.use(async (ctx, next) => {
  const m = ctx.path.match(/^\/interaction\/([^/]+)(\/login)?$/);
  if (!m) return next();
  const uid = m[1];
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (ctx.method === 'GET' && !m[2]) {
    ctx.type = 'html';
    ctx.body = page(uid);
    return undefined;
  }
  if (ctx.method === 'POST' && m[2] && details.prompt.name === 'login') {
    const form = await readForm(ctx.req);
    const u = users()[form.username];
    if (!u || u.password !== form.password) {
      ctx.type = 'html'; ctx.status = 401; ctx.body = page(uid, 'Invalid user name or password.');
      return undefined;
    }
    if (u.disabled) {
      ctx.type = 'html'; ctx.status = 403; ctx.body = page(uid, 'This account is disabled.');
      return undefined;
    }
    const to = await provider.interactionResult(ctx.req, ctx.res, { login: { accountId: form.username } },
                                                { mergeWithLastSubmission: false });
    ctx.redirect(to);
    return undefined;
  }
  ctx.status = 400;
  ctx.body = `unexpected interaction ${details.prompt.name}`;
  return undefined;
});

provider.listen(cfg.port, '127.0.0.1', () => console.log(`oidc-provider listening on ${cfg.issuer}`));
