// Builds a TFLite-support `ModelMetadata` flatbuffer (identifier "M001") and
// attaches it to a model the way the official metadata populator does: as an
// extra entry in Model.buffers, referenced from Model.metadata under the name
// "TFLITE_METADATA".
//
// Why: MediaPipe Tasks reads input preprocessing from this metadata. The
// legacy MediaPipe Solutions models we ship have none, and Tasks refuses a
// float32 image input without NormalizationOptions ("requires specifying
// NormalizationOptions metadata to preprocess input images").

import {
  ModelMetadata, SubGraphMetadata, TensorMetadata, Content, ContentProperties,
  ImageProperties, ColorSpaceType, ProcessUnit, ProcessUnitOptions,
  NormalizationOptions, Stats, METADATA_IDENTIFIER, METADATA_NAME,
} from './tflite-schema.mjs';
import { flatbuffers, float32Vector, offsetVector, table } from './flatbuffer-util.mjs';
import { rewriteModel, inspectModel } from './tflite-rewrite.mjs';

/**
 * Oldest metadata-parser version that understands everything we write.
 * Tasks rejects metadata whose min_parser_version is newer than its parser.
 */
const MIN_PARSER_VERSION = '1.0.0';

/**
 * @typedef {object} ImageInputSpec
 * @property {string} name
 * @property {string} [description]
 * @property {number[]} mean   per-channel (or one value for all) — (x - mean) / std
 * @property {number[]} std
 * @property {number[]} min    expected range after normalisation (Stats.min)
 * @property {number[]} max
 *
 * @typedef {object} MetadataSpec
 * @property {string} name
 * @property {string} description
 * @property {string} [version]
 * @property {string} [author]
 * @property {string} [license]
 * @property {ImageInputSpec} input        the (single) RGB image input
 * @property {{name: string, description?: string}[]} outputs  one per model output, in order
 */

/** @param {MetadataSpec} spec @returns {Uint8Array} a finished "M001" flatbuffer */
export function buildModelMetadata(spec) {
  const b = new flatbuffers.Builder(1024);
  const str = (s) => (s == null ? null : b.createString(s));

  // Input tensor: RGB image + normalisation + value range.
  const imageProps = table(b, ImageProperties.NUM_FIELDS, [
    [ImageProperties.colorSpace, 'int8', ColorSpaceType.RGB],
  ]);
  const content = table(b, Content.NUM_FIELDS, [
    [Content.contentPropertiesType, 'int8', ContentProperties.ImageProperties],
    [Content.contentProperties, 'offset', imageProps],
  ]);
  const mean = float32Vector(b, spec.input.mean);
  const std = float32Vector(b, spec.input.std);
  const norm = table(b, NormalizationOptions.NUM_FIELDS, [
    [NormalizationOptions.mean, 'offset', mean],
    [NormalizationOptions.std, 'offset', std],
  ]);
  const unit = table(b, ProcessUnit.NUM_FIELDS, [
    [ProcessUnit.optionsType, 'int8', ProcessUnitOptions.NormalizationOptions],
    [ProcessUnit.options, 'offset', norm],
  ]);
  const units = offsetVector(b, [unit]);
  const statsMax = float32Vector(b, spec.input.max);
  const statsMin = float32Vector(b, spec.input.min);
  const stats = table(b, Stats.NUM_FIELDS, [
    [Stats.max, 'offset', statsMax],
    [Stats.min, 'offset', statsMin],
  ]);
  const inName = str(spec.input.name);
  const inDesc = str(spec.input.description);
  const input = table(b, TensorMetadata.NUM_FIELDS, [
    [TensorMetadata.name, 'offset', inName],
    [TensorMetadata.description, 'offset', inDesc],
    [TensorMetadata.content, 'offset', content],
    [TensorMetadata.processUnits, 'offset', units],
    [TensorMetadata.stats, 'offset', stats],
  ]);

  // Outputs: names only. The schema asks for one entry per subgraph output.
  const outputs = spec.outputs.map((o) => {
    const name = str(o.name);
    const desc = str(o.description);
    return table(b, TensorMetadata.NUM_FIELDS, [
      [TensorMetadata.name, 'offset', name],
      [TensorMetadata.description, 'offset', desc],
    ]);
  });

  const inputsVec = offsetVector(b, [input]);
  const outputsVec = offsetVector(b, outputs);
  const subgraph = table(b, SubGraphMetadata.NUM_FIELDS, [
    [SubGraphMetadata.inputTensorMetadata, 'offset', inputsVec],
    [SubGraphMetadata.outputTensorMetadata, 'offset', outputsVec],
  ]);
  const subgraphs = offsetVector(b, [subgraph]);
  const fields = {
    name: str(spec.name), description: str(spec.description), version: str(spec.version),
    author: str(spec.author), license: str(spec.license), minParser: str(MIN_PARSER_VERSION),
  };
  const root = table(b, ModelMetadata.NUM_FIELDS, [
    [ModelMetadata.name, 'offset', fields.name],
    [ModelMetadata.description, 'offset', fields.description],
    [ModelMetadata.version, 'offset', fields.version],
    [ModelMetadata.subgraphMetadata, 'offset', subgraphs],
    [ModelMetadata.author, 'offset', fields.author],
    [ModelMetadata.license, 'offset', fields.license],
    [ModelMetadata.minParserVersion, 'offset', fields.minParser],
  ]);
  b.finish(root, METADATA_IDENTIFIER);
  return b.asUint8Array().slice();
}

/**
 * Returns `model` with `spec` attached as TFLITE_METADATA. `graphEdit` (an
 * EditPlan from tflite-rewrite.mjs, e.g. appended ops) is applied in the same
 * rewrite; its buffers come first, the metadata buffer last.
 * @param {Uint8Array} model
 * @param {MetadataSpec} spec
 * @param {import('./tflite-rewrite.mjs').EditPlan} [graphEdit]
 */
export function attachMetadata(model, spec, graphEdit = {}) {
  const info = inspectModel(model);
  const expectedOutputs = graphEdit.subgraph0?.outputs?.length ?? info.outputs.length;
  if (spec.outputs.length !== expectedOutputs) {
    throw new Error(`metadata lists ${spec.outputs.length} outputs, model has ${expectedOutputs}`);
  }
  const extraBuffers = graphEdit.buffers ?? [];
  const metadataBufferIndex = info.bufferCount + extraBuffers.length;
  return rewriteModel(model, {
    ...graphEdit,
    buffers: [...extraBuffers, buildModelMetadata(spec)],
    metadata: [...(graphEdit.metadata ?? []), { name: METADATA_NAME, buffer: metadataBufferIndex }],
  });
}
