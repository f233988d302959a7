// A pass-through HTTP proxy in front of the vigil server that writes down
// every request that reaches it: what crossed the network, as the server
// sees it. The browser's own events cannot tell a file served from its cache
// from one fetched again (a 304 has no body either), and its workers' fetches
// are not the page's; here a request is a request. WebSocket upgrades (the
// page's socket.io) are piped through untouched.

import http from 'node:http';
import net from 'node:net';

export class CountingProxy {
  /** @param {string} target  the server's origin, e.g. http://127.0.0.1:1234 */
  static async start(target) {
    const p = new CountingProxy(new URL(target));
    await new Promise((resolve) => p.server.listen(0, '127.0.0.1', resolve));
    p.url = `http://127.0.0.1:${p.server.address().port}`;
    return p;
  }

  constructor(target) {
    this.target = target;
    /** Every request, in order: {method, path, status}. */
    this.requests = [];
    this.sockets = new Set();
    this.server = http.createServer((req, res) => this.forward(req, res));
    this.server.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  forward(req, res) {
    const entry = { method: req.method, path: req.url, status: 0 };
    this.requests.push(entry);
    const up = http.request({ host: this.target.hostname, port: this.target.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      entry.status = r.statusCode;
      res.writeHead(r.statusCode, r.statusMessage, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  }

  upgrade(req, socket, head) {
    this.requests.push({ method: req.method, path: req.url, status: 101 });
    const up = net.connect(Number(this.target.port), this.target.hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      up.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length) up.write(head);
      socket.pipe(up).pipe(socket);
    });
    this.sockets.add(up);
    up.on('close', () => this.sockets.delete(up));
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
  }

  /** The requests so far whose path matches `re`, and forgets none. */
  matching(re) {
    return this.requests.filter((r) => re.test(r.path));
  }

  async stop() {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
