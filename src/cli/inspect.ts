// gradlens inspect: what a model is made of, and the names the other commands take (--layer, --of, --wrt).
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { ModelProto } from '../onnx/proto.js';
import { readModelFrom } from '../onnx/model.js';
import { Graph } from '../graph/graph.js';
import { inferShapes, elemTypeName } from '../graph/shapes.js';
import type { Shape } from '../graph/dims.js';
import { RULES, NON_DIFFERENTIABLE } from '../autodiff/rules.js';
import { overriddenOps } from '../autodiff/lrp.js';
import { DECODER_TYPES, findDecoderEmbeddings } from '../models/decoder.js';
import { findFusions } from '../autodiff/patterns.js';
import { findEmbeddingsOutput, findWordEmbeddings } from '../models/embeddings.js';
import { validateConfig } from '../models/config.js';
import { readModelFile } from '../io/model-file.js';
import { FolderSource } from '../io/folder.js';
import { readJsonFrom } from '../io/source.js';
import { LIMITS } from '../io/limits.js';
import { GradlensError, fail } from '../errors.js';
import { escapeControls } from '../viz/escape.js';

export interface ValueSummary { name: string; type: string; shape: Shape | null }

/** A tensor computed by the graph: a node output, with the op type of its producer. */
export interface TensorSummary extends ValueSummary {
  op: string;
  /** The producing node's name ('' when the exporter gave none). */
  node: string;
}

/** What a model folder adds to the graph: its config's task head description and which files it has. */
export interface FolderSummary {
  path: string;
  /** The ONNX file inside the folder that gradlens reads. */
  onnx: string;
  modelType: string | null;
  architectures: string[];
  /** Label names by class index (config.json id2label), when present. */
  id2label: Record<string, string> | null;
  tokenizer: boolean;
}

export interface ModelSummary {
  opset: number;
  irVersion: number;
  producer: string;
  inputs: ValueSummary[];
  /** The graph outputs: the task heads (start_logits/end_logits, logits, …). */
  outputs: ValueSummary[];
  ops: Record<string, number>;
  /** Op types present in the graph with no gradient rule (and not known to be non-differentiable). */
  missingRules: string[];
  /** What the AttnLRP / CP-LRP rule sets override in this graph (op → how many); every other op keeps its gradient rule. */
  lrpOverrides: Record<string, number>;
  initializers: number;
  parameters: number;
  /** The auto-detected embeddings-layer output (what explain attributes to unless --layer), or null when not found. */
  embeddingsOutput: string | null;
  /** The word-embedding lookup output (what inputs_embeds would be), or null when not found. */
  wordEmbeddings: string | null;
  /** How many tensors the graph computes (node outputs). */
  tensorCount: number;
  /** The tensors computed by the graph, in topological order (filtered when the summary was asked with a filter). */
  tensors: TensorSummary[];
  /** Present when a model folder was inspected. */
  folder?: FolderSummary;
}

export interface TensorFilter {
  /** A substring of the tensor name (case-sensitive). */
  filter?: string;
  /** The producer's op type (e.g. MatMul, or com.microsoft.FusedMatMul). */
  op?: string;
}

const opKey = (domain: string | null | undefined, opType: string): string => (domain && domain !== 'ai.onnx' ? `${domain}.${opType}` : opType);

/** Where the LRP rule sets differ from the gradient in a graph: nonlinearities, LayerNorms (fused groups too), products of two activations. */
function lrpSites(graph: Graph, shapes: ReturnType<typeof inferShapes>): Record<string, number> {
  const computed = new Set<string>(graph.inputNames());
  for (const n of graph.nodes) for (const o of n.output ?? []) if (o) computed.add(o);
  const fusions = findFusions(graph, shapes, [...graph.nodes].reverse(), computed, new Set(graph.outputNames()));
  const fused = new Set(fusions.flatMap((f) => [...f.members]));
  const out: Record<string, number> = {};
  const add = (k: string) => (out[k] = (out[k] ?? 0) + 1);
  for (const f of fusions) add(`${f.node.opType} (decomposed)`);
  const lrpOps = new Set(overriddenOps('attnlrp'));
  for (const n of graph.nodes) {
    if (fused.has(n) || !lrpOps.has(n.opType!)) continue;
    if (n.opType === 'MatMul' || n.opType === 'Mul') {
      const ins = (n.input ?? []).filter(Boolean);
      if (ins.length === 2 && ins.every((i) => computed.has(i) && !graph.initializers.has(i) && graph.producer.get(i)?.opType !== 'Constant')) add(`${n.opType} of two activations`);
    } else add(n.opType!);
  }
  return out;
}

/** A decoder LM graph: a logits output and a cache (past_key_values inputs), or a decoder model_type. */
const isDecoder = (graph: Graph, modelType?: string | null): boolean =>
  (modelType !== undefined && modelType !== null && (DECODER_TYPES as readonly string[]).includes(modelType))
  || (graph.outputNames().includes('logits') && graph.inputNames().some((n) => n.startsWith('past_key_values.')));

