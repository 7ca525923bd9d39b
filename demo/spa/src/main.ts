// The demo SPA: how a single-page app uses spa-auth when every token is an
// HttpOnly cookie. See docs/services.md for the services behind it.
import './style.css';
import { announceNewSession, announceSignedOut, ApiError, onRefreshed, onSignedOut, post, setReauthenticate } from './api';
import { append, field, form, h, section } from './dom';
import { account, security } from './pages/account';
import { admin } from './pages/admin';
import { forgotPassword, login, resetPassword, signup, verifyEmail } from './pages/auth';
import { demo } from './pages/demo';
import { go, pageFor, route, setRender } from './router';
import { forget, knownMe, loadMe, me, type Me } from './session';

const main = document.getElementById('main') as HTMLElement;
const nav = document.getElementById('nav') as HTMLElement;

// A page that needs a session sends a signed-out visitor to the login,
// which comes back here afterwards.
function signedInOnly(page: (main: HTMLElement, m: Me) => Promise<void> | void) {
  return async (el: HTMLElement) => {
    const m = await knownMe();
    if (!m) return go(`/login?next=${encodeURIComponent(location.pathname)}`, true);
    await page(el, m);
  };
}

function home(el: HTMLElement): void {
  const m = me();
  const deleted = new URLSearchParams(location.search).has('deleted');
  el.append(section('spa-auth demo',
    deleted ? h('p', { role: 'status' }, 'Your account and everything about it were erased.') : null,
    h('p', {}, 'This app signs up, logs in (with a second factor or an OpenID provider), refreshes its session and calls a REST and a WebSocket service through nginx and ngx_http_spa_auth_module.'),
    m ? h('p', {}, `Signed in as ${m.user.email}. `, h('a', { href: '/demo' }, 'Try the services'), '.')
      : h('p', {}, h('a', { href: '/signup' }, 'Sign up'), ' or ', h('a', { href: '/login' }, 'log in'), '.')));
}

route('/', home);
route('/signup', signup);
route('/verify-email', verifyEmail);
route('/login', login);
route('/forgot-password', forgotPassword);
route('/reset-password', resetPassword);
route('/account', signedInOnly(account));
route('/security', signedInOnly(security));
route('/admin', signedInOnly(admin));
route('/demo', signedInOnly(demo));

async function logout(): Promise<void> {
  try {
    await post('/api/v1/auth/logout', {}, { session: false });
  } finally {
    forget();
    announceSignedOut();
    go('/login', true);
  }
}

function drawNav(): void {
  const m = me();
  const link = (href: string, text: string) =>
    h('a', { href, 'aria-current': location.pathname === href ? 'page' : undefined }, text);
  nav.replaceChildren(...(m
    ? [link('/demo', 'Services'), link('/account', 'Account'), link('/security', 'Security'),
       m.user.role === 'admin' ? link('/admin', 'Admin') : null,
       h('span', { class: 'who' }, m.user.username),
       h('button', { type: 'button', onclick: () => { logout(); } }, 'Log out')]
    : [link('/login', 'Log in'), link('/signup', 'Sign up')]).filter((x): x is HTMLElement => x !== null));
}

let rendering = 0;
async function render(): Promise<void> {
  const mine = ++rendering;
  const page = pageFor(location.pathname);
  main.replaceChildren();
  if (!page) {
    main.append(section('Not found', h('p', {}, 'There is no such page. '), h('a', { href: '/' }, 'Home')));
  } else {
    try {
      await page(main);
    } catch (err) {
      if (mine !== rendering) return;
      const message = err instanceof ApiError ? `${err.message} (${err.code})` : String(err);
      main.append(h('p', { role: 'alert', class: 'error' }, message));
    }
  }
  if (mine !== rendering) return;
  drawNav();
  document.title = `${main.querySelector('h2')?.textContent ?? 'spa-auth'} — spa-auth demo`;
}
setRender(() => { render(); });

// Re-authentication (RFC 9470 step-up): a dialog asks for the password or
// a code, POST /api/v1/auth/reauthenticate gives a fresh session, and the
// refused call is retried.
setReauthenticate((reason) => new Promise<boolean>((resolve) => {
  const m = me();
  // nginx wants a second factor (spa_auth_require_mfa) and this account has
  // none: no prompt can help; the error tells the user what to do.
  if (/second authentication factor/i.test(reason) && !m?.user.mfa_enabled) return resolve(false);
  const useCode = !m?.user.has_password;
  let done = false;
  const dialog = h('dialog', { 'aria-label': 'Confirm it is you' });
  const finish = (ok: boolean) => { if (!done) { done = true; dialog.close(); dialog.remove(); resolve(ok); } };
  const pw = form('Re-authenticate with password', [
    field('Password', { name: 'password', type: 'password', autocomplete: 'current-password' }),
  ], 'Confirm', async (v) => {
    await post('/api/v1/auth/reauthenticate', { password: v.password }, { reauth: false });
    announceNewSession();
    finish(true);
  });
  const code = form('Re-authenticate with a code', [
    field('Authentication code', { name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: '9' }),
  ], 'Confirm with code', async (v) => {
    await post('/api/v1/auth/reauthenticate', { code: v.code }, { reauth: false });
    announceNewSession();
    finish(true);
  });
  append(dialog, h('h2', {}, 'Confirm it is you'), h('p', {}, `This action needs a recent sign-in: ${reason}.`),
    useCode ? null : pw, m?.user.mfa_enabled ? code : null,
    !m?.user.has_password && !m?.user.mfa_enabled ? h('p', {}, 'Sign in with your provider again, then retry.') : null,
    h('button', { type: 'button', onclick: () => finish(false) }, 'Cancel'));
  dialog.addEventListener('cancel', () => finish(false));
  document.body.append(dialog);
  dialog.showModal();
}));

// Another tab signed out (or this one's refresh was refused): leave the
// pages that need a session.
onSignedOut(() => {
  forget();
  drawNav();
  if (['/account', '/security', '/admin', '/demo'].includes(location.pathname))
    go(`/login?next=${encodeURIComponent(location.pathname)}`, true);
});
// Another tab signed in or refreshed: learn who is signed in now.
onRefreshed(() => { loadMe().then(drawNav, () => {}); });

knownMe().catch(() => null).finally(() => { render(); });
