// Rewrites a TFLite flatbuffer WITHOUT re-serialising it: a new root `Model`
// table (plus whatever new objects an edit needs) is written as a header in
// front of the untouched original bytes.
//
// Why this works: flatbuffer offsets are unsigned and relative, so every
// reference points forward. The original tables, vectors and weight buffers
// keep their relative layout when the whole file is shifted back by the header
// size, and the new header can reference them with forward offsets. The old
// root offset / "TFL3" identifier at the start of the original become dead
// bytes. The header is padded to a multiple of 16 so the original's 16-byte
// aligned weight buffers stay aligned (TFLite/XNNPACK rely on that for mmap).
//
// Why not decode + re-encode everything: the models are 0.2–2.5 MB of weights
// and a full object API for schema.fbs would be a large hand-written (or
// flatc-generated) dependency. This keeps the edit to ~1 KB and guarantees the
// weights are bit-identical.

import {
  Table, Model, SubGraph, Tensor, Operator, OperatorCode, Buffer, Metadata,
  TFLITE_IDENTIFIER, fileIdentifier,
} from './tflite-schema.mjs';
import { flatbuffers, int32Vector, alignedByteVector, table } from './flatbuffer-util.mjs';

export const HEADER_ALIGN = 16;

/**
 * @typedef {object} NewTensor
 * @property {string} name
 * @property {number[]} shape
 * @property {number} type      tflite TensorType
 * @property {number} [buffer]  index into Model.buffers (0 = no data)
 *
 * @typedef {object} NewOperator
 * @property {number} opcodeIndex
 * @property {number[]} inputs
 * @property {number[]} outputs
 * @property {number} optionsType                 BuiltinOptions union type
 * @property {(b: flatbuffers.Builder) => number} options  builds the options table
 *
 * @typedef {object} EditPlan
 * @property {Uint8Array[]} [buffers]                         appended to Model.buffers
 * @property {{name: string, buffer: number}[]} [metadata]    appended to Model.metadata
 * @property {{builtinCode: number, version?: number}[]} [operatorCodes] appended
 * @property {{tensors?: NewTensor[], operators?: NewOperator[], outputs?: number[]}} [subgraph0]
 */

/**
 * Returns a new model: `[new header][zero pad to 16][original bytes]`.
 * @param {Uint8Array} original
 * @param {EditPlan} plan
 */
export function rewriteModel(original, plan) {
  if (fileIdentifier(original) !== TFLITE_IDENTIFIER) {
    throw new Error(`not a TFLite flatbuffer (identifier ${JSON.stringify(fileIdentifier(original))})`);
  }
  const model = Table.root(original);
  assertKnownFields(model, Model.NUM_FIELDS, 'Model');
  if (plan.subgraph0) {
    const sg = model.tables(Model.subgraphs)[0];
    assertKnownFields(sg, SubGraph.NUM_FIELDS, 'SubGraph');
    if (plan.subgraph0.outputs && model.vectorLength(Model.signatureDefs) > 0) {
      // Signature defs name output tensors; changing outputs would make them stale.
      throw new Error('changing outputs of a model with signature_defs is not supported');
    }
  }

  // The header's own size decides where the original lands, and references
  // into the original depend on that. The size does not depend on the
  // reference values, so build once to measure, then again with real values.
  const measured = buildHeader(model, plan, { size: 0, shift: 0 });
  const size = measured.length;
  const shift = Math.ceil(size / HEADER_ALIGN) * HEADER_ALIGN;
  const header = buildHeader(model, plan, { size, shift });
  if (header.length !== size) throw new Error('header size changed between passes');

  const out = new Uint8Array(shift + original.length);
  out.set(header, 0);
  out.set(original, shift);
  return out;
}

/** Fails loudly if a table uses fields this writer would silently drop. */
function assertKnownFields(t, numKnown, what) {
  const vtable = t.pos - t.bb.readInt32(t.pos);
  const numFields = (t.bb.readUint16(vtable) - 4) / 2;
  for (let id = numKnown; id < numFields; id++) {
    if (t.has(id)) throw new Error(`${what} has field #${id} unknown to this rewriter`);
  }
}

