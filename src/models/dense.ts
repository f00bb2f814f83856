/**
 * Image and tabular models: a transformers.js image-classification folder (config.json id2label,
 * preprocessor_config.json, onnx/model.onnx) or a bare ONNX file with its settings given by the caller. The model
 * reads one float tensor (pixel_values [batch, 3, H, W] or [batch, H, W, 3]; features [batch, F]) and writes class
 * scores [batch, classes] (or [batch] / [batch, 1] for one regression output).
 */
import { fail } from '../errors.js';
import { LIMITS } from '../io/limits.js';
import { readJsonFrom, type ModelSource } from '../io/source.js';
import { readModelFrom } from '../onnx/model.js';
import type { ModelProto } from '../onnx/proto.js';
import { onnx } from '../onnx/proto.js';
import { Graph } from '../graph/graph.js';
import { attrInts } from '../onnx/attributes.js';
import { tensorValues } from '../onnx/tensor.js';
import { declaredDims, type Dim } from '../graph/dims.js';
import { ModelRunner } from '../attr/runner.js';
import type { SessionOptions } from '../runtime/session.js';
import { imageProcessorFromConfig, type ImageProcessor } from './image.js';

export type DenseKind = 'image' | 'tabular';

export interface DenseModel {
  kind: DenseKind;
  name: string;
  onnx: ModelProto;
  graph: Graph;
  runner: ModelRunner;
  /** The attributed float input, its declared dims, and the explained output. */
  input: string;
  inputDims: Dim[];
  output: string;
  /** Class names by output index, when known (config.json id2label, labels.txt, --labels). */
  labels?: string[];
  /** Images: how pixel_values are made, the layout, and the spatial size the model requires (null: any). */
  processor?: ImageProcessor;
  layout?: 'nchw' | 'nhwc';
  requiredSize?: { height: number | null; width: number | null };
  /** Tabular: the feature names, in input order, and where they came from (default: f0, f1, …). */
  features?: string[];
  featureSource?: 'given' | 'features.json' | 'default';
}

export interface DenseLoadOptions {
  /** The ONNX file inside the source (default: onnx/model.onnx or model.onnx). */
  onnxName?: string;
  labels?: string[];
  /** Images without preprocessor_config.json (or overriding it): resize to this size, normalise with mean/std. */
  size?: { height: number; width: number };
  mean?: [number, number, number];
  std?: [number, number, number];
  /** Tabular: feature names (default: features.json in the folder, else f0, f1, …). */
  features?: string[];
  /** Extra tensors the runner may be asked for (grad-cam's layer). */
  layers?: string[];
  session?: SessionOptions;
  name?: string;
}

const FLOAT_TYPES = new Set([onnx.TensorProto.DataType.FLOAT, onnx.TensorProto.DataType.DOUBLE, onnx.TensorProto.DataType.FLOAT16]);

function declared(model: ModelProto, name: string, side: 'input' | 'output'): { dims: Dim[] | null; elemType: number | undefined } {
  const v = model.graph?.[side]?.find((o) => o.name === name);
  const t = v?.type?.tensorType;
  const dims = t?.shape?.dim ? declaredDims(t.shape.dim) : null;
  return { dims, elemType: t?.elemType ?? undefined };
}

const fmtDims = (dims: Dim[] | null) => (dims ? `[${dims.map((d) => d ?? '?').join(', ')}]` : 'an undeclared shape');

/** The ONNX file of a folder: onnx/model.onnx, else model.onnx (quantized-only folders refused as for text models). */
async function onnxFileOf(source: ModelSource): Promise<string> {
  for (const c of ['onnx/model.onnx', 'model.onnx']) if (await source.has(c)) return c;
  const others = ((await source.list?.('onnx').catch(() => undefined)) ?? []).filter((f) => f.endsWith('.onnx')).sort();
  if (others.length > 0) fail(`${source.label} has only ${others.join(', ')}: gradlens differentiates the fp32 onnx/model.onnx (quantized graphs are not differentiable); export or download that file`);
  fail(`${source.label} has no onnx/model.onnx or model.onnx`);
}

