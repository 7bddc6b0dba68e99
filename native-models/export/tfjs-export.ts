/**
 * A LayersModel as the standard TF.js "layers-model" files: model.json
 * (topology + weights manifest) and weight shards of at most 4 MiB named
 * group1-shardNofM.bin, exactly what tfjs-converter and model.save('file://')
 * write, so tf.loadLayersModel reads them with tfjs-node's file:// handler,
 * an http handler or any IOHandler that follows the manifest's paths.
 */
import * as tf from '@tensorflow/tfjs';

/** tfjs's own default shard size. */
export const SHARD_BYTES = 4 * 1024 * 1024;

export interface TfjsFiles {
  files: { name: string; bytes: Uint8Array }[];
}

/** Captures what model.save produces, without writing anything. */
async function capture(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let artifacts: tf.io.ModelArtifacts | null = null;
  await model.save({
    async save(a: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    },
  });
  if (artifacts == null) throw new Error('model.save produced no artifacts');
  return artifacts;
}

/**
 * model.json + shards. `metadata` goes to model.json's userDefinedMetadata
 * (plain values, no patient data).
 */
export async function exportTfjs(model: tf.LayersModel, metadata: Record<string, unknown> = {}): Promise<TfjsFiles> {
  const a = await capture(model);
  if (a.modelTopology == null || a.modelTopology instanceof ArrayBuffer) throw new Error('the model has no JSON topology');
  const weights = a.weightData == null ? new Uint8Array(0) : new Uint8Array(tf.io.CompositeArrayBuffer.join(a.weightData));
  const count = Math.max(1, Math.ceil(weights.byteLength / SHARD_BYTES));
  const shards: { name: string; bytes: Uint8Array }[] = [];
  for (let i = 0; i < count; i++) {
    shards.push({ name: `group1-shard${i + 1}of${count}.bin`, bytes: weights.slice(i * SHARD_BYTES, Math.min(weights.byteLength, (i + 1) * SHARD_BYTES)) });
  }
  const modelJson: tf.io.ModelJSON = {
    modelTopology: a.modelTopology,
    format: 'layers-model',
    generatedBy: `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
    convertedBy: null,
    weightsManifest: [{ paths: shards.map((s) => s.name), weights: a.weightSpecs ?? [] }],
    userDefinedMetadata: metadata as Record<string, never>,
  };
  return { files: [{ name: 'model.json', bytes: new TextEncoder().encode(JSON.stringify(modelJson)) }, ...shards] };
}
