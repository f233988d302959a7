// Unit tests for the model preparation: the flatbuffer header written in
// front of the legacy models, the landmark-graph extension, the packed-assets
// reader and the STORE zip writer. Pure Node; no browser.

import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Buffer } from 'node:buffer';

import {
  Table, Model, SubGraph, Tensor, Buffer as TfBuffer, Metadata, ModelMetadata, SubGraphMetadata,
  TensorMetadata, ProcessUnit, ProcessUnitOptions, NormalizationOptions, Content,
  ContentProperties, ImageProperties, ColorSpaceType, Stats, fileIdentifier,
} from '../scripts/tflite-schema.mjs';
import { buildFaceDetector, buildFaceLandmarksDetector, packageDir } from '../scripts/prepare-models.mjs';
import { landmarkIndexTables, OUTPUT_POINTS } from '../scripts/face-landmarks-graph.mjs';
import { extractPackedAsset, parsePackedAssetsIndex } from '../scripts/packed-assets.mjs';
import { zipStore, crc32 } from '../scripts/zip-store.mjs';

const faceDetectionDir = packageDir('@mediapipe/face_detection');
const faceMeshDir = packageDir('@mediapipe/face_mesh');
const meshData = path.join(faceMeshDir, 'face_mesh_solution_packed_assets.data');
const meshLoader = path.join(faceMeshDir, 'face_mesh_solution_packed_assets_loader.js');

const original = new Uint8Array(fs.readFileSync(path.join(faceDetectionDir, 'face_detection_short_range.tflite')));
const rewritten = buildFaceDetector(faceDetectionDir);

/** Offset at which the untouched original starts inside the rewritten file. */
function headerSize(bytes, orig) {
  for (let p = 0; p <= bytes.length - orig.length; p += 16) {
    if (Buffer.compare(bytes.subarray(p, p + orig.length), orig) === 0) return p;
  }
  return -1;
}

/** Reads the TFLITE_METADATA entry of a model and returns the metadata root table. */
function readMetadata(model) {
  const entries = model.tables(Model.metadata).filter((m) => m.string(Metadata.name) === 'TFLITE_METADATA');
  assert.equal(entries.length, 1, 'exactly one TFLITE_METADATA entry');
  const bufferIndex = entries[0].uint32(Metadata.buffer);
  const buffers = model.tables(Model.buffers);
  assert.ok(bufferIndex < buffers.length, 'metadata buffer index in range');
  const data = buffers[bufferIndex].bytes(TfBuffer.data);
  assert.equal(fileIdentifier(data), 'M001', 'metadata buffer has file identifier M001');
  // Buffer data is `force_align: 16` in the schema; the nested metadata
  // flatbuffer also relies on it for its own alignment.
  assert.equal(data.byteOffset % 16, 0, 'metadata buffer data 16-byte aligned');
  return { root: Table.root(data.slice()), bufferIndex, data };
}

test('face detector: new header in front, original bytes untouched', () => {
  const model = Table.root(rewritten);
  assert.equal(fileIdentifier(rewritten), 'TFL3');
  const shift = headerSize(rewritten, original);
  assert.ok(shift > 0, 'original model found verbatim after the header');
  assert.equal(shift % 16, 0, 'header padded to a multiple of 16 bytes');
  assert.equal(shift, rewritten.length - original.length, 'original is the tail of the file');
  assert.ok(model.pos < shift, 'new root table lives in the header');
  const grown = rewritten.length - original.length;
  assert.ok(grown > 0 && grown < 4096, `file grew by ${grown} bytes (< 4 KB)`);
});

