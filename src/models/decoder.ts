// Decoder language models in the transformers.js layout: config.json (gpt2, llama and the Llama family),
// tokenizer.json, tokenizer_config.json, generation_config.json, and either ONNX layout:
//   onnx/decoder_model.onnx — no cache: input_ids, attention_mask (, position_ids) → logits;
//   onnx/model.onnx or onnx/decoder_model_merged.onnx — with cache: past_key_values.{i}.key|value in, present.* out
//   (and use_cache_branch for merged models).
// Attribution runs on the graph without a cache when the folder has one, else on the cached graph with an empty past.
import { fail } from '../errors.js';
import { readModelFrom } from '../onnx/model.js';
import { LIMITS } from '../io/limits.js';
import { readJsonFrom, type ModelSource } from '../io/source.js';
import type { ModelProto, NodeProto } from '../onnx/proto.js';
import { Graph } from '../graph/graph.js';
import { inferShapes } from '../graph/shapes.js';
import { ModelRunner } from '../attr/runner.js';
import { tensor, type HostTensor, type SessionOptions } from '../runtime/session.js';
import { TextTokenizer } from './tokenizer.js';
import { validateConfig, type ModelConfig } from './config.js';

/** The decoder families gradlens knows (they share GPT-2's or Llama's graph). */
export const DECODER_TYPES = ['gpt2', 'llama', 'qwen2', 'mistral', 'smollm'] as const;
const ENCODER_TYPES = new Set(['bert', 'roberta', 'xlm-roberta', 'distilbert', 'albert', 'electra', 'deberta', 'deberta-v2', 'mpnet', 'camembert']);

export interface DecoderGraph {
  onnx: ModelProto;
  runner: ModelRunner;
  /** Past inputs and present outputs by layer (empty without a cache). */
  past: { key: string; value: string }[];
  present: { key: string; value: string }[];
  /** [kv_heads, head_dim] of the cache tensors. */
  cacheDims: [number, number] | undefined;
  inputNames: string[];
  hasPositionIds: boolean;
  useCacheBranch: boolean;
}

