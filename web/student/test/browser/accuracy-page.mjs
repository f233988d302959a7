// Page for test/detection-accuracy.test.mjs: forwards calls to the accuracy
// worker. The Node test drives it through `window.vigilAccuracy`.

import { workerCaller } from './face-tasks.mjs';

const call = workerCaller(new Worker(new URL('./accuracy-worker.mjs', import.meta.url), { type: 'module' }));

window.vigilAccuracy = {
  init: (opts) => call('init', opts),
  detect: (url, width, height) => call('detect', { url, width, height }),
};
window.vigilReady = true;