function buildHeader(model, plan, { size, shift }) {
  const b = new flatbuffers.Builder(4096);

  // A field writer for a reference to `oldPos` in the original file. The
  // builder writes back-to-front, so the slot's final position is
  // `size - (offset-from-end after the write)`.
  const ref = (oldPos) => (bb) => {
    bb.prep(4, 0);
    const at = size - (bb.offset() + 4);
    bb.addInt32(shift + oldPos - at);
  };
  const refField = (t, id) => (t.has(id) ? ref(t.target(id)) : null);
  // Vector whose elements are either existing tables ({old: pos}) or new ones ({new: offset}).
  const mixedVector = (items) => {
    b.startVector(4, items.length, 4);
    for (let i = items.length - 1; i >= 0; i--) {
      if (items[i].old !== undefined) ref(items[i].old)(b);
      else b.addOffset(items[i].new);
    }
    return b.endVector();
  };
  const olds = (t, id) => t.tables(id).map((x) => ({ old: x.pos }));

  // --- new leaf objects (flatbuffers forbids building them inside a table) ---
  const newBuffers = (plan.buffers ?? []).map((data) =>
    table(b, Buffer.NUM_FIELDS, [[Buffer.data, 'offset', alignedByteVector(b, data, 16)]]));

  const newMetadata = (plan.metadata ?? []).map(({ name, buffer }) =>
    table(b, Metadata.NUM_FIELDS, [
      [Metadata.name, 'offset', b.createString(name)],
      [Metadata.buffer, 'uint32', buffer],
    ]));

  const newOpcodes = (plan.operatorCodes ?? []).map(({ builtinCode, version = 1 }) =>
    table(b, OperatorCode.NUM_FIELDS, [
      // Old readers only look at the byte; codes < 127 fit in it.
      [OperatorCode.deprecatedBuiltinCode, 'int8', Math.min(builtinCode, 127)],
      [OperatorCode.version, 'int32', version],
      [OperatorCode.builtinCode, 'int32', builtinCode],
    ]));

  let subgraphsField = refField(model, Model.subgraphs);
  if (plan.subgraph0) {
    const [sg0, ...rest] = model.tables(Model.subgraphs);
    const edit = plan.subgraph0;
    const tensors = (edit.tensors ?? []).map((t) => {
      const shape = int32Vector(b, t.shape);
      const name = b.createString(t.name);
      return table(b, Tensor.NUM_FIELDS, [
        [Tensor.shape, 'offset', shape],
        [Tensor.type, 'int8', t.type],
        [Tensor.buffer, 'uint32', t.buffer ?? 0],
        [Tensor.name, 'offset', name],
      ]);
    });
    const operators = (edit.operators ?? []).map((op) => {
      const inputs = int32Vector(b, op.inputs);
      const outputs = int32Vector(b, op.outputs);
      const options = op.options(b);
      return table(b, Operator.NUM_FIELDS, [
        [Operator.opcodeIndex, 'uint32', op.opcodeIndex],
        [Operator.inputs, 'offset', inputs],
        [Operator.outputs, 'offset', outputs],
        [Operator.builtinOptionsType, 'int8', op.optionsType],
        [Operator.builtinOptions, 'offset', options],
      ]);
    });
    const tensorVec = mixedVector([...olds(sg0, SubGraph.tensors), ...tensors.map((o) => ({ new: o }))]);
    const opVec = mixedVector([...olds(sg0, SubGraph.operators), ...operators.map((o) => ({ new: o }))]);
    const outputsVec = edit.outputs ? int32Vector(b, edit.outputs) : null;
    const newSg0 = table(b, SubGraph.NUM_FIELDS, [
      [SubGraph.tensors, 'offset', tensorVec],
      [SubGraph.inputs, 'raw', refField(sg0, SubGraph.inputs)],
      outputsVec
        ? [SubGraph.outputs, 'offset', outputsVec]
        : [SubGraph.outputs, 'raw', refField(sg0, SubGraph.outputs)],
      [SubGraph.operators, 'offset', opVec],
      [SubGraph.name, 'raw', refField(sg0, SubGraph.name)],
    ]);
    const sgVec = mixedVector([{ new: newSg0 }, ...rest.map((t) => ({ old: t.pos }))]);
    subgraphsField = (bb) => bb.addOffset(sgVec);
  }

  const opcodesVec = newOpcodes.length
    ? mixedVector([...olds(model, Model.operatorCodes), ...newOpcodes.map((o) => ({ new: o }))])
    : null;
  const buffersVec = mixedVector([...olds(model, Model.buffers), ...newBuffers.map((o) => ({ new: o }))]);
  const metadataVec = mixedVector([...olds(model, Model.metadata), ...newMetadata.map((o) => ({ new: o }))]);

  const root = table(b, Model.NUM_FIELDS, [
    [Model.version, 'uint32', model.uint32(Model.version, 0)],
    opcodesVec
      ? [Model.operatorCodes, 'offset', opcodesVec]
      : [Model.operatorCodes, 'raw', refField(model, Model.operatorCodes)],
    [Model.subgraphs, 'raw', subgraphsField],
    [Model.description, 'raw', refField(model, Model.description)],
    [Model.buffers, 'offset', buffersVec],
    [Model.metadataBuffer, 'raw', refField(model, Model.metadataBuffer)],
    [Model.metadata, 'offset', metadataVec],
    [Model.signatureDefs, 'raw', refField(model, Model.signatureDefs)],
  ]);
  b.finish(root, TFLITE_IDENTIFIER);
  return b.asUint8Array().slice();
}

/** Counts and name lookups a caller needs to plan an edit. */
export function inspectModel(bytes) {
  const model = Table.root(bytes);
  const sg0 = model.tables(Model.subgraphs)[0];
  const tensors = sg0.tables(SubGraph.tensors);
  const opcodes = model.tables(Model.operatorCodes).map((c) =>
    Math.max(c.int8(OperatorCode.deprecatedBuiltinCode), c.int32(OperatorCode.builtinCode)));
  return {
    model,
    bufferCount: model.vectorLength(Model.buffers),
    tensorCount: tensors.length,
    opcodes,
    inputs: sg0.int32s(SubGraph.inputs),
    outputs: sg0.int32s(SubGraph.outputs),
    tensor(name) {
      const i = tensors.findIndex((t) => t.string(Tensor.name) === name);
      if (i < 0) throw new Error(`tensor ${name} not found`);
      return { index: i, shape: tensors[i].int32s(Tensor.shape), type: tensors[i].int8(Tensor.type) };
    },
    tensorAt(i) {
      return { index: i, name: tensors[i].string(Tensor.name), shape: tensors[i].int32s(Tensor.shape) };
    },
  };
}
