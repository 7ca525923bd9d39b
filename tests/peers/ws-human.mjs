// The WebSocket client of `make run`'s walk-through (`ws-client.mjs --human`):
// opens a socket with the access cookie curl saved, says who the service
// greeted, sends a message and shows its echo, then waits for the socket to
// end and says how: "closed 4401 session revoked" after a logout,
// "closed 4401 token expired" when the access token's time is up.
//
//   node tests/peers/ws-client.mjs --human [--background] [--jar COOKIES.txt | --cookie NAME=VALUE]
//        [--origin ORIGIN] [--send TEXT] [--wait SECONDS] URL
//
// --background: once greeted and echoed, the command returns and the socket
// stays open in a detached process, which prints its close line later (in
// the same terminal), so the next command can be the logout that ends it.
// Exit status: 0 when greeted (and, in the foreground, closed by the
// server); 1 when refused, cut off or never closed.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const args = process.argv.slice(2).filter((a) => a !== '--human');
const o = { send: 'hello', wait: 1200, background: false, child: false };
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--background') o.background = true;
  else if (a === '--child') o.child = true;
  else if (['--jar', '--cookie', '--origin', '--send', '--wait'].includes(a)) o[a.slice(2)] = args[++i];
  else if (!a.startsWith('--')) o.url = a;
  else { console.error(`ws-client: unknown option ${a}`); process.exit(2); }
}
if (!o.url) {
  console.error('usage: ws-client.mjs --human [--background] [--jar FILE | --cookie NAME=VALUE] [--send TEXT] URL');
  process.exit(2);
}
const say = (line) => console.log(`[ws] ${line}`);

if (o.background && !o.child) {
  // The parent: start the detached child, return once it is greeted.
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), ...args, '--child'],
                      { detached: true, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  child.on('message', () => {
    say(`the socket stays open in the background (pid ${child.pid}); it prints how it ends`);
    child.disconnect();
    child.unref();
    process.exit(0);
  });
  child.on('exit', (code) => process.exit(code ?? 1));
} else {
  run();
}

// The access cookie from a curl cookie jar (Netscape format; HttpOnly lines
// start with "#HttpOnly_").
function cookieFromJar(file) {
  let text = '';
  try { text = readFileSync(file, 'utf8'); } catch (e) { say(`cannot read the cookie jar: ${e.message}`); process.exit(1); }
  for (const line of text.split('\n')) {
    const f = line.split('\t');
    if (f.length >= 7 && f[5] === '__Host-spa_at') return `${f[5]}=${f[6]}`;
  }
  say(`no __Host-spa_at cookie in ${file}: log in first`);
  process.exit(1);
}

function run() {
  const headers = {};
  const cookie = o.jar ? cookieFromJar(o.jar) : o.cookie;
  if (cookie) headers.Cookie = cookie;
  if (o.origin) headers.Origin = o.origin;
  const ws = new WebSocket(o.url, [], { headers, rejectUnauthorized: false });
  let greeted = null;
  let openedAt = 0;
  let lastError = '';
  const ready = () => { if (o.child) process.send('ready'); };
  const timer = setTimeout(() => {
    say(`still open after ${o.wait} s; giving up`);
    process.exit(1);
  }, Number(o.wait) * 1000);

  ws.on('unexpected-response', (req, res) => {
    let body = '';
    res.on('data', (d) => { body += d; });
    res.on('end', () => {
      let why = '';
      try { const e = JSON.parse(body).error; why = ` ${e.code}: ${e.message}`; } catch { /* not the envelope */ }
      const hint = res.statusCode === 401 ? ' (log in again: the access cookie is missing, expired or revoked)' : '';
      say(`refused: HTTP ${res.statusCode}${why}${hint}`);
      process.exit(1);
    });
  });
  ws.on('open', () => { openedAt = Date.now(); });
  ws.on('message', (data, isBinary) => {
    if (greeted === null && !isBinary) {
      try { greeted = JSON.parse(data.toString()).hello; } catch { greeted = data.toString(); }
      ws.send(o.send);
      return;
    }
    say(`greeted as ${greeted}, echoed "${data.toString()}"`);
    if (!o.child) say('waiting for the socket to end (log out, or wait for the token to expire)');
    ready();
  });
  ws.on('close', (code, reason) => {
    clearTimeout(timer);
    const text = reason.toString();
    const after = openedAt ? ` after ${((Date.now() - openedAt) / 1000).toFixed(1)} s open` : '';
    if (!openedAt) say(`could not connect: ${lastError || `close ${code}`}`);
    else if (code === 1006) say(`connection lost (1006, no close frame)${after}`);
    else say(`closed ${code}${text ? ` ${text}` : ''}${after}`);
    process.exit(greeted !== null ? 0 : 1);
  });
  ws.on('error', (e) => { lastError = e.message; });
}
