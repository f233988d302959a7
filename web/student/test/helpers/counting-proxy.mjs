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
    /** HTTP requests not yet answered in full, and when bytes last moved. */
    this.inFlight = 0;
    this.lastActivity = Date.now();
    this.sockets = new Set();
    this.server = http.createServer((req, res) => this.forward(req, res));
    this.server.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  forward(req, res) {
    // bytes: the response's status line, headers and body as the server
    // sent them (compressed if it compressed), known once `done`.
    const entry = { method: req.method, path: req.url, status: 0, bytes: 0, encoding: '', done: false };
    this.requests.push(entry);
    this.inFlight += 1;
    this.lastActivity = Date.now();
    const finish = () => {
      if (entry.done) return;
      entry.done = true;
      this.inFlight -= 1;
      this.lastActivity = Date.now();
    };
    const up = http.request({ host: this.target.hostname, port: this.target.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      entry.status = r.statusCode;
      entry.encoding = r.headers['content-encoding'] ?? '';
      let head = `HTTP/1.1 ${r.statusCode} ${r.statusMessage}\r\n`.length + 2;
      for (let i = 0; i < r.rawHeaders.length; i += 2) head += r.rawHeaders[i].length + r.rawHeaders[i + 1].length + 4;
      entry.bytes = head;
      r.on('data', (chunk) => {
        entry.bytes += chunk.length;
        this.lastActivity = Date.now();
      });
      r.on('end', finish);
      r.on('error', finish);
      res.writeHead(r.statusCode, r.statusMessage, r.headers);
      r.pipe(res);
    });
    up.on('error', () => {
      finish();
      res.destroy();
    });
    res.on('close', finish);
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

  /** Resolves once no request is open and nothing has moved for `quietMs`. */
  async quiet(quietMs, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight > 0 || Date.now() - this.lastActivity < quietMs) {
      if (Date.now() > deadline) {
        throw new Error(`the network never went quiet: ${this.requests.filter((r) => r.done === false).map((r) => r.path).join(', ')}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
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
