/**
 * Model export: a checkpoint folder (runs/<id>/best) as TF.js files or an
 * ONNX model, with the input/output specs the model card needs. Pure: the
 * caller (the core, through MlEngine.exportModel) writes the files.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelExportArtifacts, ModelExportFormat, ModelTensorSpec, TrainConfig } from '../../electron/contract/ml';
import { convertToOnnx, ONNX_IR_VERSION } from './onnx-export';
import { exportTfjs } from './tfjs-export';

export { convertToOnnx, samePadding, UnsupportedModelError, ONNX_OPSET, ONNX_IR_VERSION } from './onnx-export';
export { exportTfjs, SHARD_BYTES } from './tfjs-export';

function symSpec(t: tf.SymbolicTensor, name: string): ModelTensorSpec {
  const shape = t.shape.map((d) => (d == null || d < 0 ? null : d));
  return { name, shape, layout: shape.length === 4 ? 'NHWC' : 'NC', dtype: 'float32' };
}

/** Model inputs/outputs as TF.js names them (outputs by their layer's name). */
function specs(model: tf.LayersModel): { inputs: ModelTensorSpec[]; outputs: ModelTensorSpec[] } {
  return {
    inputs: model.inputs.map((t) => symSpec(t, t.sourceLayer?.name ?? t.name)),
    outputs: model.outputs.map((t, i) => symSpec(t, t.sourceLayer?.name ?? `output_${i}`)),
  };
}

/** Checks that the model matches the run's config before anything is written. */
function checkAgainstConfig(model: tf.LayersModel, config: TrainConfig): void {
  const input = model.inputs[0];
  const want = [config.inputSize, config.inputSize, config.channels];
  const got = input?.shape.slice(1);
  if (model.inputs.length !== 1 || JSON.stringify(got) !== JSON.stringify(want)) {
    throw new Error(`the checkpoint's input ${JSON.stringify(input?.shape ?? null)} does not match the run's settings (${want.join('x')})`);
  }
}

/** Exports a loaded model. `producerVersion`: Fovea's version, written into the files. */
export async function exportLoadedModel(
  model: tf.LayersModel,
  config: TrainConfig,
  format: ModelExportFormat,
  options: { producerVersion?: string } = {},
): Promise<ModelExportArtifacts> {
  checkAgainstConfig(model, config);
  const parameters = model.countParams();
  const common = { tfjsVersion: tf.version.tfjs, parameters };
  const meta = { task: config.task, classNames: config.classNames, inputSize: config.inputSize, channels: config.channels, producer: `Fovea ${options.producerVersion ?? ''}`.trim() };
  if (format === 'tfjs') {
    const { files } = await exportTfjs(model, { fovea: meta });
    return { format, files, ...specs(model), onnx: null, ...common };
  }
  const conv = convertToOnnx(model, {
    ...(options.producerVersion ? { producerVersion: options.producerVersion } : {}),
    docString: `Fovea ${config.task} model; input NHWC float32, normalised as the model card says.`,
    metadata: { task: config.task, class_names: JSON.stringify(config.classNames), layout: 'NHWC' },
  });
  const toSpec = (s: { name: string; shape: (number | null)[]; layout: 'NHWC' | 'NC' }): ModelTensorSpec => ({ ...s, dtype: 'float32' });
  return {
    format,
    files: [{ name: 'model.onnx', bytes: conv.bytes }],
    inputs: conv.inputs.map(toSpec),
    outputs: conv.outputs.map(toSpec),
    onnx: { opset: conv.opset, irVersion: ONNX_IR_VERSION, operators: conv.operators },
    ...common,
  };
}
