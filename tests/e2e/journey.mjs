// The browser journey through the demo SPA, in Debian's chromium driven by
// playwright-core: a new user from sign-up to erasure. Started by
// tests/e2e/journey.t, which brings up the stack and sets:
//   E2E_BASE          https://localhost:PORT
//   E2E_MAIL          the mail sink's directory (one .eml per message)
//   E2E_ARTIFACTS     where each step's screenshot goes
//   E2E_AUTHD, E2E_AUTHD_CONFIG   spa-authd and its config (users set-role)
// Prints TAP. Elements are found by label and role, as a user (or a screen
// reader) finds them. Any console error or CSP violation on our pages, a
// token in document.cookie, or anything in Web Storage fails the run.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { chromium } from '../peers/node_modules/playwright-core/index.mjs';

const base = process.env.E2E_BASE;
const mailDir = process.env.E2E_MAIL;
const artifacts = process.env.E2E_ARTIFACTS;
const origin = new URL(base).origin;
const rand = Math.random().toString(36).slice(2, 8);
const user = { name: `e2e${rand}`, email: `e2e${rand}@example.com`, password: 'a long e2e password', secret: '' };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// --- TAP -------------------------------------------------------------------
let n = 0;
let failed = false;
const problems = [];  // console errors and CSP violations, by page
function diag(text) { for (const line of String(text).split('\n')) console.log(`# ${line}`); }
function check(ok, what) { if (!ok) throw new Error(what); }

// --- the browser -------------------------------------------------------------
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
});
let shot = null;  // the page the next screenshot shows

// Requests to /api/v1/auth/refresh, from every page of every context.
let refreshes = 0;

async function newContext() {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, acceptDownloads: true });
  ctx.on('request', (r) => { if (r.url() === `${base}/api/v1/auth/refresh`) refreshes++; });
  // A CSP violation is reported to the console as well; this names it.
  await ctx.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) =>
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`));
  });
  ctx.on('page', watch);
  return ctx;
}

// A page's console errors and uncaught exceptions are failures, on our
// origin. "Failed to load resource ... 401/403/..." is the browser noting
// an API answer the SPA expects (signed out, refused), not an error of the
// page; anything else is.
function watch(page) {
  page.on('console', (m) => {
    if (m.type() !== 'error' || !page.url().startsWith(origin)) return;
    if (/^Failed to load resource: the server responded with a status of (401|403|409|423)/.test(m.text())) return;
    problems.push(`${page.url()}: console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => { if (page.url().startsWith(origin)) problems.push(`${page.url()}: ${e.message}`); });
}

// No token where script could read it: document.cookie is empty (our
// cookies are HttpOnly) and Web Storage holds nothing.
async function noTokenInReach(page) {
  if (!page.url().startsWith(origin)) return;
  const seen = await page.evaluate(() => ({
    cookie: document.cookie, local: localStorage.length, session: sessionStorage.length,
  }));
  check(seen.cookie === '', `document.cookie is "${seen.cookie}"`);
  check(seen.local === 0 && seen.session === 0, `Web Storage holds ${seen.local} + ${seen.session} items`);
}

// axe-core (npm) on the page as it is: WCAG 2 A and AA rules. Injected
// through the DevTools protocol, which the page's CSP does not govern.
const axeSource = readFileSync(new URL('../peers/node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');
const audited = new Set();
async function accessible(p, what) {
  if (!(await p.evaluate(() => 'axe' in window))) await p.evaluate(axeSource);
  const result = await p.evaluate(() => window.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] }));
  const found = result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  check(found.length === 0, `${what}: accessibility violations:\n${found.join('\n')}`);
  audited.add(what);
}

async function step(name, fn) {
  n++;
  if (failed) { console.log(`ok ${n} - ${name} # SKIP an earlier step failed`); return; }
  try {
    await fn();
    for (const ctx of browser.contexts()) for (const p of ctx.pages()) await noTokenInReach(p);
    console.log(`ok ${n} - ${name}`);
  } catch (err) {
    failed = true;
    console.log(`not ok ${n} - ${name}`);
    diag(err.stack || err);
    if (shot) diag(`page: ${shot.url()}\n${await shot.locator('body').innerText().catch(() => '')}`);
  }
  if (shot) {
    const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);
    await shot.screenshot({ path: `${artifacts}/${String(n).padStart(2, '0')}-${slug}.png`, fullPage: true }).catch(() => {});
  }
}

