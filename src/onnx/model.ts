import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { onnx, type ModelProto, type TensorProto } from './proto.js';
import { fail } from '../errors.js';

const EXTERNAL = onnx.TensorProto.DataLocation.EXTERNAL;

/** Decodes ONNX ModelProto bytes; a clear error when the bytes are not an ONNX model. */
export function decodeModel(bytes: Uint8Array, label = 'input'): ModelProto {
  let model: ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    fail(`${label} is not a valid ONNX model (${(e as Error).message})`);
  }
  if (!model.graph || model.opsetImport.length === 0) fail(`${label} is not an ONNX model: no graph or no opset import`);
  return model;
}

/**
 * Encodes a ModelProto. Large initializers' raw bytes are not pushed through protobufjs' writer (which copies them
 * byte-wise): the messages are encoded without them and the length-delimited fields are appended, so the weights
 * are copied once. Protobuf parsers accept fields in any order, so the result decodes to the same model.
 */
export function encodeModel(model: ModelProto, largeTensorBytes = 1 << 16): Uint8Array {
  const graph = model.graph as onnx.GraphProto | null | undefined;
  const large = (graph?.initializer ?? []).filter((t) => (t.rawData?.length ?? 0) >= largeTensorBytes);
  if (!graph || large.length === 0) return onnx.ModelProto.encode(model).finish();
  const parts: Uint8Array[] = [];
  const field = (tag: number, body: Uint8Array[]) => {
    const length = body.reduce((n, b) => n + b.length, 0);
    return [Uint8Array.of(tag), varint(length), ...body];
  };
  // Every initializer is appended in its order; the large ones with their raw bytes as a separate piece.
  const tensorParts = graph.initializer.map((t) => {
    if (!large.includes(t)) return field(5 << 3 | 2, [onnx.TensorProto.encode(t).finish()]);
    const raw = t.rawData!;
    Reflect.deleteProperty(t, 'rawData');
    try {
      return field(5 << 3 | 2, [onnx.TensorProto.encode(t).finish(), ...field(9 << 3 | 2, [raw])]);
    } finally {
      t.rawData = raw;
    }
  });
  const graphHead = onnx.GraphProto.encode(onnx.GraphProto.create({ ...graph, initializer: [] })).finish();
  const graphBody = [graphHead, ...tensorParts.flat()];
  const modelHead = onnx.ModelProto.encode(onnx.ModelProto.create({ ...model, graph: undefined })).finish();
  parts.push(modelHead, ...field(7 << 3 | 2, graphBody));
  return Buffer.concat(parts);
}

function varint(n: number): Uint8Array {
  const bytes: number[] = [];
  while (n > 0x7f) {
    bytes.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  bytes.push(n);
  return Uint8Array.from(bytes);
}

/** Reads a model file; tensors stored as external data (`model.onnx_data`) are loaded inline. */
export function readModelFile(path: string): ModelProto {
  if (!existsSync(path)) fail(`model file not found: ${path}`);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    fail(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const model = decodeModel(bytes, path);
  inlineExternalData(model, dirname(path));
  return model;
}

export function writeModelFile(path: string, model: ModelProto): void {
  try {
    writeFileSync(path, encodeModel(model));
  } catch (e) {
    fail(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Moves every external tensor's bytes into rawData so the model is self-contained in memory. */
export function inlineExternalData(model: ModelProto, baseDir: string): void {
  const files = new Map<string, Buffer>();
  for (const tensor of allTensors(model)) {
    if (tensor.dataLocation !== EXTERNAL) continue;
    const info = Object.fromEntries(tensor.externalData.map((e) => [e.key, e.value]));
    const location = info['location'];
    if (!location) fail(`tensor ${tensor.name} has external data without a location`);
    const file = join(baseDir, location);
    if (!files.has(file)) {
      if (!existsSync(file)) fail(`external data file not found: ${file} (needed by tensor ${tensor.name})`);
      files.set(file, readFileSync(file));
    }
    const data = files.get(file)!;
    const offset = Number(info['offset'] ?? 0);
    const length = info['length'] !== undefined ? Number(info['length']) : data.length - offset;
    if (offset + length > data.length) fail(`external data for ${tensor.name} runs past the end of ${file}`);
    tensor.rawData = data.subarray(offset, offset + length);
    tensor.externalData = [];
    // Unset (not DEFAULT) so the field is not written: the model encodes as if stored inline from the start.
    Reflect.deleteProperty(tensor, 'dataLocation');
  }
}

function* allTensors(model: ModelProto): Generator<onnx.TensorProto> {
  const graph = model.graph as onnx.GraphProto;
  for (const t of graph.initializer) yield t as onnx.TensorProto;
  for (const node of graph.node) {
    for (const a of node.attribute ?? []) if (a.t) yield a.t as onnx.TensorProto;
  }
}

/** The opset version of a domain ('' = the default ONNX domain), or undefined when the model does not import it. */
export function opsetVersion(model: ModelProto, domain = ''): number | undefined {
  const entry = model.opsetImport.find((o) => (o.domain ?? '') === domain || (domain === '' && o.domain === 'ai.onnx'));
  return entry ? Number(entry.version) : undefined;
}

export type { TensorProto };
