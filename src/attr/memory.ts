/**
 * Memory estimates made before a run, so that an absurd --internal-batch-size or --samples is refused with one line
 * instead of exhausting the machine.
 *
 * The estimate of one row (one example at one integration step) of an ONNX Runtime call is the sum of the bytes of
 * every value the forward graph computes, at batch 1 and the given sequence length: what the forward pass would hold
 * if it freed nothing. ONNX Runtime reuses buffers, and the backward pass keeps a part of these values alive, so this
 * is an upper bound of a gradient run's working set. Measured, it is about three times the peak RSS a row adds:
 * demo QA model (LayerIG, start + end, 128 tokens) 6.0 MiB estimated per row, 1.9 MiB per row of peak RSS growth
 * (1 → 1,000 rows per call); BERT-base size at 484 tokens, 1.5 GiB estimated, 0.44 GiB measured (1 → 3 rows). Chunks
 * are planned with the expected working set, the bound × WORKING_SET (measured 0.93–1.19× of the growth; test/attr/memory.test.ts keeps it within 3× of
 * the measured growth on the demo model at two lengths).
 */
import type { ModelProto } from '../onnx/proto.js';
import { Graph } from '../graph/graph.js';
import { inferShapes } from '../graph/shapes.js';
import type { Dim } from '../graph/dims.js';
import { fail } from '../errors.js';
import { formatBytes } from '../units.js';
import { elementBytes } from '../onnx/tensor.js';

interface Analysis { symbols: Map<string, 'batch' | 'seq'>; values: Map<string, { type: number; shape: Dim[] }> }
const cache = new WeakMap<ModelProto, Analysis>();

function analyse(model: ModelProto): Analysis {
  let entry = cache.get(model);
  if (entry) return entry;
  const graph = new Graph(model);
  const info = inferShapes(graph);
  // The batch and sequence symbols, from the graph inputs' declared shapes ([batch, sequence, …]).
  const symbols = new Map<string, 'batch' | 'seq'>();
  for (const name of graph.inputNames()) {
    const shape = info.get(name)?.shape;
    if (typeof shape?.[0] === 'string') symbols.set(shape[0], 'batch');
    if (typeof shape?.[1] === 'string' && !symbols.has(shape[1])) symbols.set(shape[1], 'seq');
  }
  const values = new Map<string, { type: number; shape: Dim[] }>();
  for (const node of graph.nodes) {
    for (const o of node.output ?? []) {
      const v = o ? info.get(o) : undefined;
      if (v?.shape) values.set(o, { type: v.type ?? 1, shape: v.shape });
    }
  }
  entry = { symbols, values };
  cache.set(model, entry);
  return entry;
}

/** Bytes of one row of a value: the batch symbol counts 1; the sequence symbol and unknown dims count `sequenceLength`. */
function rowBytes(a: Analysis, v: { type: number; shape: Dim[] }, sequenceLength: number): number {
  let n = elementBytes(v.type) ?? 4;
  for (const d of v.shape) {
    if (typeof d === 'number') n *= d;
    else if (typeof d === 'string' && a.symbols.get(d) === 'batch') continue;
    else n *= sequenceLength; // attention scores are [batch, heads, seq, seq]
  }
  return n;
}

/** The share of the upper bound a row is expected to use (see the module comment). */
export const WORKING_SET = 1 / 3;

/** The bytes one row of a gradient run is expected to add at `sequenceLength` tokens (upper bound × WORKING_SET). */
export function expectedBytesPerRow(model: ModelProto, sequenceLength: number): number {
  return bytesPerRow(model, sequenceLength) * WORKING_SET;
}

/** Upper bound of the bytes one row of a run needs at `sequenceLength` tokens (see the module comment). */
export function bytesPerRow(model: ModelProto, sequenceLength: number): number {
  const a = analyse(model);
  let total = 0;
  for (const v of a.values.values()) total += rowBytes(a, v, sequenceLength);
  return total;
}

/** Bytes of one row of the value `name` (e.g. the embeddings output, the space noise tunnels copy). */
export function valueBytesPerRow(model: ModelProto, name: string, sequenceLength: number): number | undefined {
  const a = analyse(model);
  const v = a.values.get(name);
  return v ? rowBytes(a, v, sequenceLength) : undefined;
}

/**
 * Rows per ONNX Runtime call for a run within a memory budget (`budget` bytes), from the expected bytes of one row at
 * this length: `requested`, or as many rows as fit, at most `fallback` (more rows per call stop paying off: see
 * tasks/attribute.ts defaultChunk), next to `hostBytes` the method keeps on the host for the whole run (noise
 * samples). Refuses with one line when the requested rows, the host arrays or even one row do not fit.
 */
export function planMemory(model: ModelProto, options: { sequenceLength: number; requested?: number; fallback: number; hostBytes?: number; budget: number; flag?: string; label?: string }): number {
  const { sequenceLength, requested, fallback, hostBytes = 0, budget, flag = '--internal-batch-size' } = options;
  const label = options.label ?? `${flag} ${requested}`;
  const row = expectedBytesPerRow(model, sequenceLength);
  const left = budget - hostBytes;
  if (hostBytes > 0 && left < row) {
    fail(`this run would keep about ${formatBytes(hostBytes)} of noise samples in memory and needs about ${formatBytes(row)} per row at ${sequenceLength} tokens, `
      + `with ${formatBytes(budget)} available; use fewer --samples`);
  }
  if (row > left) fail(`one row at ${sequenceLength} tokens needs about ${formatBytes(row)} and the memory budget is ${formatBytes(left)}; use a shorter input or a larger --memory-budget`);
  const fits = Math.max(1, Math.floor(left / row));
  if (requested !== undefined) {
    if (requested > fits) {
      fail(`${label} would need about ${formatBytes(requested * row)} per ONNX Runtime call at ${sequenceLength} tokens `
        + `and the memory budget is ${formatBytes(left)}; use ${fits} or fewer`);
    }
    return requested;
  }
  return Math.min(fallback, fits);
}
