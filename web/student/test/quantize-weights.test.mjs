// scripts/quantize-weights.mjs: what it writes, read back by tfjs-core's own
// weight decoder (the one the page's model loader uses), on the tfjs WASM
// backend in Node.
// Run: node --test test/quantize-weights.test.mjs

import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

import { QuantizeWeightsError, float16ToNumber, quantizeFloat16ToUint8 } from '../scripts/quantize-weights.mjs';

const require = createRequire(import.meta.url);

/** Random float16 bit patterns of ordinary numbers around ±1 (exponents 10…17 of 0…30). */
function float16Tensor(count, seed) {
  let x = seed;
  const next = () => ((x = (x * 1103515245 + 12345) >>> 0) >>> 8);
  const out = Buffer.alloc(2 * count);
  for (let i = 0; i < count; i++) {
    const sign = next() & 1 ? 0x8000 : 0;
    const exponent = 10 + (next() % 8);
    out.writeUInt16LE(sign | (exponent << 10) | (next() & 0x3ff), 2 * i);
  }
  return out;
}

const f16 = (name, shape) => ({ name, shape, dtype: 'float32', quantization: { dtype: 'float16', original_dtype: 'float32' } });

function model(specs) {
  return { format: 'graph-model', modelTopology: {}, weightsManifest: [{ paths: ['w.bin'], weights: specs }] };
}

function decode(json, weights) {
  const specs = json.weightsManifest[0].weights;
  const buffer = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength);
  const tensors = tf.io.decodeWeights(buffer, specs);
  const values = Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, Array.from(t.dataSync())]));
  tf.dispose(Object.values(tensors));
  return values;
}

before(async () => {
  setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + '/');
  await tf.setBackend('wasm');
});

describe('quantizeFloat16ToUint8', () => {
  const specs = [
    f16('conv/weights', [16, 32]),
    { name: 'shape', shape: [3], dtype: 'int32' },
    f16('block/depthwise_weights', [3, 3, 64]),
    f16('bias', [8]),
  ];
  const weights = Buffer.concat([
    float16Tensor(512, 1),
    Buffer.from(new Int32Array([1, -2, 3]).buffer),
    float16Tensor(576, 2),
    float16Tensor(8, 3),
  ]);

  it('writes uint8 that tfjs decodes to within half a step of each float16 value, and leaves the rest as it was', () => {
    const out = quantizeFloat16ToUint8(model(specs), weights, { keepFloat16: /depthwise/ });
    assert.equal(out.quantized, 1);
    assert.equal(out.kept, 2, 'the depthwise kernel by name, the bias by size');
    assert.equal(out.weights.length, 512 + 12 + 2 * 576 + 2 * 8);
    const before = decode(model(specs), weights);
    const after = decode(out.modelJson, out.weights);
    const q = out.modelJson.weightsManifest[0].weights[0].quantization;
    assert.equal(q.dtype, 'uint8');
    let worst = 0;
    for (let i = 0; i < 512; i++) worst = Math.max(worst, Math.abs(after['conv/weights'][i] - before['conv/weights'][i]));
    assert.ok(worst <= q.scale / 2 + 1e-6, `worst error ${worst} > half a step ${q.scale / 2}`);
    assert.ok(worst > 0, 'uint8 cannot hold every float16 value: some error is expected');
    for (const name of ['shape', 'block/depthwise_weights', 'bias']) assert.deepEqual(after[name], before[name], name);
    assert.deepEqual(out.modelJson.weightsManifest[0].weights.slice(1), specs.slice(1));
  });

  it('keeps the smallest and largest values exactly (min and a full scale)', () => {
    const out = quantizeFloat16ToUint8(model(specs), weights, { keepFloat16: /depthwise/ });
    const before = decode(model(specs), weights)['conv/weights'];
    const after = decode(out.modelJson, out.weights)['conv/weights'];
    const lo = before.indexOf(Math.min(...before));
    const hi = before.indexOf(Math.max(...before));
    assert.ok(Math.abs(after[lo] - before[lo]) < 1e-6 && Math.abs(after[hi] - before[hi]) < 1e-5, `${after[lo]} vs ${before[lo]}, ${after[hi]} vs ${before[hi]}`);
  });

  it('a constant tensor decodes to its value', () => {
    const constant = Buffer.alloc(2 * 300);
    for (let i = 0; i < 300; i++) constant.writeUInt16LE(0x3c00, 2 * i); // 1.0
    const out = quantizeFloat16ToUint8(model([f16('c', [300])]), constant, { keepFloat16: /^$/ });
    assert.equal(out.quantized, 1);
    assert.deepEqual(new Set(decode(out.modelJson, out.weights).c), new Set([1]));
  });

  it('refuses weights the manifest does not account for, or that end early, and unknown encodings', () => {
    const refused = (json, bin, what) => assert.throws(() => quantizeFloat16ToUint8(json, bin, { keepFloat16: /^$/ }), QuantizeWeightsError, what);
    refused(model(specs), Buffer.concat([weights, Buffer.alloc(1)]), 'a byte more than the manifest lists');
    refused(model(specs), weights.subarray(0, weights.length - 1), 'a byte short');
    refused(model([{ name: 'x', shape: [4], dtype: 'float32', quantization: { dtype: 'int4' } }]), Buffer.alloc(8), 'unknown quantization');
    refused({ weightsManifest: [] }, Buffer.alloc(0), 'no weights group');
    const inf = Buffer.alloc(2 * 300);
    inf.writeUInt16LE(0x7c00, 0);
    refused(model([f16('inf', [300])]), inf, 'an infinite weight');
  });
});

describe('float16ToNumber', () => {
  it('reads normal, subnormal, signed and special values', () => {
    assert.equal(float16ToNumber(0x3c00), 1);
    assert.equal(float16ToNumber(0xc000), -2);
    assert.equal(float16ToNumber(0x7bff), 65504);
    assert.equal(float16ToNumber(0x0001), 2 ** -24);
    assert.equal(float16ToNumber(0x7c00), Infinity);
    assert.ok(Number.isNaN(float16ToNumber(0x7e00)));
  });
});