/** Labels by index from config.json's id2label ({"0": "cat", …}). */
function labelsFromConfig(raw: Record<string, unknown>, what: string): string[] | undefined {
  const m = raw['id2label'];
  if (m === undefined) return undefined;
  if (!m || typeof m !== 'object' || Array.isArray(m)) fail(`${what}: id2label must be an object of index → label`);
  const entries = Object.entries(m as Record<string, unknown>);
  if (entries.length > 1_000_000) fail(`${what}: id2label has more than a million labels`);
  const out: string[] = [];
  for (const [k, v] of entries) {
    if (!/^\d{1,7}$/.test(k) || typeof v !== 'string') fail(`${what}: id2label entries must map an index to a label, got ${JSON.stringify(k).slice(0, 40)}`);
    out[Number(k)] = v;
  }
  for (let i = 0; i < out.length; i++) if (out[i] === undefined) fail(`${what}: id2label has no label for index ${i}`);
  return out;
}

/** One label per non-empty line. */
export function parseLabelLines(text: string): string[] {
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
}

async function readJsonValue(source: ModelSource, name: string): Promise<unknown> {
  try {
    return JSON.parse(await readText(source, name));
  } catch (e) {
    if (e instanceof SyntaxError) fail(`${name} of ${source.label} is not valid JSON`);
    throw e;
  }
}

async function readText(source: ModelSource, name: string): Promise<string> {
  return new TextDecoder('utf-8', { fatal: false }).decode(await source.read(name, LIMITS.configJson, name));
}

/** Loads an image or tabular model from a source (a folder, or the folder of a bare ONNX file). */
export async function loadDenseFromSource(source: ModelSource, kind: DenseKind, options: DenseLoadOptions = {}): Promise<DenseModel> {
  const name = options.name ?? source.label;
  const onnxName = options.onnxName ?? await onnxFileOf(source);
  const model = await readModelFrom(source, onnxName);
  const graph = new Graph(model);
  const config = options.onnxName === undefined && await source.has('config.json') ? await readJsonFrom(source, 'config.json', LIMITS.configJson) : undefined;
  let labels = options.labels ?? (config ? labelsFromConfig(config, `config.json of ${name}`) : undefined);
  if (!labels && await source.has('labels.txt')) labels = parseLabelLines(await readText(source, 'labels.txt'));

  const floatInputs = graph.inputNames().filter((n) => FLOAT_TYPES.has(declared(model, n, 'input').elemType ?? -1));
  const preferred = kind === 'image' ? 'pixel_values' : 'input';
  const input = floatInputs.includes(preferred) ? preferred : floatInputs[0];
  if (!input) fail(`${name}: the model has no float input (inputs: ${graph.inputNames().join(', ')}); an ${kind} model reads a float tensor`);
  if (graph.inputNames().length > 1) {
    fail(`${name}: the model has ${graph.inputNames().length} inputs (${graph.inputNames().join(', ')}); explain ${kind} explains models with one ${kind === 'image' ? 'image' : 'feature-vector'} input`);
  }
  const { dims, elemType } = declared(model, input, 'input');
  if (elemType !== onnx.TensorProto.DataType.FLOAT) fail(`${name}: input ${input} is not float32; gradlens explains fp32 models`);
  const outputs = graph.outputNames();
  const output = outputs.includes('logits') ? 'logits' : outputs[0]!;
  const outDims = declared(model, output, 'output').dims;
  if (outDims && (outDims.length < 1 || outDims.length > 2)) fail(`${name}: output ${output} has shape ${fmtDims(outDims)}; explain ${kind} explains scores [batch, classes]`);

  const base: DenseModel = {
    kind, name, onnx: model, graph, input, inputDims: dims ?? [], output, ...(labels ? { labels } : {}),
    runner: new ModelRunner(model, options.session, options.layers ?? []),
  };
  if (kind === 'image') {
    if (!dims || dims.length !== 4) fail(`${name}: input ${input} has shape ${fmtDims(dims)}, not an image batch [batch, 3, height, width] or [batch, height, width, 3]`);
    const layout = dims[1] === 3 || (dims[3] !== 3 && typeof dims[1] !== 'number') ? 'nchw' : dims[3] === 3 ? 'nhwc' : undefined;
    if (!layout) fail(`${name}: input ${input} has shape ${fmtDims(dims)}: neither [batch, 3, height, width] nor [batch, height, width, 3] (RGB images)`);
    const [h, w] = layout === 'nchw' ? [dims[2], dims[3]] : [dims[1], dims[2]];
    const requiredSize = { height: typeof h === 'number' ? h : null, width: typeof w === 'number' ? w : null };
    let processor: ImageProcessor | undefined;
    if (options.onnxName === undefined && await source.has('preprocessor_config.json')) {
      processor = imageProcessorFromConfig(await readJsonFrom(source, 'preprocessor_config.json', LIMITS.configJson), `preprocessor_config.json of ${name}`);
    }
    // A --size the model cannot take is refused before any image is resized to it.
    if (options.size && ((requiredSize.height !== null && requiredSize.height !== options.size.height) || (requiredSize.width !== null && requiredSize.width !== options.size.width))) {
      fail(`${name} takes ${requiredSize.height ?? 'any'}×${requiredSize.width ?? 'any'} images, not --size ${options.size.height}x${options.size.width}`);
    }
    const size = options.size ?? (requiredSize.height && requiredSize.width ? { height: requiredSize.height, width: requiredSize.width } : undefined);
    if (!processor) {
      if (!size) fail(`${name}: no preprocessor_config.json and the model's input size is not fixed (${fmtDims(dims)}): give --size HxW`);
      processor = { resize: size, resample: 2, rescale: 1 / 255, ...(options.mean ? { mean: options.mean } : {}), ...(options.std ? { std: options.std } : {}), source: '--size/--mean/--std' };
    } else {
      if (options.size) processor = { ...processor, resize: options.size, crop: undefined };
      if (options.mean) processor = { ...processor, mean: options.mean, std: processor.std ?? [1, 1, 1] };
      if (options.std) processor = { ...processor, std: options.std, mean: processor.mean ?? [0, 0, 0] };
    }
    return { ...base, processor, layout, requiredSize };
  }
  if (!dims || dims.length !== 2) fail(`${name}: input ${input} has shape ${fmtDims(dims)}, not a feature vector batch [batch, features]`);
  const count = typeof dims[1] === 'number' ? dims[1] : undefined;
  let features = options.features;
  let featureSource: DenseModel['featureSource'] = 'given';
  if (!features && options.onnxName === undefined && await source.has('features.json')) {
    features = featureNames(await readJsonValue(source, 'features.json'), 'features.json');
    featureSource = 'features.json';
  }
  if (features && count !== undefined && features.length !== count) fail(`${name}: ${features.length} feature names for an input of ${count} features`);
  if (!features) {
    if (count === undefined) fail(`${name}: the number of features of input ${input} is not fixed (${fmtDims(dims)}): give --features names.json`);
    features = Array.from({ length: count }, (_, i) => `f${i}`);
    featureSource = 'default';
  }
  return { ...base, features, featureSource };
}

