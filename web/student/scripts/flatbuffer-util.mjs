// Small helpers on top of the npm `flatbuffers` Builder for the few vector
// kinds the TFLite / metadata writers need. The stock Builder only offers
// `createByteVector` (1-byte alignment) and strings; TFLite wants constant
// tensor data 16-byte aligned (schema: `data:[ubyte] (force_align: 16)`).

import * as flatbuffers from 'flatbuffers';

export { flatbuffers };

/** [int] vector. */
export function int32Vector(b, values) {
  b.startVector(4, values.length, 4);
  for (let i = values.length - 1; i >= 0; i--) b.addInt32(values[i]);
  return b.endVector();
}

/** [float] vector. */
export function float32Vector(b, values) {
  b.startVector(4, values.length, 4);
  for (let i = values.length - 1; i >= 0; i--) b.addFloat32(values[i]);
  return b.endVector();
}

/** [ubyte] vector whose first byte lands on an `align`-byte boundary. */
export function alignedByteVector(b, bytes, align = 16) {
  b.startVector(1, bytes.length, align);
  for (let i = bytes.length - 1; i >= 0; i--) b.addInt8(bytes[i]);
  return b.endVector();
}

/** Vector of offsets to tables/strings already built in `b`. */
export function offsetVector(b, offsets) {
  b.startVector(4, offsets.length, 4);
  for (let i = offsets.length - 1; i >= 0; i--) b.addOffset(offsets[i]);
  return b.endVector();
}

/**
 * Build a table from `[fieldId, kind, value]` triples. Every non-null value is
 * written explicitly (even if it equals the schema default: that is valid and
 * keeps this helper schema-agnostic). Kinds: `offset` (to an object already
 * built in `b`), `int8`, `int32`, `uint32`, and `raw` (value is a function
 * that writes one aligned 4-byte slot itself, used for references to objects
 * outside the builder).
 */
export function table(b, numFields, fields) {
  b.startObject(numFields);
  for (const [id, kind, value] of fields) {
    if (value === undefined || value === null) continue;
    switch (kind) {
      case 'offset': b.addOffset(value); break;
      case 'int32': case 'uint32': b.addInt32(value); break;
      case 'int8': b.addInt8(value); break;
      case 'raw': value(b); break;
      default: throw new Error(`unknown field kind ${kind}`);
    }
    b.slot(id);
  }
  return b.endObject();
}