export interface DecoderModel {
  name: string;
  config: ModelConfig;
  tokenizer: TextTokenizer;
  /** For attribution (no cache if the folder has that layout) and, when the folder has one, the cached graph. */
  attribution: DecoderGraph;
  cached: DecoderGraph | undefined;
  /** Which files they came from. */
  files: { attribution: string; cached?: string };
  /** The tensor fed to the first block (the embeddings output), in the attribution graph. */
  embeddingsOutput: string;
  bosId: number | undefined;
  eosIds: number[];
  padId: number | undefined;
  /** Most positions the model has. */
  maxPositions: number;
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** eos/bos/pad from generation_config.json, else config.json, else the tokenizer's tokens. */
function specialIds(gen: Record<string, unknown>, config: Record<string, unknown>, key: string): number[] {
  const v = gen[key] ?? config[key];
  if (Array.isArray(v)) return v.filter(isInt);
  return isInt(v) ? [v] : [];
}

/**
 * The tensor fed to the first block: the input of the first normalisation computed from the token ids —
 * LayerNormalization, a decomposed LayerNorm (ReduceMean of x) or RMSNorm (ReduceMean of x², Pow or Mul).
 * For GPT-2 that is wte + wpe; for Llama the embed_tokens lookup.
 */
export function findDecoderEmbeddings(graph: Graph): string {
  if (!graph.inputNames().includes('input_ids')) fail('the graph has no input_ids input');
  const fromIds = new Set(['input_ids']);
  for (const node of graph.nodes) {
    const inputs = (node.input ?? []).filter(Boolean);
    if (!inputs.some((i) => fromIds.has(i))) continue;
    if (node.opType === 'LayerNormalization' || node.opType === 'SimplifiedLayerNormalization') return inputs[0]!;
    if (node.opType === 'ReduceMean') {
      const p: NodeProto | undefined = graph.producer.get(inputs[0]!);
      const squared = p && ((p.opType === 'Pow') || (p.opType === 'Mul' && p.input![0] === p.input![1])) ? p.input![0]! : undefined;
      const x = squared ?? inputs[0]!;
      // Through a Cast to float32 (Llama's RMSNorm casts first).
      const c = graph.producer.get(x);
      return c?.opType === 'Cast' ? c.input![0]! : x;
    }
    for (const o of node.output ?? []) if (o) fromIds.add(o);
  }
  fail('cannot find the tensor fed to the first block (the input of the first LayerNorm or RMSNorm computed from input_ids); pass it with --layer');
}

function decoderGraph(onnx: ModelProto, session: SessionOptions | undefined, fetchable: string[]): DecoderGraph {
  const graph = new Graph(onnx);
  const inputNames = graph.inputNames();
  const outputs = graph.outputNames();
  if (!inputNames.includes('input_ids')) fail('the decoder graph has no input_ids input');
  if (!outputs.includes('logits')) fail(`the graph has no logits output (outputs: ${outputs.join(', ')}): explain generate needs a language model head`);
  const past: DecoderGraph['past'] = [];
  const present: DecoderGraph['present'] = [];
  for (let i = 0; inputNames.includes(`past_key_values.${i}.key`); i++) {
    past.push({ key: `past_key_values.${i}.key`, value: `past_key_values.${i}.value` });
    if (!inputNames.includes(past[i]!.value)) fail(`the graph has past_key_values.${i}.key but no past_key_values.${i}.value`);
    present.push({ key: `present.${i}.key`, value: `present.${i}.value` });
    if (!outputs.includes(present[i]!.key) || !outputs.includes(present[i]!.value)) fail(`the graph takes past_key_values.${i} but has no present.${i}.key/value outputs`);
  }
  let cacheDims: [number, number] | undefined;
  if (past.length) {
    const shape = inferShapes(graph).get(past[0]!.key)?.shape ?? null;
    const [kv, hd] = [shape?.[1], shape?.[3]];
    if (typeof kv !== 'number' || typeof hd !== 'number') fail(`cannot read the [kv_heads, head_dim] of ${past[0]!.key} from the graph`);
    cacheDims = [kv, hd];
  }
  const known = new Set(['input_ids', 'attention_mask', 'position_ids', 'use_cache_branch', ...past.flatMap((p) => [p.key, p.value])]);
  const unknown = inputNames.filter((n) => !known.has(n));
  if (unknown.length) fail(`the decoder takes inputs gradlens does not know how to fill: ${unknown.join(', ')}`);
  return {
    onnx, runner: new ModelRunner(onnx, session, fetchable), past, present, cacheDims, inputNames,
    hasPositionIds: inputNames.includes('position_ids'), useCacheBranch: inputNames.includes('use_cache_branch'),
  };
}

/** Loads a decoder folder; an encoder, or a folder without a decoder layout, is one clear refusal. */
export async function loadDecoderFromSource(source: ModelSource, options: { layer?: string; session?: SessionOptions; name?: string } = {}): Promise<DecoderModel> {
  const name = options.name ?? source.label;
  if (!(await source.has('config.json'))) fail(`${name} has no config.json (a decoder folder has config.json, tokenizer.json and onnx/decoder_model.onnx or onnx/model.onnx)`);
  const raw = await readJsonFrom(source, 'config.json', LIMITS.configJson);
  const config = validateConfig(raw, `config.json of ${name}`);
  const type = config.model_type;
  if (type && ENCODER_TYPES.has(type)) fail(`${name} is an encoder (model_type ${type}): explain generate needs a decoder language model (gpt2, llama, qwen2, mistral)`);
  const gen = (await source.has('generation_config.json')) ? await readJsonFrom(source, 'generation_config.json', LIMITS.configJson) : {};
  const tokenizer = await TextTokenizer.fromSource(source);
  const files: DecoderModel['files'] = { attribution: '' };
  let cachedName: string | undefined;
  for (const f of ['onnx/model.onnx', 'onnx/decoder_model_merged.onnx', 'onnx/decoder_with_past_model.onnx']) if (!cachedName && (await source.has(f))) cachedName = f;
  const plainName = (await source.has('onnx/decoder_model.onnx')) ? 'onnx/decoder_model.onnx' : undefined;
  if (!plainName && !cachedName) fail(`${name} has neither onnx/decoder_model.onnx nor onnx/model.onnx (or decoder_model_merged.onnx)`);
  const plainOnnx = plainName ? await readModelFrom(source, plainName) : undefined;
  const cachedOnnx = cachedName ? await readModelFrom(source, cachedName) : undefined;
  const attrOnnx = (plainOnnx ?? cachedOnnx)!;
  files.attribution = (plainName ?? cachedName)!;
  if (cachedName) files.cached = cachedName;
  const attrGraph = new Graph(attrOnnx);
  const embeddingsOutput = options.layer ?? findDecoderEmbeddings(attrGraph);
  if (options.layer && !attrGraph.producer.has(options.layer)) fail(`--layer ${options.layer} is not a tensor computed by the graph (gradlens inspect --tensors lists them)`);
  const attribution = decoderGraph(attrOnnx, options.session, [embeddingsOutput]);
  const cached = cachedOnnx ? (cachedOnnx === attrOnnx ? attribution : decoderGraph(cachedOnnx, options.session, [])) : undefined;
  if (cached && cached.past.length === 0) fail(`${cachedName} of ${name} takes no past_key_values inputs: it is not a cached decoder`);
  const positions = [raw['max_position_embeddings'], raw['n_positions'], raw['n_ctx']].find(isInt) ?? tokenizer.modelMaxLength;
  const bos = specialIds(gen, raw, 'bos_token_id');
  const eos = specialIds(gen, raw, 'eos_token_id');
  const pad = specialIds(gen, raw, 'pad_token_id');
  return {
    name, config, tokenizer, attribution, cached, files, embeddingsOutput,
    bosId: bos[0], eosIds: eos, padId: pad[0], maxPositions: Math.min(positions, 1 << 20),
  };
}

/** Feeds for a run over the whole sequence (batch 1), from position `offset` with `pastLength` cached positions. */
export function decoderFeeds(g: DecoderGraph, ids: readonly number[], options: { pastLength?: number; past?: HostTensor[]; contrast?: { name: string; ids: number[] } } = {}): Record<string, HostTensor> {
  const n = ids.length;
  const pastLength = options.pastLength ?? 0;
  const feeds: Record<string, HostTensor> = {
    input_ids: tensor('int64', [...ids], [1, n]),
    attention_mask: tensor('int64', new Array(pastLength + n).fill(1), [1, pastLength + n]),
  };
  if (g.hasPositionIds) feeds['position_ids'] = tensor('int64', ids.map((_, i) => pastLength + i), [1, n]);
  if (g.useCacheBranch) feeds['use_cache_branch'] = { type: 'bool', data: Uint8Array.of(pastLength > 0 ? 1 : 0), dims: [1] };
  g.past.forEach((p, i) => {
    const [kv, hd] = g.cacheDims!;
    const key = options.past?.[2 * i] ?? { type: 'float32', data: new Float32Array(0), dims: [1, kv, 0, hd] } as HostTensor;
    const value = options.past?.[2 * i + 1] ?? { type: 'float32', data: new Float32Array(0), dims: [1, kv, 0, hd] } as HostTensor;
    feeds[p.key] = key;
    feeds[p.value] = value;
  });
  if (options.contrast) feeds[options.contrast.name] = tensor('int64', options.contrast.ids, [1, n]);
  return feeds;
}
