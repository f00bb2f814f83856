import { LIMITS } from '../io/limits.js';
import { formatBytes } from '../units.js';
import { confinedName, type ModelSource } from '../io/source.js';
import { onnx, type ModelProto, type TensorProto } from './proto.js';
import { fail } from '../errors.js';
import { elementBytes } from './tensor.js';

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
  return concatBytes(parts);
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
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

/** One tensor whose bytes live in an external file: where, which range, and how to name it in errors. */
export interface ExternalData {
  tensor: onnx.TensorProto;
  location: string;
  offset: number;
  length: number;
  what: string;
}

/**
 * The external-data tensors of a model (subgraphs of If/Loop/Scan and sparse tensors included), each with its
 * declared range checked: integers, the length its type and shape need, and the whole model (with its `modelBytes`)
 * at most 2 GiB. The locations are as written in the model (relative to the model file's folder).
 */
export function externalData(model: ModelProto, modelBytes = 0): ExternalData[] {
  const out: ExternalData[] = [];
  let total = modelBytes;
  for (const tensor of allTensors(model)) {
    if (tensor.dataLocation !== EXTERNAL) continue;
    const what = `tensor ${JSON.stringify(tensor.name ?? '')}`;
    const info = new Map<string, string>();
    for (const e of tensor.externalData ?? []) if (typeof e.key === 'string' && typeof e.value === 'string') info.set(e.key, e.value);
    const location = info.get('location');
    if (!location) fail(`${what} has external data without a location`);
    const offset = nonNegativeInt(info.get('offset') ?? '0', `${what}: external data offset`);
    const expected = expectedBytes(tensor);
    const declared = info.has('length') ? nonNegativeInt(info.get('length')!, `${what}: external data length`) : undefined;
    if (declared !== undefined && expected !== undefined && declared !== expected) fail(`${what}: external data length ${declared} does not match its type and shape (${expected} bytes)`);
    const length = declared ?? expected;
    if (length === undefined) fail(`${what}: external data without a length, and its type has no fixed size`);
    total += length;
    if (total > LIMITS.model) fail(`the model with its external data is more than ${formatBytes(LIMITS.model)} (at ${what}); ONNX Runtime reads a model from one protobuf message, limited to 2 GiB`);
    out.push({ tensor, location, offset, length, what: `${what}: external data ${JSON.stringify(location)}` });
  }
  return out;
}

/** Puts an external tensor's bytes inline, so the model encodes as if stored inline from the start. */
export function setInline(entry: ExternalData, bytes: Uint8Array): void {
  entry.tensor.rawData = bytes;
  entry.tensor.externalData = [];
  // Unset (not DEFAULT) so the field is not written.
  Reflect.deleteProperty(entry.tensor, 'dataLocation');
}

/**
 * Reads an ONNX file from a model source (`name` relative to the folder), with its external data inlined from the
 * same source: locations are resolved against the model file's folder and must stay inside the model folder. The
 * file, and the model with its external data, must be at most 2 GiB (ONNX Runtime reads one protobuf message).
 */
export async function readModelFrom(source: ModelSource, name: string): Promise<ModelProto> {
  const bytes = await source.read(name, LIMITS.model, name);
  const model = decodeModel(bytes, `${name} of ${source.label}`);
  const dir = name.includes('/') ? name.slice(0, name.lastIndexOf('/')) : '';
  for (const entry of externalData(model, bytes.length)) {
    const location = confinedName(entry.location, dir, `${entry.what} in ${source.label}`);
    setInline(entry, await source.read(location, LIMITS.model, entry.what, { offset: entry.offset, length: entry.length }));
  }
  return model;
}

function nonNegativeInt(text: string, what: string): number {
  if (!/^\d{1,16}$/.test(text) || !Number.isSafeInteger(Number(text))) fail(`${what} is not a non-negative integer: ${JSON.stringify(text.slice(0, 40))}`);
  return Number(text);
}

function expectedBytes(t: onnx.TensorProto): number | undefined {
  const size = elementBytes(t.dataType ?? 0);
  if (size === undefined) return undefined;
  let n = size;
  for (const d of t.dims ?? []) {
    const v = Number(d);
    if (!Number.isSafeInteger(v) || v < 0) fail(`tensor ${JSON.stringify(t.name ?? '')} has an invalid dimension ${String(d)}`);
    n *= v;
    if (n > LIMITS.model) return n;
  }
  return n;
}

/** Every tensor of the model: initializers, sparse initializers, tensor attributes, in the graph and its subgraphs. */
function* allTensors(model: ModelProto): Generator<onnx.TensorProto> {
  const seen = new Set<unknown>();
  function* graphTensors(graph: onnx.GraphProto.$Properties | null | undefined, depth: number): Generator<onnx.TensorProto> {
    if (!graph || seen.has(graph)) return;
    if (depth > 64) fail('the model nests subgraphs more than 64 deep');
    seen.add(graph);
    for (const t of graph.initializer ?? []) yield t as onnx.TensorProto;
    for (const s of graph.sparseInitializer ?? []) yield* sparse(s);
    for (const node of graph.node ?? []) {
      for (const a of node.attribute ?? []) {
        if (a.t) yield a.t as onnx.TensorProto;
        for (const t of a.tensors ?? []) yield t as onnx.TensorProto;
        if (a.sparseTensor) yield* sparse(a.sparseTensor);
        for (const s of a.sparseTensors ?? []) yield* sparse(s);
        yield* graphTensors(a.g, depth + 1);
        for (const g of a.graphs ?? []) yield* graphTensors(g, depth + 1);
      }
    }
  }
  function* sparse(s: onnx.SparseTensorProto.$Properties): Generator<onnx.TensorProto> {
    if (s.values) yield s.values as onnx.TensorProto;
    if (s.indices) yield s.indices as onnx.TensorProto;
  }
  yield* graphTensors(model.graph, 0);
  for (const f of model.functions ?? []) for (const node of f.node ?? []) for (const a of node.attribute ?? []) if (a.t) yield a.t as onnx.TensorProto;
}

/** The opset version of a domain ('' = the default ONNX domain), or undefined when the model does not import it. */
export function opsetVersion(model: ModelProto, domain = ''): number | undefined {
  const entry = model.opsetImport.find((o) => (o.domain ?? '') === domain || (domain === '' && o.domain === 'ai.onnx'));
  return entry ? Number(entry.version) : undefined;
}

export type { TensorProto };
