import { writeFileSync, existsSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { ConfinedFolder, LIMITS, formatBytes, readRegularFile } from '../io/files.js';
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

export interface ReadModelOptions {
  /**
   * The folder external data must stay inside (default: the model file's folder). loadModel passes the model folder
   * (or, for the Hub cache, the repository's cache folder, whose snapshot files link into its blobs/).
   */
  root?: string;
}

/**
 * Reads a model file; tensors stored as external data (`model.onnx_data`) are loaded inline. The file must be a
 * regular file of at most 2 GiB, and so must the model once its external data is inlined (ONNX Runtime reads the
 * model from one protobuf message).
 */
export function readModelFile(path: string, options: ReadModelOptions = {}): ModelProto {
  const abs = resolve(path);
  const base = dirname(abs);
  let bytes: Uint8Array;
  let folder: ConfinedFolder;
  if (options.root !== undefined) {
    folder = new ConfinedFolder(options.root, base);
    bytes = folder.read(basename(abs), LIMITS.model, basename(abs));
  } else {
    // A path the user named: it may be a link; its external data stays in its folder.
    if (!existsSync(abs)) fail(`model file not found: ${path}`);
    bytes = readRegularFile(abs, LIMITS.model, path);
    folder = new ConfinedFolder(base);
  }
  const model = decodeModel(bytes, path);
  inlineExternalData(model, folder, bytes.length);
  return model;
}

export function writeModelFile(path: string, model: ModelProto): void {
  try {
    writeFileSync(path, encodeModel(model));
  } catch (e) {
    fail(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/**
 * Moves every external tensor's bytes into rawData so the model is self-contained in memory, including tensors of
 * subgraphs (If/Loop/Scan bodies) and sparse tensors. Locations are resolved in `folder` (relative to the model
 * file's folder, never the current directory) and must stay inside it; each tensor's declared range is read, and
 * must match the bytes its type and shape need.
 */
export function inlineExternalData(model: ModelProto, folder: ConfinedFolder | string, modelBytes = 0): void {
  const dir = typeof folder === 'string' ? new ConfinedFolder(folder) : folder;
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
    tensor.rawData = dir.read(location, LIMITS.model, `${what}: external data ${JSON.stringify(location)}`, { offset, length });
    tensor.externalData = [];
    // Unset (not DEFAULT) so the field is not written: the model encodes as if stored inline from the start.
    Reflect.deleteProperty(tensor, 'dataLocation');
  }
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
