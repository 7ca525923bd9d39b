// A WebSocket client (the `ws` library) for tests/nginx-t. Reads a JSON
// scenario from argv[2], prints one JSON result line.
// With --human as its first argument it is the client of `make run`'s
// walk-through instead, and prints what happens in words (ws-human.mjs).
//   {url, cookie?, origin?, protocols?, sockets?: N, hold_ms?, send?: [msgs], wait_close_ms?, close_after_ms?,
//    pause_ms?: [from, to], rss_file?}
// Result: {opened, status, protocol, greeting, messages: [{len, ok, text?}], close: {code, reason, at}, errors}
import WebSocket from 'ws';

if (process.argv[2] === '--human') {
  await import('./ws-human.mjs');
  await new Promise(() => {});  // ws-human.mjs ends the process itself
}
const s = JSON.parse(process.argv[2]);
const headers = {};
if (s.cookie) headers.Cookie = s.cookie;
if (s.origin) headers.Origin = s.origin;

function one() {
  return new Promise((resolve) => {
    const out = { opened: false, status: null, protocol: null, greeting: null, messages: [], close: null, errors: [] };
    const ws = new WebSocket(s.url, s.protocols || [], { headers, rejectUnauthorized: false });
    let timer = null;
    const done = () => { if (timer) clearTimeout(timer); resolve(out); };
    ws.on('unexpected-response', (req, res) => {
      out.status = res.statusCode;
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => { out.body = body; done(); });
    });
    ws.on('open', () => {
      out.opened = true;
      out.status = 101;
      out.protocol = ws.protocol;
      out.opened_at = Date.now();
      for (const m of s.send || []) ws.send(m);
      if (s.pause_ms) {
        // Stop reading for a while: what nginx sends piles up in the buffers.
        setTimeout(() => ws._socket.pause(), s.pause_ms[0]);
        setTimeout(() => ws._socket.resume(), s.pause_ms[1]);
      }
      if (s.close_after_ms !== undefined) setTimeout(() => ws.close(1000), s.close_after_ms);
      timer = setTimeout(() => { out.timeout = true; ws.terminate(); }, s.wait_close_ms || 2000);
    });
    ws.on('message', (data, isBinary) => {
      if (out.greeting === null && !isBinary) { out.greeting = JSON.parse(data.toString()); return; }
      const m = { len: data.length, binary: isBinary };
      if (isBinary) {
        m.ok = true;
        for (let i = 0; i < data.length; i++) if (data[i] !== (i & 0xff)) { m.ok = false; break; }
      } else {
        m.text = data.toString();
      }
      out.messages.push(m);
    });
    ws.on('close', (code, reason) => { out.close = { code, reason: reason.toString(), at: Date.now() }; done(); });
    ws.on('error', (e) => { out.errors.push(String(e.message || e)); if (!out.opened && out.status === null) done(); });
  });
}

if (s.sockets) {
  // Many sockets at once: open them all, count greetings, close them all.
  const socks = [];
  let greeted = 0, failed = 0;
  await Promise.all(Array.from({ length: s.sockets }, () => new Promise((resolve) => {
    const ws = new WebSocket(s.url, s.protocols || [], { headers, rejectUnauthorized: false });
    socks.push(ws);
    ws.once('message', () => { greeted++; resolve(); });
    ws.once('error', () => { failed++; resolve(); });
    ws.once('unexpected-response', () => { failed++; resolve(); });
  })));
  // Tell a watcher (bench/websocket.sh) that every socket is open now.
  if (s.rss_file) (await import('node:fs')).writeFileSync(s.rss_file, 'held\n');
  if (s.hold_ms) await new Promise((r) => setTimeout(r, s.hold_ms));
  const open = socks.filter((w) => w.readyState === WebSocket.OPEN).length;
  for (const w of socks) w.terminate();
  console.log(JSON.stringify({ greeted, failed, open }));
} else {
  console.log(JSON.stringify(await one()));
}
// A refused upgrade leaves a keep-alive socket open; do not wait for it.
process.exit(0);
