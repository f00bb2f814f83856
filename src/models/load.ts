import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fail } from '../errors.js';
import { readModelFile } from '../onnx/model.js';
import { ConfinedFolder, LIMITS } from '../io/files.js';
import { validateConfig } from './config.js';
import type { ModelProto } from '../onnx/proto.js';
import { Graph } from '../graph/graph.js';
import { ModelRunner } from '../attr/runner.js';
import type { SessionOptions } from '../runtime/session.js';
import { TextTokenizer } from './tokenizer.js';
import { architectureFor, type Architecture } from './architectures.js';
import { findEmbeddingsOutput, findWordEmbeddings } from './embeddings.js';
import { looksLikeHubId, resolveHubModel, hubRepoRoot, type HubOptions } from './hub.js';

export type { ModelConfig } from './config.js';
import type { ModelConfig } from './config.js';

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
  // Every file is read through the folder: regular files of bounded size, inside the folder (for a Hub cache
  // snapshot, inside the repository's cache folder, where its links point).
  const folder = new ConfinedFolder(hubRepoRoot(dir) ?? dir, dir, spec);
  const onnxName = findOnnx(folder);
  const config = folder.has('config.json') ? validateConfig(folder.readJson('config.json', LIMITS.configJson), `config.json of ${spec}`) : validateConfig({}, 'config.json');
  const tokenizer = TextTokenizer.fromFolder(folder);
  const onnx = readModelFile(join(dir, onnxName), { root: folder.root });
  const graph = new Graph(onnx);
  const inputNames = graph.inputNames();
  const { arch, known } = architectureFor(config.model_type, inputNames);
  const embeddingsOutput = options.layer ?? findEmbeddingsOutput(graph);
  if (options.layer && !graph.producer.has(options.layer)) fail(`--layer ${options.layer} is not a tensor computed by the graph (gradlens inspect lists them)`);
  const wordEmbeddings = findWordEmbeddings(graph);
  const positions = (config.max_position_embeddings ?? tokenizer.modelMaxLength) - arch.positionOffset;
  if (!(positions >= 2)) fail(`config.json of ${spec}: max_position_embeddings ${config.max_position_embeddings} leaves ${positions} positions for ${arch.modelType}`);
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

/** The fp32 ONNX file of a model folder (its name in the folder); a clear error for folders with only quantized variants. */
function findOnnx(folder: ConfinedFolder): string {
  for (const candidate of ['onnx/model.onnx', 'model.onnx']) if (folder.has(candidate)) return candidate;
  let others: string[] = [];
  if (folder.has('onnx')) {
    try {
      others = readdirSync(join(folder.base, 'onnx')).filter((f) => f.endsWith('.onnx')).sort();
    } catch {
      others = [];
    }
  }
  if (others.length > 0) {
    fail(`${folder.label} has only ${others.join(', ')}: gradlens differentiates the fp32 onnx/model.onnx (quantized graphs are not differentiable); export or download that file`);
  }
  fail(`${folder.label} has no onnx/model.onnx (a transformers.js-style model folder has config.json, tokenizer.json and onnx/model.onnx)`);
}
