import { fail } from '../errors.js';
import { readModelFrom } from '../onnx/model.js';
import { LIMITS } from '../io/limits.js';
import { readJsonFrom, type ModelSource } from '../io/source.js';
import { validateConfig } from './config.js';
import type { ModelProto } from '../onnx/proto.js';
import { Graph } from '../graph/graph.js';
import { ModelRunner } from '../attr/runner.js';
import type { SessionOptions } from '../runtime/session.js';
import { TextTokenizer } from './tokenizer.js';
import { architectureFor, type Architecture } from './architectures.js';
import { findEmbeddingsOutput, findWordEmbeddings } from './embeddings.js';

export type { ModelConfig } from './config.js';
import type { ModelConfig } from './config.js';

export interface LoadedModel {
  /** What the user named (a path, URL or Hub id), for reports. */
  name: string;
  config: ModelConfig;
  tokenizer: TextTokenizer;
  onnx: ModelProto;
  runner: ModelRunner;
  arch: Architecture;
  /** False when config.model_type is not in the registry and the graph's inputs decided. */
  knownArchitecture: boolean;
  inputNames: string[];
  outputNames: string[];
  /** The embeddings-layer output (auto-detected, or the override). */
  embeddingsOutput: string;
  /** The word-embedding lookup output (what `inputs_embeds` would be), when found. */
  wordEmbeddings: string | undefined;
  /** Most tokens one input may have. */
  maxLength: number;
}

export interface LoadOptions {
  /** Override the embeddings tensor. */
  layer?: string;
  session?: SessionOptions;
  /** The model's name in reports (default: the source's label). */
  name?: string;
}

/** Quantized and half-precision variants transformers.js repos ship next to the fp32 onnx/model.onnx. */
const VARIANTS = ['model_quantized.onnx', 'model_int8.onnx', 'model_uint8.onnx', 'model_fp16.onnx', 'model_q4.onnx', 'model_q4f16.onnx', 'model_bnb4.onnx'];

/**
 * Loads a transformers.js-style model folder (config.json, tokenizer.json, onnx/model.onnx) from any model source:
 * a folder on disk (io/folder.ts), files picked in a page, a URL, the Hub.
 */
export async function loadModelFromSource(source: ModelSource, options: LoadOptions = {}): Promise<LoadedModel> {
  const name = options.name ?? source.label;
  const onnxName = await findOnnx(source);
  const config = (await source.has('config.json'))
    ? validateConfig(await readJsonFrom(source, 'config.json', LIMITS.configJson), `config.json of ${name}`)
    : validateConfig({}, 'config.json');
  const tokenizer = await TextTokenizer.fromSource(source);
  const onnx = await readModelFrom(source, onnxName);
  const graph = new Graph(onnx);
  const inputNames = graph.inputNames();
  const { arch, known } = architectureFor(config.model_type, inputNames);
  const embeddingsOutput = options.layer ?? findEmbeddingsOutput(graph);
  if (options.layer && !graph.producer.has(options.layer)) fail(`--layer ${options.layer} is not a tensor computed by the graph (gradlens inspect --tensors lists them)`);
  const wordEmbeddings = findWordEmbeddings(graph);
  const positions = (config.max_position_embeddings ?? tokenizer.modelMaxLength) - arch.positionOffset;
  if (!(positions >= 2)) fail(`config.json of ${name}: max_position_embeddings ${config.max_position_embeddings} leaves ${positions} positions for ${arch.modelType}`);
  return {
    name,
    config,
    tokenizer,
    onnx,
    runner: new ModelRunner(onnx, options.session, [embeddingsOutput, ...(wordEmbeddings ? [wordEmbeddings] : [])]),
    arch,
    knownArchitecture: known,
    inputNames,
    outputNames: graph.outputNames(),
    embeddingsOutput,
    wordEmbeddings,
    maxLength: Math.min(positions, tokenizer.modelMaxLength),
  };
}

/** The fp32 ONNX file of a model folder (its name in the folder); a clear error for folders with only quantized variants. */
async function findOnnx(source: ModelSource): Promise<string> {
  for (const candidate of ['onnx/model.onnx', 'model.onnx']) if (await source.has(candidate)) return candidate;
  let others = (await source.list?.('onnx').catch(() => undefined))?.filter((f) => f.endsWith('.onnx'));
  if (others === undefined) {
    // A source that cannot list (a URL): ask for the variants transformers.js repos ship.
    others = [];
    for (const v of VARIANTS) if (await source.has(`onnx/${v}`)) others.push(v);
  }
  others.sort();
  if (others.length > 0) {
    fail(`${source.label} has only ${others.join(', ')}: gradlens differentiates the fp32 onnx/model.onnx (quantized graphs are not differentiable); export or download that file`);
  }
  fail(`${source.label} has no onnx/model.onnx (a transformers.js-style model folder has config.json, tokenizer.json and onnx/model.onnx)`);
}