// --- peers ---------------------------------------------------------------------
// The newest message to ADDRESS (the sink writes each one with an
// X-Envelope line per recipient) in which RE matches and whose match was
// not taken before: the match's group 1, or all of it.
const taken = new Set();
async function mailed(address, re, what) {
  for (let i = 0; i < 250; i++) {
    const files = readdirSync(mailDir).filter((f) => f.endsWith('.eml')).sort((a, b) => parseInt(b, 10) - parseInt(a, 10));
    for (const f of files) {
      const text = readFileSync(`${mailDir}/${f}`, 'utf8');
      if (!text.toLowerCase().includes(`rcpt to:<${address.toLowerCase()}>`)) continue;
      const m = re.exec(text);
      if (m && !taken.has(`${f}:${m[0]}`)) { taken.add(`${f}:${m[0]}`); return m[1] ?? m[0]; }
    }
    await sleep(40);
  }
  throw new Error(`no ${what} mailed to ${address}`);
}
// A link to PATH (verify-email, reset-password), and a second-factor code.
const mailedLink = (address, path) => mailed(address, new RegExp(`https://\\S+/${path}#token=[A-Za-z0-9_-]+`), `${path} link`);
const mailedCode = (address) => mailed(address, /Your code is (\d{6})\./, 'code');

// A TOTP code from oathtool for a time step after every step used so far:
// spa-authd refuses a step it accepted before (no replay), and accepts the
// current step and one either side.
let lastStep = 0;
async function totp(secret) {
  for (;;) {
    const now = Math.floor(Date.now() / 30000);
    const stepNo = Math.max(now, lastStep + 1);
    if (stepNo <= now + 1) {
      lastStep = stepNo;
      return execFileSync('oathtool', ['--totp', '-b', '-N', `@${stepNo * 30 + 1}`, secret]).toString().trim();
    }
    await sleep(1000);
  }
}

// --- the journey ---------------------------------------------------------------
const ctx = await newContext();
const page = await ctx.newPage();
shot = page;
const button = (p, name) => p.getByRole('button', { name, exact: true });
const alertText = (p) => p.getByRole('alert').filter({ hasText: /\S/ }).first();

async function passwordLogin(p, password, next = '') {
  await p.goto(`${base}/login${next ? `?next=${encodeURIComponent(next)}` : ''}`);
  await p.getByLabel('E-mail', { exact: true }).fill(user.email);
  await p.getByLabel('Password', { exact: true }).fill(password);
  await button(p, 'Log in').click();
}

async function secondFactor(p, landing = '/account') {
  await p.getByLabel('Authentication code', { exact: true }).fill(await totp(user.secret));
  await button(p, 'Verify').click();
  await p.waitForURL(`${base}${landing}`);
  if (landing === '/account') await p.getByRole('heading', { name: 'Your account' }).waitFor();
}

await step('the app is served with its security headers; page routes are the app, /api/ never', async () => {
  const r = await page.goto(`${base}/login`);
  const csp = r.headers()['content-security-policy'] || '';
  for (const d of ["default-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"])
    check(csp.includes(d), `CSP has ${d}: ${csp}`);
  check(!/unsafe-(inline|eval)/.test(csp), `CSP allows nothing unsafe: ${csp}`);
  check(/max-age=\d+/.test(r.headers()['strict-transport-security'] || ''), 'HSTS');
  check(r.headers()['cache-control'] === 'no-cache', `index.html is not cached: ${r.headers()['cache-control']}`);
  await page.getByRole('heading', { name: 'Log in' }).waitFor();
  await accessible(page, 'login page');
  const api = await page.request.get(`${base}/api/v1/no-such-thing`);
  check(api.status() === 404 && (await api.json()).error.code === 'not_found', '/api/... is a JSON 404, not the app');
});

await step('the API reference renders at /api/docs/ under the CSP', async () => {
  await page.goto(`${base}/login`);
  await page.getByRole('link', { name: 'API reference' }).click();
  await page.waitForURL(`${base}/api/docs/`);
  await page.getByRole('heading', { name: /spa-authd HTTP API/ }).waitFor();
  await page.getByText('/api/v1/auth/login', { exact: true }).first().waitFor();
});