test('face detector: subgraphs and buffers intact, one metadata buffer added', () => {
  const before = Table.root(original);
  const after = Table.root(rewritten);
  assert.equal(after.uint32(Model.version), before.uint32(Model.version));
  assert.equal(after.string(Model.description), before.string(Model.description));
  assert.equal(after.vectorLength(Model.subgraphs), before.vectorLength(Model.subgraphs));
  assert.equal(after.vectorLength(Model.operatorCodes), before.vectorLength(Model.operatorCodes));
  assert.equal(after.vectorLength(Model.buffers), before.vectorLength(Model.buffers) + 1);

  const [sgBefore] = before.tables(Model.subgraphs);
  const [sgAfter] = after.tables(Model.subgraphs);
  assert.deepEqual(sgAfter.int32s(SubGraph.inputs), sgBefore.int32s(SubGraph.inputs));
  assert.deepEqual(sgAfter.int32s(SubGraph.outputs), sgBefore.int32s(SubGraph.outputs));
  assert.equal(sgAfter.vectorLength(SubGraph.tensors), sgBefore.vectorLength(SubGraph.tensors));
  assert.equal(sgAfter.vectorLength(SubGraph.operators), sgBefore.vectorLength(SubGraph.operators));

  // Every old buffer resolves to identical bytes (weights bit-identical).
  const bb = before.tables(Model.buffers);
  const ba = after.tables(Model.buffers);
  for (let i = 0; i < bb.length; i++) {
    assert.deepEqual(ba[i].bytes(TfBuffer.data), bb[i].bytes(TfBuffer.data), `buffer ${i}`);
  }
  const tensors = sgAfter.tables(SubGraph.tensors);
  assert.equal(tensors[sgAfter.int32s(SubGraph.inputs)[0]].string(Tensor.name), 'input');
});

test('face detector: metadata says RGB, mean/std 127.5, stats [-1, 1]', () => {
  const { root, bufferIndex } = readMetadata(Table.root(rewritten));
  assert.equal(bufferIndex, Table.root(original).vectorLength(Model.buffers), 'metadata is the appended buffer');
  assert.equal(root.string(ModelMetadata.minParserVersion), '1.0.0');
  const [sg] = root.tables(ModelMetadata.subgraphMetadata);
  const [input] = sg.tables(SubGraphMetadata.inputTensorMetadata);
  assert.equal(sg.vectorLength(SubGraphMetadata.outputTensorMetadata), 2);

  const content = input.table(TensorMetadata.content);
  assert.equal(content.uint8(Content.contentPropertiesType), ContentProperties.ImageProperties);
  assert.equal(content.table(Content.contentProperties).int8(ImageProperties.colorSpace), ColorSpaceType.RGB);

  const [unit] = input.tables(TensorMetadata.processUnits);
  assert.equal(unit.uint8(ProcessUnit.optionsType), ProcessUnitOptions.NormalizationOptions);
  const norm = unit.table(ProcessUnit.options);
  assert.deepEqual(norm.float32s(NormalizationOptions.mean), [127.5]);
  assert.deepEqual(norm.float32s(NormalizationOptions.std), [127.5]);

  const stats = input.table(TensorMetadata.stats);
  assert.deepEqual(stats.float32s(Stats.min), [-1]);
  assert.deepEqual(stats.float32s(Stats.max), [1]);
});

test('face landmarks detector: outputs [1,1,1,1434] landmarks + presence, [0,1] input', () => {
  const attention = extractPackedAsset(meshData, meshLoader, 'face_landmark_with_attention.tflite');
  const out = buildFaceLandmarksDetector(attention);
  const shift = headerSize(out, attention);
  assert.ok(shift > 0 && shift % 16 === 0, 'original verbatim after a 16-byte aligned header');
  assert.ok(out.length - attention.length < 32 * 1024, 'grew by less than 32 KB');

  const before = Table.root(attention);
  const model = Table.root(out);
  const [sg] = model.tables(Model.subgraphs);
  const tensors = sg.tables(SubGraph.tensors);
  const outputs = sg.int32s(SubGraph.outputs).map((i) => tensors[i]);
  assert.deepEqual(outputs.map((t) => t.int32s(Tensor.shape)), [[1, 1, 1, OUTPUT_POINTS * 3], [1, 1, 1, 1]]);
  assert.equal(outputs[1].string(Tensor.name), 'conv_faceflag');
  // Six ops appended after the original ones; the originals are referenced, not copied.
  const [sgBefore] = before.tables(Model.subgraphs);
  assert.equal(sg.vectorLength(SubGraph.operators), sgBefore.vectorLength(SubGraph.operators) + 6);

  const { root } = readMetadata(model);
  const [sgm] = root.tables(ModelMetadata.subgraphMetadata);
  const [input] = sgm.tables(SubGraphMetadata.inputTensorMetadata);
  const norm = input.tables(TensorMetadata.processUnits)[0].table(ProcessUnit.options);
  assert.deepEqual(norm.float32s(NormalizationOptions.mean), [0]);
  assert.deepEqual(norm.float32s(NormalizationOptions.std), [255]);
});

