/**
 * What an ONNX file declares, read with onnx-proto (the protobuf schema of ONNX): inputs and
 * outputs with element types and shapes, opsets, metadata_props, the operators used and which
 * operator produces each output. Nothing is run. Import uses it to check a model before it is
 * accepted and to recognise its output layout (electron/core/assist/model-layouts.ts).
 */
import { readFile } from 'node:fs/promises';
import onnxProto from 'onnx-proto';
import type { OnnxGraphInfo, OnnxTensorInfo, TensorDim } from '../../electron/contract/assist-engine';

const { onnx } = onnxProto;

const ELEMENT_TYPES: Record<number, string> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
  16: 'bfloat16',
};

function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v && typeof (v as { toNumber?: () => number }).toNumber === 'function') return (v as { toNumber(): number }).toNumber();
  return Number(v);
}

function tensorInfo(vi: onnxProto.onnx.IValueInfoProto): OnnxTensorInfo {
  const t = vi.type?.tensorType;
  const dims: TensorDim[] = (t?.shape?.dim ?? []).map((d) => (d.dimValue !== undefined && d.dimValue !== null && num(d.dimValue) > 0 ? num(d.dimValue) : d.dimParam ? d.dimParam : null));
  return { name: vi.name ?? '', type: ELEMENT_TYPES[t?.elemType ?? 0] ?? `type ${t?.elemType ?? 'unknown'}`, dims };
}

export class OnnxReadError extends Error {
  override readonly name = 'OnnxReadError';
}

/** Declared graph information of ONNX bytes; throws OnnxReadError for a file that is not ONNX. */
export function inspectOnnxBytes(bytes: Uint8Array): OnnxGraphInfo {
  let model: onnxProto.onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new OnnxReadError(`not an ONNX model (${(e as Error).message})`);
  }
  const g = model.graph;
  if (!g || !g.node || g.node.length === 0) throw new OnnxReadError('not an ONNX model: it has no graph');
  // Graph inputs may list initializers too (old exporters): only real inputs count.
  const initializers = new Set((g.initializer ?? []).map((t) => t.name ?? ''));
  const producers: Record<string, string> = {};
  const outputNames = new Set((g.output ?? []).map((o) => o.name ?? ''));
  for (const n of g.node) for (const o of n.output ?? []) if (outputNames.has(o)) producers[o] = n.opType ?? '';
  const metadata: Record<string, string> = {};
  for (const p of model.metadataProps ?? []) if (p.key) metadata[p.key] = p.value ?? '';
  return {
    irVersion: num(model.irVersion),
    opsets: (model.opsetImport ?? []).map((o) => ({ domain: o.domain ?? '', version: num(o.version) })),
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    inputs: (g.input ?? []).filter((i) => !initializers.has(i.name ?? '')).map(tensorInfo),
    outputs: (g.output ?? []).map(tensorInfo),
    metadata,
    operators: [...new Set(g.node.map((n) => n.opType ?? ''))].sort(),
    outputProducers: producers,
  };
}

export async function inspectOnnxFile(path: string): Promise<OnnxGraphInfo> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new OnnxReadError(`cannot read ${path}: ${(e as Error).message}`);
  }
  return inspectOnnxBytes(bytes);
}