await step('sign up', async () => {
  await page.goto(`${base}/signup`);
  await page.getByLabel('E-mail', { exact: true }).fill(user.email);
  await page.getByLabel('Username', { exact: true }).fill(user.name);
  await page.getByLabel('Password', { exact: true }).fill(user.password);
  await accessible(page, 'sign-up page');
  await button(page, 'Create account').click();
  await page.getByRole('status').filter({ hasText: `We sent a link to ${user.email}` }).waitFor();
});

await step('a password login before the address is confirmed is refused, with the reason', async () => {
  await passwordLogin(page, user.password);
  await alertText(page).filter({ hasText: 'confirm your e-mail' }).waitFor();
});

await step('verify the e-mail with the mailed link (the token leaves the address bar)', async () => {
  const link = await mailedLink(user.email, 'verify-email');
  check(link.startsWith(`${base}/verify-email#token=`), `the link is ${link}`);
  await page.goto(link);
  await page.getByLabel('Password', { exact: true }).fill(user.password);
  check(!page.url().includes('token='), `the token is dropped from the URL: ${page.url()}`);
  await button(page, 'Confirm').click();
  await page.getByRole('status').filter({ hasText: 'Your address is confirmed' }).waitFor();
});

await step('log in with the password: HttpOnly, Secure, SameSite=Strict cookies', async () => {
  await passwordLogin(page, user.password);
  await page.waitForURL(`${base}/account`);
  await page.getByRole('heading', { name: 'Your account' }).waitFor();
  const cookies = await ctx.cookies();
  const at = cookies.find((c) => c.name === '__Host-spa_at');
  const rt = cookies.find((c) => c.name === '__Secure-spa_rt');
  check(at && at.httpOnly && at.secure && at.sameSite === 'Strict' && at.path === '/', `access cookie ${JSON.stringify(at)}`);
  check(rt && rt.httpOnly && rt.secure && rt.sameSite === 'Strict' && rt.path === '/api/v1/auth', `refresh cookie ${JSON.stringify(rt)}`);
});

await step('without a second factor, a step-up endpoint says one is needed (no prompt that cannot help)', async () => {
  await page.getByRole('link', { name: 'Services' }).click();
  await button(page, 'Call the sensitive endpoint').click();
  await alertText(page).filter({ hasText: 'second authentication factor' }).waitFor();
  check(await page.getByRole('dialog').count() === 0, 'no re-authentication dialog');
});

await step('enable TOTP: QR code, a code from oathtool, ten backup codes', async () => {
  await page.getByRole('link', { name: 'Security' }).click();
  await button(page, 'Set up an authenticator app').click();
  await page.getByRole('img', { name: 'QR code for your authenticator app' }).waitFor();
  user.secret = (await page.getByTestId('totp-secret').textContent()).trim();
  await accessible(page, '2FA enrolment');
  check(/^[A-Z2-7]{32}$/.test(user.secret), `a base32 secret: ${user.secret}`);
  await page.getByLabel('Code from the app', { exact: true }).fill(await totp(user.secret));
  await button(page, 'Turn on').click();
  const codes = page.getByRole('list', { name: 'Backup codes' }).getByRole('listitem');
  await codes.first().waitFor();
  user.backup = await codes.allTextContents();
  check(user.backup.length === 10 && user.backup.every((c) => /^[a-z0-9]{4}-[a-z0-9]{4}$/.test(c)), `backup codes: ${user.backup}`);
  await button(page, 'I saved my backup codes').click();
  await page.getByText('On (authenticator app); 10 backup codes left.').waitFor();
});

await step('log out: the pages that need a session send to the login', async () => {
  await button(page, 'Log out').click();
  await page.waitForURL(`${base}/login`);
  await page.goto(`${base}/account`);
  await page.waitForURL(`${base}/login?next=%2Faccount`);
});

await step('log in with the password and a TOTP code; ?next= never leaves the site', async () => {
  await passwordLogin(page, user.password, '//evil.example/steal');
  await secondFactor(page, '/');
  await page.getByText(`Signed in as ${user.email}`).waitFor();
  await page.goto(`${base}/account`);
  await page.getByRole('heading', { name: 'Your account' }).waitFor();
});