export function summarize(model: ModelProto, tensorFilter: TensorFilter = {}, modelType?: string | null): ModelSummary {
  const graph = new Graph(model);
  const shapes = inferShapes(graph);
  const describe = (name: string): ValueSummary => ({ name, type: elemTypeName(shapes.get(name)?.type).toLowerCase(), shape: shapes.get(name)?.shape ?? null });
  const ops: Record<string, number> = {};
  const tensors: TensorSummary[] = [];
  for (const n of graph.nodes) {
    const key = opKey(n.domain, n.opType!);
    ops[key] = (ops[key] ?? 0) + 1;
    for (const o of n.output ?? []) if (o) tensors.push({ ...describe(o), op: key, node: n.name ?? '' });
  }
  const missingRules = Object.keys(ops).filter((op) => !RULES[op] && !NON_DIFFERENTIABLE.has(op)).sort();
  const lrpOverrides = lrpSites(graph, shapes);
  let parameters = 0;
  for (const t of graph.initializers.values()) parameters += (t.dims ?? []).reduce<number>((a, d) => a * Number(d), 1);
  return {
    opset: graph.opset,
    irVersion: Number(model.irVersion ?? 0),
    producer: `${model.producerName ?? ''} ${model.producerVersion ?? ''}`.trim(),
    inputs: graph.inputNames().map(describe),
    outputs: graph.outputNames().map(describe),
    ops,
    missingRules,
    lrpOverrides,
    initializers: graph.initializers.size,
    parameters,
    // Decoders: the tensor fed to the first block (what explain generate attributes to).
    embeddingsOutput: notFoundAsNull(() => (isDecoder(graph, modelType) ? findDecoderEmbeddings(graph) : findEmbeddingsOutput(graph))),
    wordEmbeddings: notFoundAsNull(() => findWordEmbeddings(graph)),
    tensorCount: tensors.length,
    tensors: filterTensors(tensors, tensorFilter),
  };
}

function notFoundAsNull(find: () => string | undefined): string | null {
  try {
    return find() ?? null;
  } catch (e) {
    if (e instanceof GradlensError) return null;
    throw e;
  }
}

export function filterTensors(tensors: TensorSummary[], { filter, op }: TensorFilter): TensorSummary[] {
  return tensors.filter((t) => (filter === undefined || t.name.includes(filter)) && (op === undefined || t.op === op || t.op.endsWith(`.${op}`)));
}

/** Where a model folder keeps its fp32 graph (as the loader looks: models/load.ts). */
const ONNX_CANDIDATES = ['onnx/model.onnx', 'model.onnx', 'onnx/decoder_model.onnx', 'onnx/decoder_model_merged.onnx'];

/** Reads a model folder (transformers.js layout): its fp32 ONNX graph, config.json and whether it has tokenizer.json. */
export async function readFolder(dir: string): Promise<{ model: ModelProto; folder: FolderSummary }> {
  const source = new FolderSource(resolve(dir), resolve(dir), dir);
  let onnxName: string | undefined;
  for (const candidate of ONNX_CANDIDATES) if (await source.has(candidate)) { onnxName = candidate; break; }
  if (onnxName === undefined) {
    const others = ((await source.list('onnx')) ?? []).filter((f) => f.endsWith('.onnx')).sort();
    if (others.length > 0) fail(`${dir} has only ${others.join(', ')} in onnx/: gradlens reads the fp32 onnx/model.onnx (quantized graphs are not differentiable)`);
    fail(`${dir} has no onnx/model.onnx (a model folder has config.json, tokenizer.json and onnx/model.onnx; or pass an .onnx file)`);
  }
  const config = (await source.has('config.json'))
    ? validateConfig(await readJsonFrom(source, 'config.json', LIMITS.configJson), `config.json of ${dir}`)
    : validateConfig({}, 'config.json');
  const model = await readModelFrom(source, onnxName);
  return {
    model,
    folder: {
      path: dir,
      onnx: onnxName,
      modelType: config.model_type ?? null,
      architectures: config.architectures ?? [],
      id2label: config.id2label ? { ...config.id2label } : null,
      tokenizer: await source.has('tokenizer.json'),
    },
  };
}

/** Summarizes an ONNX file or a model folder (config.json, tokenizer.json, onnx/model.onnx). */
export async function inspectPath(path: string, tensorFilter: TensorFilter = {}): Promise<ModelSummary> {
  if (!existsSync(path)) fail(`${path}: no such file or folder (gradlens inspect takes an .onnx file or a model folder)`);
  if (statSync(path).isDirectory()) {
    const { model, folder } = await readFolder(path);
    return { ...summarize(model, tensorFilter, folder.modelType), folder };
  }
  return summarize(readModelFile(path), tensorFilter);
}

