// The signed-in user's pages: the account (sessions, providers, export,
// password, deletion) and security (two-factor enrolment, backup codes).
import { announceNewSession, announceSignedOut, call, get, post, refreshCount } from '../api';
import { append, field, form, h, safeSvg, say, section, when } from '../dom';
import { go } from '../router';
import { forget, loadMe, type Me } from '../session';

interface SessionRow { id: string; current: boolean; created_at: number; last_used_at: number; expires_at: number; ip: string; user_agent: string }

async function sessions(list: HTMLElement): Promise<void> {
  const { sessions: rows } = await get<{ sessions: SessionRow[] }>('/api/v1/auth/sessions');
  const status = h('p', { role: 'alert', class: 'status' });
  const items = rows.map((s) => {
    const label = `${s.user_agent || 'unknown browser'} from ${s.ip || 'unknown address'}`;
    return h('li', { 'data-session': s.id },
      h('strong', {}, label), s.current ? h('span', { class: 'badge' }, ' (this session)') : null,
      h('br'), `signed in ${when(s.created_at)}, last used ${when(s.last_used_at)}, ends ${when(s.expires_at)}`, ' ',
      s.current ? null : h('button', { type: 'button', 'aria-label': `Revoke session ${label} started ${when(s.created_at)}`,
        onclick: async () => {
          try {
            await call('DELETE', `/api/v1/auth/sessions/${s.id}`);
            await sessions(list);
          } catch (err) { say(status, err); }
        } }, 'Revoke'));
  });
  list.replaceChildren(h('ul', { 'aria-label': 'Sessions' }, ...items), status);
}

async function providers(box: HTMLElement, m: Me): Promise<void> {
  const status = h('p', { role: 'alert', class: 'status' });
  let configured: { name: string }[] = [];
  try {
    configured = (await get<{ providers: { name: string }[] }>('/api/v1/oauth/providers', { session: false })).providers;
  } catch { /* none */ }
  const rows = configured.map((p) => {
    const linked = m.user.providers.includes(p.name);
    return h('li', {}, `${p.name}: ${linked ? 'linked' : 'not linked'} `,
      h('button', { type: 'button', onclick: async () => {
        try {
          if (linked) {
            await post('/api/v1/oauth/unlink', { provider: p.name });
            await loadMe();
            go('/account', true);
          } else {
            const a = await post<{ authorization_url: string }>('/api/v1/oauth/link', { provider: p.name, redirect_to: '/account' });
            location.assign(a.authorization_url);
          }
        } catch (err) { say(status, err); }
      } }, linked ? `Unlink ${p.name}` : `Link ${p.name}`));
  });
  box.replaceChildren(configured.length ? h('ul', { 'aria-label': 'Providers' }, ...rows) : h('p', {}, 'No providers are configured.'), status);
}

async function exportData(status: HTMLElement): Promise<void> {
  const data = await get<unknown>('/api/v1/auth/export');
  const blob = new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: 'spa-auth-export.json' });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  say(status, 'Your data was downloaded as spa-auth-export.json.', true);
}

export async function account(main: HTMLElement, m: Me): Promise<void> {
  const u = m.user;
  const sessionList = h('div', {}, 'Loading sessions…');
  const providerBox = h('div');
  const exportStatus = h('p', { role: 'alert', class: 'status' });
  main.append(
    section('Your account',
      h('dl', {},
        h('dt', {}, 'E-mail'), h('dd', {}, u.email, u.email_verified ? ' (confirmed)' : ' (not confirmed)'),
        h('dt', {}, 'Username'), h('dd', {}, u.username),
        h('dt', {}, 'Role'), h('dd', {}, u.role),
        h('dt', {}, 'Two-factor authentication'), h('dd', {}, u.mfa_enabled ? 'on' : 'off', ' — ', h('a', { href: '/security' }, 'manage')),
        h('dt', {}, 'Refreshes by this tab'), h('dd', { 'data-testid': 'refresh-count' }, String(refreshCount)))),
    section('Sessions', sessionList),
    section('Sign-in providers', providerBox),
    section('Your data',
      h('p', {}, 'Everything spa-auth stores about you, as JSON (needs a recent login).'),
      h('button', { type: 'button', onclick: () => exportData(exportStatus).catch((e) => say(exportStatus, e)) }, 'Export my data'),
      exportStatus),
    section('Change password',
      form('Change password', [field('New password', { name: 'password', type: 'password', autocomplete: 'new-password', minlength: '8' })],
        'Change password', async (v, f) => {
          await post('/api/v1/auth/password', v);
          announceNewSession();
          say(f.querySelector('.status') as HTMLElement, 'Password changed. Every other session has ended.', true);
          await sessions(sessionList);
        })),
    section('Delete account',
      h('p', {}, 'This erases your account, sessions and linked providers at once. It cannot be undone.'),
      form('Delete account', [u.has_password
        ? field('Password', { name: 'password', type: 'password', autocomplete: 'current-password' })
        : h('p', {}, 'Accounts without a password confirm by a recent login.')],
      'Delete my account', async (v) => {
        await call('DELETE', '/api/v1/auth/account', u.has_password ? { password: v.password } : {});
        forget();
        announceSignedOut();
        go('/?deleted=1', true);
      })));
  await Promise.all([sessions(sessionList), providers(providerBox, m)]);
}