await step('an administrator (users set-role) sees the admin page after the SPA refreshes by itself', async () => {
  execFileSync(process.env.E2E_AUTHD, ['users', 'set-role', user.email, 'admin', '--config', process.env.E2E_AUTHD_CONFIG]);
  await page.goto(`${base}/admin`);
  await page.getByRole('heading', { name: 'Users' }).waitFor();
  await page.getByRole('cell', { name: user.email, exact: true }).waitFor();
  await accessible(page, 'admin page');
  check(await page.getByLabel(`Role of ${user.email}`, { exact: true }).isDisabled(), 'an admin cannot demote herself here');
});

await step('call the demo service: it answers for the X-User-* headers and never sees a token', async () => {
  await page.getByRole('link', { name: 'Services' }).click();
  await button(page, 'Call the demo service').click();
  const answer = page.getByLabel('Service answer', { exact: true });
  await answer.filter({ hasText: user.email }).waitFor();
  const data = JSON.parse(await answer.textContent());
  check(data.identity_headers['X-User-Email'] === user.email, `X-User-Email: ${JSON.stringify(data.identity_headers)}`);
  check(data.credential_headers.length === 0, `no credential reached the service: ${data.credential_headers}`);
  await button(page, 'Call the sensitive endpoint').click();
  await answer.filter({ hasText: '/api/v1/demo/sensitive/report' }).waitFor();
});

await step('the demo service keeps notes for the X-User-Id it is given', async () => {
  const notes = page.getByRole('list', { name: 'Your notes' });
  await notes.getByText('No notes yet.').waitFor();
  await page.getByLabel('Note', { exact: true }).fill('<b>bold</b> & "quoted"');
  await button(page, 'Add note').click();
  await notes.getByText('<b>bold</b> & "quoted"').waitFor();  // text, never markup
  check(await notes.locator('b').count() === 0, 'the note is not HTML');
  await page.getByLabel('Note', { exact: true }).fill('second note');
  await button(page, 'Add note').click();
  await notes.getByText('second note').waitFor();
  await page.getByRole('button', { name: 'Delete note second note' }).click();
  await notes.getByText('second note').waitFor({ state: 'detached' });
});

const wsLog = page.getByRole('log', { name: 'WebSocket messages' });
await step('WebSocket round trip', async () => {
  await button(page, 'Connect').click();
  await wsLog.getByText(`greeted as ${user.name}`).waitFor();
  await page.getByLabel('Message', { exact: true }).fill('hello');
  await button(page, 'Send').click();
  await wsLog.getByText(`received: ${user.name}: hello`).waitFor();
  await accessible(page, 'services page');
});

await step('the token expires: nginx closes the socket with 4401, the SPA refreshes and reconnects', async () => {
  await wsLog.getByText('closed 4401 token expired').waitFor({ timeout: 90_000 });
  await wsLog.getByText('refreshed the session, reconnecting').waitFor();
  await page.getByTestId('ws-state').filter({ hasText: /^connected$/ }).waitFor();
  check(await wsLog.getByText(`greeted as ${user.name}`).count() === 2, 'greeted again');
  await page.getByLabel('Message', { exact: true }).fill('still here');
  await button(page, 'Send').click();
  await wsLog.getByText(`received: ${user.name}: still here`).waitFor();
});

// Every tab wakes up with an expired token at once (the cookie dropped, as
// the browser drops it at Max-Age): the Web Lock lets one refresh through.
async function tabsWakeUp(count) {
  const tabs = [page];
  for (let i = 1; i < count; i++) {
    const t = await ctx.newPage();
    await t.goto(`${base}/demo`);
    await button(t, 'Call the demo service').waitFor();
    tabs.push(t);
  }
  await ctx.clearCookies({ name: '__Host-spa_at' });
  refreshes = 0;
  await Promise.all(tabs.map((t) => button(t, 'Call the demo service').click()));
  for (const t of tabs) await t.getByLabel('Service answer', { exact: true }).filter({ hasText: user.email }).waitFor();
  check(refreshes === 1, `${count} tabs made ${refreshes} refreshes`);
  for (const t of tabs.slice(1)) await t.close();
}
await step('two tabs wake up with an expired token: one refresh, both keep working', () => tabsWakeUp(2));
await step('ten tabs wake up with an expired token: still one refresh', () => tabsWakeUp(10));