test('landmark index map reproduces the legacy refinement layout', () => {
  const { concatLength, out, contourZ } = landmarkIndexTables();
  assert.equal(concatLength, 468 * 3 + 80 * 2 + 71 * 2 * 2 + 5 * 2 * 2);
  assert.equal(out.length, 478 * 3);
  assert.ok(out.every((i) => i >= 0 && i < concatLength + 2), 'indices within V2');
  // Point 10 (forehead) is not refined: plain mesh xyz.
  assert.deepEqual([...out.subarray(30, 33)], [30, 31, 32]);
  // Point 61 (mouth corner) is the first lips point: refined xy, mesh z.
  assert.deepEqual([...out.subarray(183, 186)], [1404, 1405, 185]);
  // Point 33 is the first left-eye point; 468 the left iris centre with averaged z.
  assert.deepEqual([...out.subarray(99, 102)], [1564, 1565, 101]);
  assert.deepEqual([...out.subarray(468 * 3, 468 * 3 + 3)], [1848, 1849, concatLength]);
  assert.deepEqual([...out.subarray(473 * 3, 473 * 3 + 3)], [1858, 1859, concatLength + 1]);
  assert.equal(contourZ.length, 32);
  assert.ok(contourZ.every((i) => i % 3 === 2 && i < 1404), 'contour z indices are mesh z values');
});

test('packed assets: index parsed from the loader JS', () => {
  const index = parsePackedAssetsIndex(fs.readFileSync(meshLoader, 'utf8'));
  const names = index.map((f) => path.posix.basename(f.filename));
  assert.ok(names.includes('face_landmark_with_attention.tflite'));
  assert.ok(names.includes('geometry_pipeline_metadata_landmarks.binarypb'));
  const geometry = extractPackedAsset(meshData, meshLoader, 'geometry_pipeline_metadata_landmarks.binarypb');
  assert.ok(geometry.length > 1000);
  const tflite = extractPackedAsset(meshData, meshLoader, 'face_landmark_with_attention.tflite');
  assert.equal(fileIdentifier(tflite), 'TFL3');
  assert.throws(() => extractPackedAsset(meshData, meshLoader, 'nope.tflite'), /0 matches/);
});

test('zip-store: STOREd entries, correct CRCs, 16-byte aligned data', () => {
  const entries = [
    { name: 'a.tflite', data: new Uint8Array([1, 2, 3, 4, 5]) },
    { name: 'bb.binarypb', data: new TextEncoder().encode('hello world') },
  ];
  const zip = zipStore(entries);
  const dv = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const eocd = zip.length - 22;
  assert.equal(dv.getUint32(eocd, true), 0x06054b50);
  assert.equal(dv.getUint16(eocd + 10, true), 2);
  let cd = dv.getUint32(eocd + 16, true);
  for (const e of entries) {
    assert.equal(dv.getUint32(cd, true), 0x02014b50);
    assert.equal(dv.getUint16(cd + 10, true), 0, 'method STORE');
    const nameLen = dv.getUint16(cd + 28, true);
    assert.equal(new TextDecoder().decode(zip.subarray(cd + 46, cd + 46 + nameLen)), e.name);
    const local = dv.getUint32(cd + 42, true);
    assert.equal(dv.getUint32(local, true), 0x04034b50);
    const dataStart = local + 30 + dv.getUint16(local + 26, true) + dv.getUint16(local + 28, true);
    assert.equal(dataStart % 16, 0, 'data aligned');
    assert.deepEqual(zip.subarray(dataStart, dataStart + e.data.length), e.data);
    assert.equal(dv.getUint32(cd + 16, true), crc32(e.data));
    cd += 46 + nameLen;
  }
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926, 'standard CRC-32 check value');
});
