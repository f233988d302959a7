// Turns the legacy MediaPipe Solutions "face_landmark_with_attention" model
// into the output layout MediaPipe Tasks' FaceLandmarker expects from
// `face_landmarks_detector.tflite`:
//
//   output 0: [1,1,1,1434]  478 landmarks × (x, y, z) in 192×192 input pixels
//   output 1: [1,1,1,1]     face-presence logit (Tasks applies the sigmoid)
//
// The attention model instead emits seven tensors: a 468-point mesh (x,y,z),
// refined 2D contours for lips (80 pts) and each eye (71 pts), 5 iris points
// per eye, and the face flag. The legacy Solutions graph merged them on the
// CPU ("LandmarksRefinementCalculator"); Tasks only does a plain decode, so we
// do the merge inside the model with a few appended ops:
//
//   V    = CONCATENATION(mesh, lips, left_eye, right_eye, left_iris, right_iris)   [1,1,1,1868]
//   Vf   = RESHAPE(V)                                                              [1868]
//   cz   = GATHER(Vf, eye-contour z indices)                                       [2,16]
//   irz  = MEAN(cz, axis 1)                                                        [2]  iris z
//   V2   = CONCATENATION(Vf, irz)                                                  [1870]
//   out  = GATHER(V2, output index map)                                            [1,1,1,1434]
//
// The index map reproduces the legacy refinement: every mesh point takes its
// mesh (x,y,z); lips/eye points then take their refined (x,y) and keep the
// mesh z; iris points take their (x,y) and z = mean z of that eye's 16 contour
// points. Index tables are copied from MediaPipe's
// tensors_to_face_landmarks_with_attention graph (Apache-2.0).

import {
  BuiltinOperator, BuiltinOptions, TensorType,
  ConcatenationOptions, ReshapeOptions, GatherOptions, ReducerOptions,
} from './tflite-schema.mjs';
import { table, int32Vector } from './flatbuffer-util.mjs';
import { inspectModel } from './tflite-rewrite.mjs';

const MESH_POINTS = 468;
export const OUTPUT_POINTS = 478;

const LIPS = [
  61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 185, 40, 39, 37, 0, 267, 269, 270, 409,
  78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 191, 80, 81, 82, 13, 312, 311, 310, 415,
  76, 77, 90, 180, 85, 16, 315, 404, 320, 307, 306, 184, 74, 73, 72, 11, 302, 303, 304, 408,
  62, 96, 89, 179, 86, 15, 316, 403, 319, 325, 292, 183, 42, 41, 38, 12, 268, 271, 272, 407,
];
const LEFT_EYE = [
  33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173,
  130, 25, 110, 24, 23, 22, 26, 112, 243, 247, 30, 29, 27, 28, 56, 190,
  226, 31, 228, 229, 230, 231, 232, 233, 244, 113, 225, 224, 223, 222, 221, 189,
  35, 124, 46, 53, 52, 65, 143, 111, 117, 118, 119, 120, 121, 128, 245,
  156, 70, 63, 105, 66, 107, 55, 193,
];
const RIGHT_EYE = [
  263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398,
  359, 255, 339, 254, 253, 252, 256, 341, 463, 467, 260, 259, 257, 258, 286, 414,
  446, 261, 448, 449, 450, 451, 452, 453, 464, 342, 445, 444, 443, 442, 441, 413,
  265, 353, 276, 283, 282, 295, 372, 340, 346, 347, 348, 349, 350, 357, 465,
  383, 300, 293, 334, 296, 336, 285, 417,
];
// The first 16 entries of each eye list are the eye contour used for iris z.
const LEFT_EYE_CONTOUR = LEFT_EYE.slice(0, 16);
const RIGHT_EYE_CONTOUR = RIGHT_EYE.slice(0, 16);
const LEFT_IRIS_FIRST = 468;
const RIGHT_IRIS_FIRST = 473;
const IRIS_POINTS = 5;

/** Legacy output tensor names, in the order they are concatenated. */
const PARTS = [
  { name: 'output_mesh_identity', points: MESH_POINTS, dims: 3 },
  { name: 'output_lips', points: LIPS.length, dims: 2, map: LIPS },
  { name: 'output_left_eye', points: LEFT_EYE.length, dims: 2, map: LEFT_EYE },
  { name: 'output_right_eye', points: RIGHT_EYE.length, dims: 2, map: RIGHT_EYE },
  { name: 'output_left_iris', points: IRIS_POINTS, dims: 2, first: LEFT_IRIS_FIRST },
  { name: 'output_right_iris', points: IRIS_POINTS, dims: 2, first: RIGHT_IRIS_FIRST },
];
const FACE_FLAG = 'conv_faceflag';

/** Output index map into V2 (see header) and the eye-contour z indices into Vf. */
export function landmarkIndexTables() {
  const offsets = [];
  let n = 0;
  for (const p of PARTS) { offsets.push(n); n += p.points * p.dims; }
  const irisZ = [n, n + 1]; // where MEAN's two results land in V2

  const out = new Int32Array(OUTPUT_POINTS * 3);
  for (let k = 0; k < MESH_POINTS; k++) for (let c = 0; c < 3; c++) out[3 * k + c] = 3 * k + c;
  PARTS.forEach((p, partIdx) => {
    if (partIdx === 0) return;
    for (let j = 0; j < p.points; j++) {
      const k = p.map ? p.map[j] : p.first + j;
      out[3 * k] = offsets[partIdx] + 2 * j;
      out[3 * k + 1] = offsets[partIdx] + 2 * j + 1;
      if (!p.map) out[3 * k + 2] = irisZ[p.first === LEFT_IRIS_FIRST ? 0 : 1];
    }
  });
  const contourZ = [...LEFT_EYE_CONTOUR, ...RIGHT_EYE_CONTOUR].map((k) => 3 * k + 2);
  return { concatLength: n, out, contourZ };
}

