// The demo microservices: a REST service that answers for the X-User-*
// headers nginx sends it, and a WebSocket service. The WebSocket carries
// the access cookie on its upgrade; nginx closes it with 4401 when the
// token expires or the session is revoked, and this panel then refreshes
// (single-flight across tabs) and reconnects.
import { call, get, post, renewSession } from '../api';
import { field, form, h, say, section } from '../dom';

function rest(): HTMLElement {
  const out = h('pre', { 'aria-label': 'Service answer', 'aria-live': 'polite', tabindex: '0' });
  const status = h('p', { role: 'alert', class: 'status' });
  const callService = (path: string) => async () => {
    status.textContent = '';
    out.textContent = '…';
    try {
      out.textContent = JSON.stringify(await get(path), null, 2);
    } catch (err) {
      out.textContent = '';
      say(status, err);
    }
  };
  return section('Demo REST service',
    h('p', {}, 'The service trusts the X-User-* headers nginx sets after it checked your token; it never sees the token.'),
    h('button', { type: 'button', onclick: callService('/api/v1/demo/hello') }, 'Call the demo service'),
    h('button', { type: 'button', onclick: callService('/api/v1/demo/sensitive/report') }, 'Call the sensitive endpoint'),
    status, out);
}

interface Note { id: string; text: string; created_at: number }

// Data a service keeps per user, keyed by the X-User-Id nginx sent it.
function notes(): HTMLElement {
  const list = h('ul', { 'aria-label': 'Your notes' });
  const status = h('p', { role: 'alert', class: 'status' });
  const load = async () => {
    const { notes: rows } = await get<{ notes: Note[] }>('/api/v1/demo/notes');
    list.replaceChildren(...rows.map((n) => h('li', {}, n.text, ' ',
      h('button', { type: 'button', 'aria-label': `Delete note ${n.text}`, onclick: async () => {
        try { await call('DELETE', `/api/v1/demo/notes/${n.id}`); await load(); } catch (err) { say(status, err); }
      } }, 'Delete'))));
    if (!rows.length) list.append(h('li', {}, 'No notes yet.'));
  };
  load().catch((err) => say(status, err));
  return section('Your notes (kept by the demo service for your X-User-Id)', list,
    form('Add a note', [field('Note', { name: 'text', maxlength: '500', autocomplete: 'off' })], 'Add note', async (v, f) => {
      await post('/api/v1/demo/notes', { text: v.text });
      f.reset();
      await load();
    }), status);
}

function websocket(): HTMLElement {
  const lines = h('ol');
  const log = h('div', { role: 'log', 'aria-label': 'WebSocket messages', 'aria-live': 'polite' }, lines);
  const state = h('p', { role: 'status', 'data-testid': 'ws-state' }, 'disconnected');
  let ws: WebSocket | null = null;
  let wanted = false;
  let connectedAt = 0;
  const line = (text: string) => { lines.append(h('li', {}, text)); };
  const connect = () => {
    wanted = true;
    const sock = new WebSocket(`wss://${location.host}/ws/chat`);
    ws = sock;
    state.textContent = 'connecting';
    sock.addEventListener('open', () => { state.textContent = 'connected'; connectedAt = Date.now(); });
    sock.addEventListener('message', (ev) => {
      if (typeof ev.data !== 'string') return line(`binary message`);
      try {
        const m = JSON.parse(ev.data) as { hello?: string };
        if (m.hello) return line(`greeted as ${m.hello}`);
      } catch { /* a plain echo */ }
      line(`received: ${ev.data}`);
    });
    sock.addEventListener('close', async (ev) => {
      if (ws !== sock) return;
      ws = null;
      state.textContent = 'disconnected';
      line(`closed ${ev.code}${ev.reason ? ' ' + ev.reason : ''}`);
      // 4401: the token expired or the session ended. Refresh (once, for
      // every tab) and reconnect; a refused refresh means signed out.
      // No probe: the token nginx just refused may still pass a check
      // with leeway. A 4401 right after a reconnect stops the loop.
      if (ev.code === 4401 && wanted) {
        if (Date.now() - connectedAt < 5000) {
          line('refused again at once: not reconnecting');
        } else if (await renewSession(Date.now())) {
          line('refreshed the session, reconnecting');
          connect();
        } else {
          line('the session is over: log in again');
        }
      }
    });
  };
  const send = form('Send a message', [field('Message', { name: 'message', autocomplete: 'off' })], 'Send', async (v, f) => {
    if (!ws || ws.readyState !== WebSocket.OPEN) throw new Error('not connected');
    ws.send(v.message);
    line(`sent: ${v.message}`);
    f.reset();
  });
  return section('Live WebSocket', state,
    h('button', { type: 'button', onclick: () => { if (!ws) connect(); } }, 'Connect'),
    h('button', { type: 'button', onclick: () => { wanted = false; ws?.close(1000, 'bye'); } }, 'Disconnect'),
    send, log);
}

export function demo(main: HTMLElement): void {
  main.append(rest(), notes(), websocket());
}
