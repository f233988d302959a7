// Minimal, hand-written view of the TFLite (`schema.fbs`, identifier "TFL3")
// and TFLite-metadata (`metadata_schema.fbs`, identifier "M001") flatbuffer
// schemas: just the field slots and enum values the model-preparation scripts
// touch. We do not generate code with `flatc` because that would add a native
// toolchain to the build; the npm `flatbuffers` runtime plus these constants
// are enough.
//
// Field ids are the 0-based declaration order of a table's fields; a union
// field occupies two ids (the `_type` byte first, then the value offset).

import * as flatbuffers from 'flatbuffers';

/** tflite::Model */
export const Model = Object.freeze({
  version: 0,
  operatorCodes: 1,
  subgraphs: 2,
  description: 3,
  buffers: 4,
  metadataBuffer: 5,
  metadata: 6,
  signatureDefs: 7,
  NUM_FIELDS: 8,
});

/** tflite::SubGraph */
export const SubGraph = Object.freeze({
  tensors: 0, inputs: 1, outputs: 2, operators: 3, name: 4, NUM_FIELDS: 5,
});

/** tflite::Tensor */
export const Tensor = Object.freeze({
  shape: 0, type: 1, buffer: 2, name: 3, quantization: 4, NUM_FIELDS: 5,
});

/** tflite::Operator (only the fields we write for new ops). */
export const Operator = Object.freeze({
  opcodeIndex: 0, inputs: 1, outputs: 2, builtinOptionsType: 3, builtinOptions: 4, NUM_FIELDS: 5,
});

/** tflite::OperatorCode */
export const OperatorCode = Object.freeze({
  deprecatedBuiltinCode: 0, customCode: 1, version: 2, builtinCode: 3, NUM_FIELDS: 4,
});

/** tflite::Buffer */
export const Buffer = Object.freeze({ data: 0, offset: 1, size: 2, NUM_FIELDS: 3 });

/** tflite::Metadata */
export const Metadata = Object.freeze({ name: 0, buffer: 1, NUM_FIELDS: 2 });

/** tflite::TensorType */
export const TensorType = Object.freeze({ FLOAT32: 0, INT32: 2 });

/** tflite::BuiltinOperator (subset). */
export const BuiltinOperator = Object.freeze({ CONCATENATION: 2, RESHAPE: 22, GATHER: 36, MEAN: 40 });

/** tflite::BuiltinOptions union member indices (1-based declaration order). */
export const BuiltinOptions = Object.freeze({
  ConcatenationOptions: 10, ReshapeOptions: 17, GatherOptions: 23, ReducerOptions: 27,
});

/** Option tables of the ops we append. */
export const ConcatenationOptions = Object.freeze({ axis: 0, fusedActivationFunction: 1, NUM_FIELDS: 2 });
export const ReshapeOptions = Object.freeze({ newShape: 0, NUM_FIELDS: 1 });
export const GatherOptions = Object.freeze({ axis: 0, batchDims: 1, NUM_FIELDS: 2 });
export const ReducerOptions = Object.freeze({ keepDims: 0, NUM_FIELDS: 1 });

// ---- metadata_schema.fbs (tflite metadata, "M001") ----

export const ModelMetadata = Object.freeze({
  name: 0, description: 1, version: 2, subgraphMetadata: 3, author: 4, license: 5,
  associatedFiles: 6, minParserVersion: 7, NUM_FIELDS: 8,
});
export const SubGraphMetadata = Object.freeze({
  name: 0, description: 1, inputTensorMetadata: 2, outputTensorMetadata: 3, NUM_FIELDS: 4,
});
export const TensorMetadata = Object.freeze({
  name: 0, description: 1, dimensionNames: 2, content: 3, processUnits: 4, stats: 5, NUM_FIELDS: 6,
});
export const Content = Object.freeze({ contentPropertiesType: 0, contentProperties: 1, range: 2, NUM_FIELDS: 3 });
/** ContentProperties union member indices. */
export const ContentProperties = Object.freeze({ FeatureProperties: 1, ImageProperties: 2 });
export const ImageProperties = Object.freeze({ colorSpace: 0, defaultSize: 1, NUM_FIELDS: 2 });
export const ColorSpaceType = Object.freeze({ RGB: 1 });
export const ProcessUnit = Object.freeze({ optionsType: 0, options: 1, NUM_FIELDS: 2 });
/** ProcessUnitOptions union member indices. */
export const ProcessUnitOptions = Object.freeze({ NormalizationOptions: 1 });
export const NormalizationOptions = Object.freeze({ mean: 0, std: 1, NUM_FIELDS: 2 });
export const Stats = Object.freeze({ max: 0, min: 1, NUM_FIELDS: 2 });

