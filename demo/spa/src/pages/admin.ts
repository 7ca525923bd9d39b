// Administration: every user, their role, disabling. nginx lets this reach
// spa-authd only from allowed addresses and for a session with a second
// factor; spa-authd checks the role in its store on every call.
import { call, get } from '../api';
import { h, say, section, when } from '../dom';
import type { Me, User } from '../session';

export async function admin(main: HTMLElement, m: Me, after = ''): Promise<void> {
  const status = h('p', { role: 'alert', class: 'status' });
  const q = after ? `?limit=50&after=${encodeURIComponent(after)}` : '?limit=50';
  const { users, next } = await get<{ users: User[]; next?: string }>(`/api/v1/admin/users${q}`);
  const change = async (u: User, body: Partial<Pick<User, 'role' | 'disabled'>>) => {
    try {
      await call('PATCH', `/api/v1/admin/users/${u.id}`, body);
      say(status, `${u.email}: saved.`, true);
    } catch (err) { say(status, err); }
  };
  const rows = users.map((u) => {
    const self = u.id === m.user.id;
    const role = h('select', { 'aria-label': `Role of ${u.email}`, disabled: self },
      h('option', { value: 'user', selected: u.role === 'user' }, 'user'),
      h('option', { value: 'admin', selected: u.role === 'admin' }, 'admin'));
    role.addEventListener('change', () => change(u, { role: role.value }));
    const disabled = h('input', { type: 'checkbox', 'aria-label': `${u.email} disabled`, checked: u.disabled, disabled: self });
    disabled.addEventListener('change', () => change(u, { disabled: disabled.checked }));
    return h('tr', {}, h('td', {}, u.email), h('td', {}, u.username), h('td', {}, role), h('td', {}, disabled),
             h('td', {}, u.mfa_enabled ? 'yes' : 'no'), h('td', {}, when(u.created_at)));
  });
  main.append(section('Users',
    h('table', {},
      h('thead', {}, h('tr', {}, ...['E-mail', 'Username', 'Role', 'Disabled', '2FA', 'Created'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, ...rows)),
    status,
    next ? h('button', { type: 'button', onclick: () => { main.replaceChildren(); admin(main, m, next).catch((e) => say(status, e)); } }, 'Next page') : null));
}
