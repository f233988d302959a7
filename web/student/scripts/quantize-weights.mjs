// Re-encodes a tfjs graph model's float16 weights as uint8, tensor by
// tensor, at build time: the phone detector's weights are the largest
// download of a first visit, and one byte a weight instead of two takes
// them from 2.9 to 1.7 MB on the wire (brotli).
//
// Written here rather than taken from tfjs-converter's `--quantize_uint8`:
// that converter is a Python package built on TensorFlow (hundreds of MB to
// install) that starts from a SavedModel, and we only have the published
// tfjs model. The format is tfjs's own: a weight entry's
// `quantization: {dtype: 'uint8', min, scale}` is decoded by tfjs-core
// (io_utils decodeWeights) as `value = byte * scale + min`.
//
// One scale per tensor suits ordinary and pointwise convolutions. It does
// not suit depthwise kernels, whose channels differ in range by orders of
// magnitude (a known trait of MobileNet), nor, in this CenterNet, the
// expansion convolutions: with those in uint8 the detector lost the phones
// it had found (measured on test/objects-model.test.mjs's photos). So the
// caller names the tensors that stay float16; the test checks that the
// uint8 model finds what the float16 one finds.

export class QuantizeWeightsError extends Error {
  constructor(message) {
    super(message);
    this.name = 'QuantizeWeightsError';
  }
}

/** IEEE 754 half precision to a number. */
export function float16ToNumber(h) {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

const BYTES_PER_VALUE = { float32: 4, int32: 4, bool: 1 };

/** Bytes a weight entry takes in the weights file. */
function storedBytes(spec) {
  const count = spec.shape.reduce((a, b) => a * b, 1);
  const q = spec.quantization?.dtype;
  if (q === 'float16' || q === 'uint16') return { count, bytes: 2 * count };
  if (q === 'uint8') return { count, bytes: count };
  if (q !== undefined) throw new QuantizeWeightsError(`${spec.name}: unknown quantization ${q}`);
  const per = BYTES_PER_VALUE[spec.dtype];
  if (per === undefined) throw new QuantizeWeightsError(`${spec.name}: cannot size dtype ${spec.dtype}`);
  return { count, bytes: per * count };
}

/**
 * @param {object} modelJson  a tfjs graph model's model.json, one weights group
 * @param {Buffer} weights    that group's weights, concatenated as its manifest lists them
 * @param {{keepFloat16: RegExp, minCount?: number}} options
 *   keepFloat16: names of float16 tensors to leave as they are;
 *   minCount: tensors with fewer values stay float16 too (a scalar or a bias saves nothing)
 * @returns {{modelJson: object, weights: Buffer, quantized: number, kept: number}}
 *   a new model.json (same paths) and weights file; counts of tensors
 */
export function quantizeFloat16ToUint8(modelJson, weights, { keepFloat16, minCount = 256 }) {
  const groups = modelJson.weightsManifest ?? [];
  if (groups.length !== 1) throw new QuantizeWeightsError(`expected one weights group, found ${groups.length}`);
  const specs = groups[0].weights ?? [];
  const parts = [];
  const outSpecs = [];
  let offset = 0;
  let quantized = 0;
  let kept = 0;
  for (const spec of specs) {
    const { count, bytes } = storedBytes(spec);
    if (offset + bytes > weights.length) throw new QuantizeWeightsError(`${spec.name}: the weights file ends early`);
    const stored = weights.subarray(offset, offset + bytes);
    offset += bytes;
    const isFloat16 = spec.dtype === 'float32' && spec.quantization?.dtype === 'float16';
    if (!isFloat16 || count < minCount || keepFloat16.test(spec.name)) {
      parts.push(stored);
      outSpecs.push(spec);
      if (isFloat16) kept++;
      continue;
    }
    const values = new Float64Array(count);
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < count; i++) {
      const v = float16ToNumber(stored.readUInt16LE(2 * i));
      if (!Number.isFinite(v)) throw new QuantizeWeightsError(`${spec.name}: value ${i} is ${v}`);
      values[i] = v;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    // A constant tensor gets scale 1, so every byte is 0 and decodes to min.
    const scale = max > min ? (max - min) / 255 : 1;
    const bytesOut = Buffer.alloc(count);
    for (let i = 0; i < count; i++) bytesOut[i] = Math.round((values[i] - min) / scale);
    parts.push(bytesOut);
    outSpecs.push({ name: spec.name, shape: spec.shape, dtype: 'float32', quantization: { dtype: 'uint8', min, scale, original_dtype: 'float32' } });
    quantized++;
  }
  if (offset !== weights.length) throw new QuantizeWeightsError(`the manifest accounts for ${offset} of ${weights.length} bytes`);
  return {
    modelJson: { ...modelJson, weightsManifest: [{ ...groups[0], weights: outSpecs }] },
    weights: Buffer.concat(parts),
    quantized,
    kept,
  };
}