export const TFLITE_IDENTIFIER = 'TFL3';
export const METADATA_IDENTIFIER = 'M001';
/** Name under which TFLite-support / MediaPipe look up the metadata buffer. */
export const METADATA_NAME = 'TFLITE_METADATA';

/**
 * Read-only accessor for one flatbuffer table at an absolute position.
 * All "position" values are absolute byte offsets into the buffer, which is
 * what the rewriting code needs (it re-points new tables at old objects).
 */
export class Table {
  /** @param {flatbuffers.ByteBuffer} bb @param {number} pos */
  constructor(bb, pos) {
    this.bb = bb;
    this.pos = pos;
  }

  /** Root table of a finished flatbuffer. */
  static root(bytes) {
    const bb = bytes instanceof flatbuffers.ByteBuffer ? bytes : new flatbuffers.ByteBuffer(bytes);
    return new Table(bb, bb.readUint32(bb.position()) + bb.position());
  }

  /** Absolute position of field `id`'s inline value, or 0 if absent. */
  fieldPos(id) {
    const rel = this.bb.__offset(this.pos, 4 + 2 * id);
    return rel ? this.pos + rel : 0;
  }

  has(id) { return this.fieldPos(id) !== 0; }

  uint8(id, def = 0) { const p = this.fieldPos(id); return p ? this.bb.readUint8(p) : def; }
  int8(id, def = 0) { const p = this.fieldPos(id); return p ? this.bb.readInt8(p) : def; }
  int32(id, def = 0) { const p = this.fieldPos(id); return p ? this.bb.readInt32(p) : def; }
  uint32(id, def = 0) { const p = this.fieldPos(id); return p ? this.bb.readUint32(p) : def; }

  /** Absolute position of the object (table, vector or string) a field points to, or null. */
  target(id) {
    const p = this.fieldPos(id);
    return p ? p + this.bb.readUint32(p) : null;
  }

  table(id) { const t = this.target(id); return t === null ? null : new Table(this.bb, t); }

  string(id) {
    const t = this.target(id);
    if (t === null) return null;
    const len = this.bb.readUint32(t);
    return new TextDecoder().decode(this.bb.bytes().subarray(t + 4, t + 4 + len));
  }

  /** Length of a vector field (0 if absent). */
  vectorLength(id) {
    const t = this.target(id);
    return t === null ? 0 : this.bb.readUint32(t);
  }

  /** Absolute position of element 0 of a vector field. */
  vectorStart(id) {
    const t = this.target(id);
    return t === null ? null : t + 4;
  }

  /** Tables of a vector-of-tables field. */
  tables(id) {
    const start = this.vectorStart(id);
    if (start === null) return [];
    const out = [];
    for (let i = 0; i < this.vectorLength(id); i++) {
      const p = start + 4 * i;
      out.push(new Table(this.bb, p + this.bb.readUint32(p)));
    }
    return out;
  }

  int32s(id) {
    const start = this.vectorStart(id);
    const out = [];
    for (let i = 0; i < this.vectorLength(id); i++) out.push(this.bb.readInt32(start + 4 * i));
    return out;
  }

  float32s(id) {
    const start = this.vectorStart(id);
    const out = [];
    for (let i = 0; i < this.vectorLength(id); i++) out.push(this.bb.readFloat32(start + 4 * i));
    return out;
  }

  /** Bytes of a [ubyte] vector field (a view, not a copy). */
  bytes(id) {
    const start = this.vectorStart(id);
    return start === null ? new Uint8Array(0) : this.bb.bytes().subarray(start, start + this.vectorLength(id));
  }
}

/** The 4-character file identifier of a finished flatbuffer (bytes 4..8). */
export function fileIdentifier(bytes) {
  return String.fromCharCode(...bytes.subarray(4, 8));
}