await step('a step-up endpoint past its max_age asks to re-authenticate, with a TOTP code', async () => {
  // journey.t sets spa_auth_max_age 30s there; the login was over a minute ago.
  await page.getByLabel('Service answer', { exact: true }).evaluate((e) => { e.textContent = ''; });
  await button(page, 'Call the sensitive endpoint').click();
  const dialog = page.getByRole('dialog', { name: 'Confirm it is you' });
  await dialog.waitFor();
  await accessible(page, 're-authentication dialog');
  await dialog.getByLabel('Authentication code', { exact: true }).fill(await totp(user.secret));
  await button(dialog, 'Confirm with code').click();
  await page.getByLabel('Service answer', { exact: true }).filter({ hasText: '/api/v1/demo/sensitive/report' }).waitFor();
  check(await page.getByRole('dialog').count() === 0, 'the dialog is gone');
});

// The development OpenID provider's own login form (not our page).
// A provider that remembers the user approves at once, without its form.
async function providerLogin(p, login, next = '') {
  await p.goto(`${base}/login${next ? `?next=${encodeURIComponent(next)}` : ''}`);
  await button(p, 'Log in with dev').click();
  const form = p.locator('input[name=login]');
  await form.or(p.getByRole('heading', { name: 'Two-factor authentication' }))
    .or(p.getByRole('heading', { name: 'Your account' })).first().waitFor();
  if (!(await form.count())) return;
  await form.fill(login);
  await p.locator('input[name=password]').fill('x');
  await p.locator('button[type=submit]').first().click();
}

await step('saying no at the provider lands on /login?error=access_denied with the reason', async () => {
  const c = await newContext();
  const p = await c.newPage();
  shot = p;
  await p.goto(`${base}/login`);
  await button(p, 'Log in with dev').click();
  await p.waitForURL(/127\.0\.0\.1/);
  await p.getByRole('link', { name: /Cancel/ }).click();
  await p.waitForURL(`${base}/login?error=access_denied`);
  await alertText(p).filter({ hasText: 'You declined the sign-in' }).waitFor();
  await c.close();
  shot = page;
});

const oauthUser = `oauth${rand}`;
let oauthCtx = null;
let oauthPage = null;
await step('OAuth login through the local OpenID provider makes a new account', async () => {
  oauthCtx = await newContext();
  oauthPage = await oauthCtx.newPage();
  const p = oauthPage;
  shot = p;
  await providerLogin(p, oauthUser);
  await p.waitForURL(`${base}/account`);
  await p.getByText(`${oauthUser}@example.com`).waitFor();
  await p.getByText('dev: linked').waitFor();
  await p.getByRole('link', { name: 'Services' }).click();
  await p.getByRole('list', { name: 'Your notes' }).getByText('No notes yet.').waitFor();  // not the other user's
});

await step('that user turns on codes by e-mail; the next OAuth login asks for the mailed code', async () => {
  const p = oauthPage;
  shot = p;
  await p.getByRole('link', { name: 'Security' }).click();
  await button(p, 'Use codes sent by e-mail').click();
  await p.getByLabel('Code from the e-mail', { exact: true }).fill(await mailedCode(`${oauthUser}@example.com`));
  await button(p, 'Turn on').click();
  await p.getByRole('list', { name: 'Backup codes' }).getByRole('listitem').first().waitFor();
  await button(p, 'I saved my backup codes').click();
  await p.getByText(/^On \(codes by e-mail\)/).waitFor();
  await button(p, 'Log out').click();
  await p.waitForURL(`${base}/login`);
  await providerLogin(p, oauthUser);
  await p.waitForURL(`${base}/login`);
  await accessible(p, 'second-factor prompt');
  await p.getByLabel('Code from the e-mail', { exact: true }).fill(await mailedCode(`${oauthUser}@example.com`));
  await button(p, 'Verify').click();
  await p.waitForURL(`${base}/account`);
  await p.getByText(`${oauthUser}@example.com`).waitFor();
  await oauthCtx.close();
  shot = page;
});

let other = null;
await step('OAuth login of the user with 2FA asks for the TOTP code', async () => {
  const c = await newContext();
  other = await c.newPage();
  shot = other;
  await providerLogin(other, user.name, '/demo');
  await other.waitForURL(`${base}/login`);  // the #mfa_token fragment is read and dropped
  await secondFactor(other, '/demo');  // where the login was started for
  await other.getByRole('link', { name: 'Account' }).click();
  await other.getByText('dev: linked').waitFor();
});

