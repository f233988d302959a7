// Minimal static file server for browser tests: maps URL prefixes to
// directories, listens on 127.0.0.1 with an OS-assigned port, and sends the
// MIME types module workers and WebAssembly streaming compilation insist on.

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.jpg': 'image/jpeg',
  '.png': 'image/png',
  '.tflite': 'application/octet-stream',
  '.task': 'application/octet-stream',
  '.binarypb': 'application/octet-stream',
};

/**
 * @param {Record<string, string>} mounts  URL prefix ("/models/") -> directory; longest prefix wins
 * @returns {Promise<{origin: string, close: () => Promise<void>}>}
 */
export async function startStaticServer(mounts) {
  const prefixes = Object.keys(mounts).sort((a, b) => b.length - a.length);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    const pathname = decodeURIComponent(url.pathname);
    const prefix = prefixes.find((p) => pathname.startsWith(p));
    if (!prefix || req.method !== 'GET') { res.writeHead(404).end(); return; }
    const root = path.resolve(mounts[prefix]);
    const file = path.resolve(root, '.' + path.posix.sep + pathname.slice(prefix.length));
    if (file !== root && !file.startsWith(root + path.sep)) { res.writeHead(403).end(); return; }
    fs.stat(file, (err, st) => {
      if (err || !st.isFile()) { res.writeHead(404).end(); return; }
      res.writeHead(200, {
        'content-type': MIME[path.extname(file)] ?? 'application/octet-stream',
        'content-length': st.size,
        'cache-control': 'no-store',
      });
      fs.createReadStream(file).pipe(res);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }),
  };
}