const fmtShape = (s: Shape | null) => (s ? `[${s.map((d) => (d === null ? '?' : String(d))).join(', ')}]` : 'unknown');
const fmtValue = (v: ValueSummary) => `${v.name}: ${v.type} ${fmtShape(v.shape)}`;

/** The terminal view; every line is escaped (tensor names and labels come from the model's author). */
export function formatSummary(s: ModelSummary): string {
  const f = s.folder;
  const lines = [
    ...(f ? [`model folder ${f.path}: ${f.onnx}${f.tokenizer ? ', tokenizer.json' : ', no tokenizer.json (gradlens explain needs it)'}`] : []),
    `opset ${s.opset}, IR version ${s.irVersion}${s.producer ? `, produced by ${s.producer}` : ''}`,
    `${s.initializers} initializers, ${s.parameters.toLocaleString('en-US')} parameters`,
    'inputs:',
    ...s.inputs.map((v) => `  ${fmtValue(v)}`),
    'outputs (task heads):',
    ...s.outputs.map((v) => `  ${fmtValue(v)}`),
    ...(f ? [
      `architectures: ${f.architectures.length ? f.architectures.join(', ') : 'not given in config.json'}${f.modelType ? ` (model_type ${f.modelType})` : ''}`,
      ...(f.id2label ? [`labels (id2label): ${Object.entries(f.id2label).map(([k, v]) => `${k} ${v}`).join(', ')}`] : []),
    ] : []),
    `embeddings output: ${s.embeddingsOutput ?? 'not found (pass the layer to explain with --layer)'}`,
    `word-embedding lookup: ${s.wordEmbeddings ?? 'not found'}`,
    'ops:',
    ...Object.entries(s.ops).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([op, n]) => `  ${op.padEnd(24)} ${n}`),
    s.missingRules.length ? `ops without gradient rules: ${s.missingRules.join(', ')}` : 'every op has a gradient rule (or is non-differentiable)',
    Object.keys(s.lrpOverrides).length
      ? `attnlrp / cp-lrp override here: ${Object.entries(s.lrpOverrides).map(([k, n]) => `${k} ×${n}`).join(', ')}; every other op keeps its gradient rule`
      : 'attnlrp / cp-lrp override nothing here: they equal input-x-gradient on this model',
    `${s.tensorCount} tensors computed by the graph: --tensors lists them (--filter SUBSTRING, --op OPTYPE)`,
  ];
  return lines.map(escapeControls).join('\n');
}

/** The tensor list (--tensors): a header, then one tensor a line, "name: type [shape]  (OpType)". */
export function formatTensors(s: ModelSummary, op?: string): string {
  const shown = s.tensors.length === s.tensorCount ? `${s.tensorCount}` : `${s.tensors.length} of ${s.tensorCount}`;
  const role = (name: string) => (name === s.embeddingsOutput ? '  ← embeddings output' : name === s.wordEmbeddings ? '  ← word-embedding lookup' : '');
  const lines = [
    `tensors computed by the graph (${shown}):`,
    ...s.tensors.map((t) => `  ${fmtValue(t)}  (${t.op})${role(t.name)}`),
  ];
  if (op !== undefined && !Object.keys(s.ops).some((k) => k === op || k.endsWith(`.${op}`))) {
    lines.push(`the graph has no ${op} nodes (its ops: ${Object.keys(s.ops).sort().join(', ')})`);
  }
  return lines.map(escapeControls).join('\n');
}

interface InspectOptions { json?: boolean; tensors?: boolean; filter?: string; op?: string }

export function registerInspectCommand(program: Command): void {
  program
    .command('inspect')
    .description('print what a model is made of: opset, inputs, task heads, the embeddings output, ops, ops without gradient rules, and (--tensors) every tensor')
    .argument('<model>', 'ONNX model file, or a model folder (config.json, tokenizer.json, onnx/model.onnx)')
    .option('--tensors', 'list every tensor computed by the graph instead: name, type and shape, producing op (the names --layer, --of and --wrt take)')
    .option('--filter <substring>', 'only tensors whose name contains SUBSTRING (implies --tensors)')
    .option('--op <optype>', 'only tensors produced by OPTYPE nodes, e.g. MatMul (implies --tensors)')
    .option('--json', 'print JSON (always with the tensors, filtered by --filter and --op)')
    .addHelpText('after', `
Examples:
  $ gradlens inspect demo/qa
  $ gradlens inspect onnx/model.onnx --tensors --filter embeddings
  $ gradlens inspect onnx/model.onnx --op MatMul --json`)
    .action(async (modelPath: string, opts: InspectOptions) => {
      const summary = await inspectPath(modelPath, { filter: opts.filter, op: opts.op });
      const tensors = opts.tensors || opts.filter !== undefined || opts.op !== undefined;
      console.log(opts.json ? JSON.stringify(summary, null, 2) : tensors ? formatTensors(summary, opts.op) : formatSummary(summary));
    });
}
