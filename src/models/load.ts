import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fail } from '../errors.js';
import { readModelFile } from '../onnx/model.js';
import type { ModelProto } from '../onnx/proto.js';
import { Graph } from '../graph/graph.js';
import { ModelRunner } from '../attr/runner.js';
import type { SessionOptions } from '../runtime/session.js';
import { TextTokenizer } from './tokenizer.js';
import { architectureFor, type Architecture } from './architectures.js';
import { findEmbeddingsOutput, findWordEmbeddings } from './embeddings.js';
import { looksLikeHubId, resolveHubModel, type HubOptions } from './hub.js';

/** The parts of config.json gradlens reads. */
export interface ModelConfig {
  model_type?: string;
  architectures?: string[];
  id2label?: Record<string, string>;
  label2id?: Record<string, number>;
  max_position_embeddings?: number;
  problem_type?: string;
  [key: string]: unknown;
}

export interface LoadedModel {
  /** What the user named (a path or Hub id), for reports. */
  name: string;
  dir: string;
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

/** The embedded demo models, shipped with the package (demo-sized, trained on synthetic templates). */
export const DEMO_MODELS = {
  qa: fileURLToPath(new URL('../../../demo/qa', import.meta.url)),
  sentiment: fileURLToPath(new URL('../../../demo/sentiment', import.meta.url)),
} as const;

export interface LoadOptions extends HubOptions {
  /** Override the embeddings tensor. */
  layer?: string;
  session?: SessionOptions;
}

/** Loads a transformers.js-style model folder (config.json, tokenizer.json, onnx/model.onnx) or a Hub id. */
export async function loadModel(spec: string, options: LoadOptions = {}): Promise<LoadedModel> {
  const dir = looksLikeHubId(spec) ? await resolveHubModel(spec, options) : resolve(spec);
  if (!existsSync(dir)) fail(`model folder not found: ${spec}`);
  const onnxPath = findOnnx(dir);
  const configPath = join(dir, 'config.json');
  const config = existsSync(configPath) ? (JSON.parse(readFileSync(configPath, 'utf8')) as ModelConfig) : {};
  const tokenizer = TextTokenizer.fromFolder(dir);
  const onnx = readModelFile(onnxPath);
  const graph = new Graph(onnx);
  const inputNames = graph.inputNames();
  const { arch, known } = architectureFor(config.model_type, inputNames);
  const embeddingsOutput = options.layer ?? findEmbeddingsOutput(graph);
  if (options.layer && !graph.producer.has(options.layer)) fail(`--layer ${options.layer} is not a tensor computed by the graph (gradlens inspect lists them)`);
  const wordEmbeddings = findWordEmbeddings(graph);
  const positions = Number(config.max_position_embeddings ?? tokenizer.modelMaxLength) - arch.positionOffset;
  return {
    name: spec,
    dir,
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

/** The fp32 ONNX file of a model folder; a clear error for folders with only quantized variants. */
function findOnnx(dir: string): string {
  for (const candidate of [join(dir, 'onnx', 'model.onnx'), join(dir, 'model.onnx')]) if (existsSync(candidate)) return candidate;
  const onnxDir = join(dir, 'onnx');
  const others = existsSync(onnxDir) ? readdirSync(onnxDir).filter((f) => f.endsWith('.onnx')) : [];
  if (others.length > 0) {
    fail(`${dir} has only ${others.join(', ')}: gradlens differentiates the fp32 onnx/model.onnx (quantized graphs are not differentiable); export or download that file`);
  }
  fail(`${dir} has no onnx/model.onnx (a transformers.js-style model folder has config.json, tokenizer.json and onnx/model.onnx)`);
}
