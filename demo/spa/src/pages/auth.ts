// Sign-up, e-mail verification, login with its second factor, password
// reset: the pages a signed-out visitor uses.
import { announceNewSession, ApiError, get, post } from '../api';
import { field, form, h, say, section } from '../dom';
import { go, safePath } from '../router';
import { loadMe } from '../session';

// Reasons spa-authd gives a failed OAuth login (/login?error=REASON).
// A Map, not an object: ?error=constructor or __proto__ must find nothing.
const OAUTH_ERRORS = new Map<string, string>(Object.entries({
  access_denied: 'You declined the sign-in at the provider.',
  provider_unavailable: 'The provider did not answer. Try again in a moment.',
  provider_error: 'The provider refused the sign-in.',
  invalid_state: 'That sign-in link expired or came from another browser. Start again.',
  invalid_id_token: 'The provider\'s answer did not pass our checks.',
  account_exists: 'An account with that e-mail exists: log in with its password, then link the provider on your account page.',
  account_disabled: 'This account is disabled.',
  email_required: 'The provider did not tell us an e-mail address.',
  email_not_verified: 'The provider has not verified that e-mail address.',
  identity_in_use: 'That provider account is linked to another user.',
  provider_already_linked: 'You already linked another account of that provider.',
}));

// The token of a mailed link is in the URL's fragment (#token=...), which
// the browser never sends to a server. It is read once and the fragment
// dropped from the address bar and history.
function takeFragment(): URLSearchParams {
  const params = new URLSearchParams(location.hash.slice(1));
  if (location.hash) history.replaceState(null, '', location.pathname + location.search);
  return params;
}

async function signedIn(next: string): Promise<void> {
  announceNewSession();
  await loadMe();
  go(safePath(next), true);
}

export function signup(main: HTMLElement): void {
  const done = h('div');
  main.append(section('Sign up',
    form('Sign up', [
      field('E-mail', { name: 'email', type: 'email', autocomplete: 'email' }),
      field('Username', { name: 'username', autocomplete: 'username', minlength: '3', maxlength: '32', pattern: '[A-Za-z0-9_.\\-]+' }),
      field('Password', { name: 'password', type: 'password', autocomplete: 'new-password', minlength: '8', maxlength: '128' }),
    ], 'Create account', async (v, f) => {
      await post('/api/v1/auth/signup', v, { session: false });
      f.replaceWith(done);
      done.append(h('p', { role: 'status' }, `We sent a link to ${v.email}. Open it to confirm the address, then log in.`));
    }),
    h('p', {}, 'Have an account? ', h('a', { href: '/login' }, 'Log in')),
    done));
}

export function verifyEmail(main: HTMLElement): void {
  const token = takeFragment().get('token') ?? '';
  const resend = form('Send the link again', [field('E-mail', { name: 'email', type: 'email', autocomplete: 'email' })],
    'Send a new link', async (v, f) => {
      await post('/api/v1/auth/verify-email/request', v, { session: false });
      say(f.querySelector('.status') as HTMLElement, 'If that address has an account waiting, a new link is on its way.', true);
    });
  if (!token) {
    main.append(section('Confirm your e-mail', h('p', {}, 'Open the link from the e-mail we sent you.'), resend));
    return;
  }
  main.append(section('Confirm your e-mail',
    h('p', {}, 'Enter the password you chose at sign-up: the link proves the mailbox, the password proves it is yours.'),
    form('Confirm e-mail', [field('Password', { name: 'password', type: 'password', autocomplete: 'current-password' })],
      'Confirm', async (v, f) => {
        await post('/api/v1/auth/verify-email/confirm', { token, password: v.password }, { session: false });
        f.replaceWith(h('p', { role: 'status' }, 'Your address is confirmed. ', h('a', { href: '/login' }, 'Log in')));
      }),
    h('details', {}, h('summary', {}, 'The link expired?'), resend)));
}

interface LoginAnswer { mfa_required?: boolean; mfa_token?: string; method?: string; expires_in?: number }
interface Provider { name: string; login: string }