/** Feature names: a JSON list of distinct non-empty strings. */
export function featureNames(raw: unknown, what: string): string[] {
  if (!Array.isArray(raw) || raw.length === 0 || !raw.every((f) => typeof f === 'string' && f.length > 0 && f.length <= 200)) fail(`${what} must be a JSON list of feature names (non-empty strings)`);
  if (new Set(raw).size !== raw.length) fail(`${what} names a feature twice`);
  return raw as string[];
}

/**
 * The last spatial layer of a CNN, for Grad-CAM: the input of the last global pooling (GlobalAveragePool,
 * GlobalMaxPool, or ReduceMean over the spatial axes), i.e. the final feature map.
 */
export function findSpatialLayer(graph: Graph): string | undefined {
  let found: string | undefined;
  for (const n of graph.nodes) {
    if (n.opType === 'GlobalAveragePool' || n.opType === 'GlobalMaxPool') found = n.input?.[0];
    else if (n.opType === 'ReduceMean' || n.opType === 'ReduceMax') {
      const init = n.input?.[1] ? graph.initializers.get(n.input[1]) : undefined;
      const axes = attrInts(n, 'axes') ?? (init ? tensorValues(init) : undefined);
      if (axes && axes.length === 2 && axes.every((a) => a === 2 || a === 3 || a === -1 || a === -2)) found = n.input?.[0];
    }
  }
  return found;
}
