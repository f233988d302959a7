// Page for test/detection-accuracy.test.mjs: forwards calls to the accuracy
// worker. The Node test drives it through `window.vigilAccuracy`.

const worker = new Worker(new URL('./accuracy-worker.mjs', import.meta.url), { type: 'module' });
let nextId = 1;
const pending = new Map();
worker.onmessage = ({ data }) => {
  const p = pending.get(data.id);
  pending.delete(data.id);
  if (data.ok) p.resolve(data.result); else p.reject(new Error(data.error));
};
worker.onerror = (e) => { for (const p of pending.values()) p.reject(new Error(`worker error: ${e.message}`)); };

function call(type, args = {}) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.postMessage({ id, type, ...args });
  });
}

window.vigilAccuracy = {
  init: (opts) => call('init', opts),
  detect: (url, width, height) => call('detect', { url, width, height }),
};
window.vigilReady = true;