await step('revoke the other session from the account page; it is refused there', async () => {
  shot = page;
  await page.goto(`${base}/account`);
  const sessions = page.getByRole('list', { name: 'Sessions' }).getByRole('listitem');
  await sessions.filter({ hasText: '(this session)' }).waitFor();
  for (let left = await page.getByRole('button', { name: /^Revoke session/ }).count(); left > 0; left--) {
    await page.getByRole('button', { name: /^Revoke session/ }).first().click();
    await page.waitForFunction((want) => document.querySelectorAll('button[aria-label^="Revoke session"]').length === want, left - 1);
  }
  check(await sessions.count() === 1, 'only this session is left');
  await accessible(page, 'account page');
  shot = other;
  // The services page calls the notes service at once: refused, the
  // refresh is refused too, and the SPA goes to the login.
  await other.getByRole('link', { name: 'Services' }).click();
  await other.waitForURL(`${base}/login?next=%2Fdemo`);
  await other.context().close();
  shot = page;
});

await step('password reset by mail ends every session', async () => {
  const c = await newContext();
  const p = await c.newPage();
  shot = p;
  await p.goto(`${base}/login`);
  await p.getByRole('link', { name: 'Forgot your password?' }).click();
  await p.getByLabel('E-mail', { exact: true }).fill(user.email);
  await button(p, 'Send reset link').click();
  await p.getByRole('status').filter({ hasText: 'a link is on its way' }).waitFor();
  const link = await mailedLink(user.email, 'reset-password');
  await p.goto(link);
  user.password = 'a new long e2e password';
  await p.getByLabel('New password', { exact: true }).fill(user.password);
  check(!p.url().includes('token='), 'the token is dropped from the URL');
  await button(p, 'Set password').click();
  await p.getByRole('status').filter({ hasText: 'Your password is changed' }).waitFor();
  await c.close();
  shot = page;
  await page.goto(`${base}/account`);
  await page.waitForURL(`${base}/login?next=%2Faccount`);
});

await step('log in with the new password and one of the kept backup codes', async () => {
  await passwordLogin(page, user.password);
  await page.getByText('Lost your device? Use a backup code').click();
  await page.getByLabel('Backup code', { exact: true }).fill(user.backup[0]);
  await button(page, 'Use backup code').click();
  await page.waitForURL(`${base}/account`);
  await page.getByRole('link', { name: 'Security' }).click();
  await page.getByText('On (authenticator app); 9 backup codes left.').waitFor();
  await page.getByRole('link', { name: 'Account' }).click();
  await page.getByRole('heading', { name: 'Your account' }).waitFor();
});

await step('unlink the provider, then link it again through the provider', async () => {
  await page.getByText('dev: linked').waitFor();
  await button(page, 'Unlink dev').click();
  await page.getByText('dev: not linked').waitFor();
  await button(page, 'Link dev').click();
  const form = page.locator('input[name=login]');
  await form.or(page.getByText('dev: linked')).first().waitFor();
  if (await form.count()) {
    await form.fill(user.name);
    await page.locator('input[name=password]').fill('x');
    await page.locator('button[type=submit]').first().click();
  }
  await page.waitForURL(`${base}/account`);
  await page.getByText('dev: linked').waitFor();
});

await step('export my data as a download', async () => {
  const [download] = await Promise.all([page.waitForEvent('download'), button(page, 'Export my data').click()]);
  check(download.suggestedFilename() === 'spa-auth-export.json', download.suggestedFilename());
  const data = JSON.parse(readFileSync(await download.path(), 'utf8'));
  check(data.account.email === user.email, `the export is of ${data.account?.email}`);
  check(!JSON.stringify(data).includes('$argon2'), 'no password hash in the export');
});

await step('delete the account; it cannot log in again', async () => {
  await page.getByLabel('Password', { exact: true }).fill(user.password);
  await button(page, 'Delete my account').click();
  await page.waitForURL(`${base}/?deleted=1`);
  await page.getByText('were erased').waitFor();
  await passwordLogin(page, user.password);
  await alertText(page).waitFor();
  check(page.url().startsWith(`${base}/login`), 'still on the login page');
});

await step('no console error and no CSP violation on any page of the journey', async () => {
  check(problems.length === 0, problems.join('\n'));
});

await step('axe-core found no WCAG 2.1 A/AA violation on the pages it audited', async () => {
  check(audited.size === 8, `audited: ${[...audited].join(', ')}`);
});

await browser.close();
console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