function int32Bytes(values) {
  const bytes = new Uint8Array(values.length * 4);
  const dv = new DataView(bytes.buffer);
  values.forEach((v, i) => dv.setInt32(4 * i, v, true)); // TFLite buffers are little-endian
  return bytes;
}

/**
 * Edit plan (for tflite-rewrite / attachMetadata) that appends the merge ops
 * and makes [landmarks478, faceflag] the model's only outputs.
 * @param {Uint8Array} model  face_landmark_with_attention.tflite
 */
export function planLandmarks478(model) {
  const info = inspectModel(model);
  const parts = PARTS.map((p) => {
    const t = info.tensor(p.name);
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (size !== p.points * p.dims || t.type !== TensorType.FLOAT32) {
      throw new Error(`${p.name}: unexpected shape [${t.shape}] / type ${t.type}`);
    }
    if (t.shape.length !== 4) throw new Error(`${p.name}: expected rank 4, got [${t.shape}]`);
    return t;
  });
  const faceFlag = info.tensor(FACE_FLAG);
  const { concatLength, out, contourZ } = landmarkIndexTables();

  // Operator codes: reuse existing ones, append the missing.
  const operatorCodes = [];
  const opcode = (code) => {
    const i = info.opcodes.indexOf(code);
    if (i >= 0) return i;
    const j = operatorCodes.findIndex((c) => c.builtinCode === code);
    if (j >= 0) return info.opcodes.length + j;
    operatorCodes.push({ builtinCode: code, version: 1 });
    return info.opcodes.length + operatorCodes.length - 1;
  };

  // Constant buffers, appended after the existing ones.
  const buffers = [];
  const constBuffer = (values) => { buffers.push(int32Bytes(values)); return info.bufferCount + buffers.length - 1; };

  // New tensors, appended after the existing ones.
  const tensors = [];
  const tensor = (name, shape, type = TensorType.FLOAT32, buffer = 0) => {
    tensors.push({ name, shape, type, buffer });
    return info.tensorCount + tensors.length - 1;
  };

  const V = tensor('vigil/concat_landmarks', [1, 1, 1, concatLength]);
  const flatShape = tensor('vigil/flat_shape', [1], TensorType.INT32, constBuffer([concatLength]));
  const Vf = tensor('vigil/flat_landmarks', [concatLength]);
  const contourIdx = tensor('vigil/eye_contour_z_index', [2, 16], TensorType.INT32, constBuffer(contourZ));
  const contourZt = tensor('vigil/eye_contour_z', [2, 16]);
  const meanAxis = tensor('vigil/mean_axis', [1], TensorType.INT32, constBuffer([1]));
  const irisZ = tensor('vigil/iris_z', [2]);
  const V2 = tensor('vigil/flat_landmarks_with_iris_z', [concatLength + 2]);
  const outIdx = tensor('vigil/landmarks_478_index', [1, 1, 1, out.length], TensorType.INT32, constBuffer(Array.from(out)));
  const landmarks = tensor('landmarks_478', [1, 1, 1, out.length]);

  // Builtin option tables (the union values of Operator.builtin_options).
  const concatOptions = (axis) => (b) => table(b, ConcatenationOptions.NUM_FIELDS, [
    [ConcatenationOptions.axis, 'int32', axis],
    [ConcatenationOptions.fusedActivationFunction, 'int8', 0],
  ]);
  const reshapeOptions = (shape) => (b) => {
    const v = int32Vector(b, shape);
    return table(b, ReshapeOptions.NUM_FIELDS, [[ReshapeOptions.newShape, 'offset', v]]);
  };
  const gatherOptions = (axis) => (b) => table(b, GatherOptions.NUM_FIELDS, [
    [GatherOptions.axis, 'int32', axis],
    [GatherOptions.batchDims, 'int32', 0],
  ]);
  const reducerOptions = (keepDims) => (b) => table(b, ReducerOptions.NUM_FIELDS, [
    [ReducerOptions.keepDims, 'int8', keepDims ? 1 : 0],
  ]);
  const { CONCATENATION, RESHAPE, GATHER, MEAN } = BuiltinOperator;
  const OPT = BuiltinOptions;

  const operators = [
    { opcodeIndex: opcode(CONCATENATION), inputs: parts.map((p) => p.index), outputs: [V],
      optionsType: OPT.ConcatenationOptions, options: concatOptions(3) },
    { opcodeIndex: opcode(RESHAPE), inputs: [V, flatShape], outputs: [Vf],
      optionsType: OPT.ReshapeOptions, options: reshapeOptions([concatLength]) },
    { opcodeIndex: opcode(GATHER), inputs: [Vf, contourIdx], outputs: [contourZt],
      optionsType: OPT.GatherOptions, options: gatherOptions(0) },
    { opcodeIndex: opcode(MEAN), inputs: [contourZt, meanAxis], outputs: [irisZ],
      optionsType: OPT.ReducerOptions, options: reducerOptions(false) },
    { opcodeIndex: opcode(CONCATENATION), inputs: [Vf, irisZ], outputs: [V2],
      optionsType: OPT.ConcatenationOptions, options: concatOptions(0) },
    { opcodeIndex: opcode(GATHER), inputs: [V2, outIdx], outputs: [landmarks],
      optionsType: OPT.GatherOptions, options: gatherOptions(0) },
  ];

  return {
    operatorCodes,
    buffers,
    subgraph0: { tensors, operators, outputs: [landmarks, faceFlag.index] },
  };
}
