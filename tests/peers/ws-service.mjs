// A WebSocket microservice behind nginx (the `ws` library): it greets the
// user nginx names in the X-User-* headers, echoes text, and on "big:N"
// sends one binary message of N bytes (0..255 repeating), so a test can
// tell a frame cut in two from a whole one. `make run` uses it as the demo.
//
//   node tests/peers/ws-service.mjs PORT
import http from 'node:http';
import { WebSocketServer } from 'ws';

const port = Number(process.argv[2] || 9103);
const server = http.createServer((req, res) => {
  res.writeHead(426, { 'Content-Type': 'text/plain' });
  res.end('WebSocket only\n');
});
const wss = new WebSocketServer({
  server,
  // nginx offers `bearer` alone when the client sent its token that way.
  handleProtocols: (protocols) => (protocols.has('bearer') ? 'bearer' : false),
});
wss.on('connection', (ws, req) => {
  // A bad frame (reserved bits set, a bad opcode, an unmasked client frame)
  // is that socket's error: `ws` closes it with 1002; without a handler the
  // error would end the whole process.
  ws.on('error', (err) => {
    console.log(`ws-service: closing a socket: ${err.message}`);
    ws.terminate();
  });
  const who = req.headers['x-user-name'] || req.headers['x-user-id'] || 'stranger';
  ws.send(JSON.stringify({
    hello: who,
    user_id: req.headers['x-user-id'] || null,
    offered_protocols: req.headers['sec-websocket-protocol'] || null,
  }));
  ws.on('message', (data, isBinary) => {
    const text = isBinary ? null : data.toString();
    const big = text && /^big:(\d+)$/.exec(text);
    if (big) {
      const n = Number(big[1]);
      const payload = Buffer.alloc(n);
      for (let i = 0; i < n; i++) payload[i] = i & 0xff;
      ws.send(payload, { binary: true });
    } else if (text !== null) {
      ws.send(`${who}: ${text}`);
    }
  });
});
server.listen(port, '127.0.0.1', () => console.log(`ws-service listening on ${port}`));
