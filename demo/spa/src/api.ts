// The SPA's one way to call the API. Every token is an HttpOnly cookie set
// by spa-authd, so this code never holds one: it sends requests with the
// page's cookies and reacts to the answers.
//
// On a 401 that says the access token is missing or no good (it expired,
// so the browser dropped its cookie), it refreshes once and retries. The
// refresh is single-flight across every tab of this site: the Web Locks
// API lets one tab at a time into the refresh, and a tab that gets in after
// another one refreshed finds the new cookie already there (its probe
// passes, or the other tab's BroadcastChannel message said so) and makes no
// second refresh. spa-authd's refresh_grace covers what no lock can: two
// browsers, or a tab killed mid-refresh.

export interface Meta { timestamp: string; version: string; requestId: string }
export interface Envelope<T> {
  success: boolean;
  data?: T;
  error?: { code: string; message: string; max_age?: number };
  meta?: Meta;
}

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string,
              readonly requestId = '', readonly retryAfter = 0, readonly maxAge = 0) {
    super(message);
  }
}

export interface CallOptions {
  // false for the calls made without a session (login, sign-up, ...): a 401
  // there is an answer, not an expired token.
  session?: boolean;
  // false: a step-up refusal is thrown rather than answered by the prompt.
  reauth?: boolean;
}

const LOCK = 'spa-auth-refresh';
const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel('spa-auth') : null;
let lastRefresh = 0;  // Date.now() of the latest refresh any tab announced
const listeners = { signedOut: [] as Array<() => void>, refreshed: [] as Array<() => void> };

channel?.addEventListener('message', (ev: MessageEvent) => {
  const m = ev.data as { type?: string; at?: number };
  if (m?.type === 'refreshed' && typeof m.at === 'number') {
    lastRefresh = Math.max(lastRefresh, m.at);
    listeners.refreshed.forEach((f) => f());
  } else if (m?.type === 'signed-out') {
    listeners.signedOut.forEach((f) => f());
  }
});

export function onSignedOut(f: () => void): void { listeners.signedOut.push(f); }
export function onRefreshed(f: () => void): void { listeners.refreshed.push(f); }

export function announceSignedOut(): void {
  channel?.postMessage({ type: 'signed-out' });
}

// Tells the other tabs that the cookies changed (a refresh, a login, a
// re-authentication): they need not refresh for a 401 they got before.
export function announceNewSession(): void {
  lastRefresh = Date.now();
  channel?.postMessage({ type: 'refreshed', at: lastRefresh });
}

// Every refresh the SPA makes, counted for the "ten tabs, one refresh"
// test and shown on the account page.
export let refreshCount = 0;

async function withLock<T>(f: () => Promise<T>): Promise<T> {
  if (navigator.locks) return navigator.locks.request(LOCK, f);
  // Without Web Locks (old browsers): single-flight within this tab only.
  const run = (inTab = inTab.then(f, f)) as Promise<T>;
  return run;
}
let inTab: Promise<unknown> = Promise.resolve();

// Makes sure the cookies hold a usable access token again, refreshing at
// most once across tabs. `since`: when the refused request was sent.
// `probe`: asks again whether the refused request passes now, for when
// another tab refreshed while this one waited for the lock and its message
// is not here yet (the cookie jar is shared, the messages are not
// ordered with the lock); without a probe a refresh is made.
export async function renewSession(since: number, probe?: () => Promise<boolean>): Promise<boolean> {
  return withLock(async () => {
    if (lastRefresh >= since) return true;
    if (probe && await probe()) return true;
    refreshCount++;
    const r = await fetch('/api/v1/auth/refresh', {
      method: 'POST', credentials: 'same-origin', cache: 'no-store',
      headers: { 'Content-Type': 'application/json' }, body: '{}',
    });
    if (!r.ok) return false;
    announceNewSession();
    return true;
  });
}

// What the SPA asks the user when an action needs a recent authentication
// (401 reauthentication_required from spa-authd, or
// insufficient_user_authentication from nginx). Set by main.ts.
export let reauthenticate: (reason: string) => Promise<boolean> = async () => false;
export function setReauthenticate(f: (reason: string) => Promise<boolean>): void { reauthenticate = f; }

const STEP_UP = new Set(['reauthentication_required', 'insufficient_user_authentication']);
const NO_TOKEN = new Set(['missing_token', 'invalid_token']);

async function send(method: string, path: string, body: unknown): Promise<{ res: Response; env: Envelope<unknown> }> {
  const init: RequestInit = { method, credentials: 'same-origin', cache: 'no-store', headers: {} };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)['Content-Type'] = 'application/json';
  }
  const res = await fetch(path, init);
  let env: Envelope<unknown> = { success: res.ok };
  const type = res.headers.get('Content-Type') || '';
  if (type.includes('json')) {
    try { env = await res.json(); } catch { /* a body that is not JSON: the status says it */ }
  }
  return { res, env };
}

type Sent = { res: Response; env: Envelope<unknown> };
const codeOf = ({ res, env }: Sent) => env.error?.code ?? (res.status === 401 ? 'invalid_token' : `http_${res.status}`);
// A 401 that a refresh can cure: no token, or one that no longer passes
// (expired, its session's floor raised by a role change, ...).
const wantsToken = (s: Sent) => s.res.status === 401 && NO_TOKEN.has(codeOf(s));

export async function call<T>(method: string, path: string, body?: unknown, o: CallOptions = {}): Promise<T> {
  const session = o.session ?? true;
  let renewed = false, reauthed = false;
  let answer: Sent | null = null;  // an answer already in hand (the probe's)
  for (;;) {
    const sentAt = Date.now();
    const got: Sent = answer ?? await send(method, path, body);
    answer = null;
    const { res, env } = got;
    if (res.ok && env.success !== false) return env.data as T;
    const code = codeOf(got);
    if (session && !renewed && wantsToken(got)) {
      renewed = true;
      // A 401 for a missing or refused token means the request was not
      // acted on, so asking again is safe.
      const probe = async () => {
        const again = await send(method, path, body);
        if (wantsToken(again)) return false;
        answer = again;
        return true;
      };
      if (await renewSession(sentAt, probe)) continue;
      listeners.signedOut.forEach((f) => f());
      announceSignedOut();
    }
    if (res.status === 401 && STEP_UP.has(code) && (o.reauth ?? true) && !reauthed) {
      reauthed = true;
      if (await reauthenticate(env.error?.message ?? 'confirm it is you')) continue;
    }
    throw new ApiError(res.status, code, env.error?.message ?? `HTTP ${res.status}`, env.meta?.requestId ?? '',
                       Number(res.headers.get('Retry-After') || 0), env.error?.max_age ?? 0);
  }
}

export const get = <T>(path: string, o?: CallOptions) => call<T>('GET', path, undefined, o);
export const post = <T>(path: string, body: unknown = {}, o?: CallOptions) => call<T>('POST', path, body, o);