// The second step of a login: a code from the authenticator app (or the
// e-mail), or a backup code.
function secondFactor(main: HTMLElement, mfaToken: string, method: string, next: string): void {
  main.replaceChildren();
  const byMail = method === 'email';
  const codeForm = form('Second factor', [
    h('p', {}, byMail ? 'We mailed you a 6-digit code.' : 'Enter the 6-digit code from your authenticator app.'),
    field(byMail ? 'Code from the e-mail' : 'Authentication code',
          { name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}', maxlength: '6' }),
  ], 'Verify', async (v) => {
    await post('/api/v1/mfa/verify', { mfa_token: mfaToken, code: v.code }, { session: false });
    await signedIn(next);
  });
  const backupForm = form('Log in with a backup code', [
    field('Backup code', { name: 'code', autocomplete: 'off', maxlength: '9' }),
  ], 'Use backup code', async (v) => {
    await post('/api/v1/mfa/verify-backup', { mfa_token: mfaToken, code: v.code }, { session: false });
    await signedIn(next);
  });
  main.append(section('Two-factor authentication', codeForm,
    h('details', {}, h('summary', {}, 'Lost your device? Use a backup code'), backupForm)));
  (codeForm.querySelector('input') as HTMLInputElement).focus();
}

export async function login(main: HTMLElement): Promise<void> {
  const query = new URLSearchParams(location.search);
  const next = safePath(query.get('next') ?? '/account');
  const fragment = takeFragment();
  // An OAuth login of a user with 2FA lands here with #mfa_token=...
  const mfaToken = fragment.get('mfa_token');
  // redirect_to: where the OAuth login was started for (spa-authd checked
  // it at /start; safePath keeps it on this site).
  if (mfaToken) return secondFactor(main, mfaToken, fragment.get('method') ?? 'totp', safePath(fragment.get('redirect_to') ?? next));

  const error = query.get('error');
  const providers = h('div', { class: 'providers' });
  main.append(section('Log in',
    error ? h('p', { role: 'alert', class: 'error' }, OAUTH_ERRORS.get(error) ?? `The sign-in failed (${error.slice(0, 64)}).`) : null,
    form('Log in', [
      field('E-mail', { name: 'email', type: 'email', autocomplete: 'username' }),
      field('Password', { name: 'password', type: 'password', autocomplete: 'current-password' }),
    ], 'Log in', async (v) => {
      try {
        const a = await post<LoginAnswer>('/api/v1/auth/login', v, { session: false });
        if (a.mfa_required && a.mfa_token) return secondFactor(main, a.mfa_token, a.method ?? 'totp', next);
        await signedIn(next);
      } catch (err) {
        if (err instanceof ApiError && err.code === 'account_locked' && err.retryAfter)
          throw new ApiError(err.status, err.code, `Too many attempts: try again in ${err.retryAfter} s.`);
        throw err;
      }
    }),
    providers,
    h('p', {}, h('a', { href: '/forgot-password' }, 'Forgot your password?'), ' · ',
      h('a', { href: '/signup' }, 'Create an account'), ' · ',
      h('a', { href: '/verify-email' }, 'Confirm your e-mail'))));
  try {
    const { providers: list } = await get<{ providers: Provider[] }>('/api/v1/oauth/providers', { session: false });
    for (const p of list) {
      const target = `${p.login}?redirect_to=${encodeURIComponent(next)}`;
      providers.append(h('button', { type: 'button', class: 'provider', onclick: () => location.assign(target) },
                         `Log in with ${p.name}`));
    }
  } catch {
    // No providers answer: the page still works with a password.
  }
}

export function forgotPassword(main: HTMLElement): void {
  main.append(section('Reset your password',
    form('Request a reset link', [field('E-mail', { name: 'email', type: 'email', autocomplete: 'email' })],
      'Send reset link', async (v, f) => {
        await post('/api/v1/auth/password-reset/request', v, { session: false });
        f.replaceWith(h('p', { role: 'status' }, `If ${v.email} has an account, a link is on its way. It works for 30 minutes.`));
      })));
}

export function resetPassword(main: HTMLElement): void {
  const token = takeFragment().get('token') ?? '';
  if (!token) {
    main.append(section('Choose a new password', h('p', { role: 'alert' }, 'Open the link from the e-mail; it carries the reset token.'),
                        h('a', { href: '/forgot-password' }, 'Send a new link')));
    return;
  }
  main.append(section('Choose a new password',
    form('Set a new password', [field('New password', { name: 'password', type: 'password', autocomplete: 'new-password', minlength: '8' })],
      'Set password', async (v, f) => {
        await post('/api/v1/auth/password-reset/confirm', { token, password: v.password }, { session: false });
        f.replaceWith(h('p', { role: 'status' }, 'Your password is changed and every session ended. ', h('a', { href: '/login' }, 'Log in')));
      })));
}