interface MfaStatus { enabled: boolean; method: string; backup_codes_remaining: number }

function backupCodes(codes: string[]): HTMLElement {
  const text = codes.join('\n') + '\n';
  const url = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
  return h('div', { class: 'backup' },
    h('p', { role: 'status' }, 'Your backup codes. Each works once; they are shown only now.'),
    h('ul', { 'aria-label': 'Backup codes' }, ...codes.map((c) => h('li', {}, h('code', {}, c)))),
    h('a', { href: url, download: 'spa-auth-backup-codes.txt' }, 'Download the backup codes'));
}

export async function security(main: HTMLElement): Promise<void> {
  const st = await get<MfaStatus>('/api/v1/mfa/status');
  const box = h('div');
  main.append(section('Two-factor authentication', box));
  const redraw = async () => { main.replaceChildren(); await loadMe(); await security(main); };
  if (!st.enabled) {
    box.append(h('p', {}, 'Two-factor authentication is off.'),
      h('button', { type: 'button', onclick: async () => {
        const s = await post<{ secret: string; otpauth_uri: string; qr_svg: string }>('/api/v1/mfa/setup', {});
        const qr = safeSvg(s.qr_svg, 'QR code for your authenticator app');
        box.replaceChildren(
          h('p', {}, 'Scan this code with your authenticator app, or type the key.'),
          qr ?? h('p', {}, 'The QR code could not be shown.'),
          h('p', {}, 'Key: ', h('code', { 'data-testid': 'totp-secret' }, s.secret)),
          form('Turn on two-factor authentication', [
            field('Code from the app', { name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: '6' }),
          ], 'Turn on', async (v, f) => {
            const r = await post<{ backup_codes: string[] }>('/api/v1/mfa/enable', { code: v.code });
            f.replaceWith(backupCodes(r.backup_codes), h('button', { type: 'button', onclick: redraw }, 'I saved my backup codes'));
          }));
      } }, 'Set up an authenticator app'),
      h('button', { type: 'button', onclick: async () => {
        await post('/api/v1/mfa/setup', { method: 'email' });
        box.replaceChildren(form('Turn on e-mailed codes', [
          h('p', {}, 'We mailed you a code.'),
          field('Code from the e-mail', { name: 'code', inputmode: 'numeric', maxlength: '6' }),
        ], 'Turn on', async (v, f) => {
          const r = await post<{ backup_codes: string[] }>('/api/v1/mfa/enable', { code: v.code });
          f.replaceWith(backupCodes(r.backup_codes), h('button', { type: 'button', onclick: redraw }, 'I saved my backup codes'));
        }));
      } }, 'Use codes sent by e-mail'));
    return;
  }
  const byMail = st.method === 'email';
  const codeField = () => field(byMail ? 'Code from the e-mail' : 'Code from the app', { name: 'code', inputmode: 'numeric', maxlength: '9' });
  const mailStatus = h('p', { role: 'alert', class: 'status' });
  append(box,
    h('p', {}, `On (${byMail ? 'codes by e-mail' : 'authenticator app'}); ${st.backup_codes_remaining} backup codes left.`),
    byMail ? h('p', {}, h('button', { type: 'button', onclick: async () => {
      try { await post('/api/v1/mfa/email-code', {}); say(mailStatus, 'A code is on its way.', true); } catch (e) { say(mailStatus, e); }
    } }, 'Mail me a code'), mailStatus) : null,
    form('New backup codes', [codeField()], 'Make new backup codes', async (v, f) => {
      const r = await post<{ backup_codes: string[] }>('/api/v1/mfa/backup-codes', { code: v.code });
      f.replaceWith(backupCodes(r.backup_codes));
    }),
    form('Turn off two-factor authentication', [codeField()], 'Turn off', async (v) => {
      await post('/api/v1/mfa/disable', { code: v.code });
      await redraw();
    }));
}
