import { fail } from '../errors.js';
import type { HostTensor } from '../runtime/session.js';
import type { ModelRunner } from './runner.js';
import type { AttributionResult } from './base.js';
import type { ResolvedTarget } from './targets.js';
import { findAttentionProbs } from '../graph/attention.js';
import { rollout } from './rollout.js';

/** Attention probabilities per layer, one example: [layer][head][query][key]. */
export type AttentionMaps = number[][][][];

/** Runs the model once with every layer's attention probabilities as extra outputs. */
export async function attentionMaps(runner: ModelRunner, feeds: Record<string, HostTensor>): Promise<{ names: string[]; maps: AttentionMaps }> {
  const names = findAttentionProbs(runner.model);
  const out = await runner.forward(feeds, names);
  const maps = names.map((n) => {
    const t = out[n]!;
    if (t.dims.length !== 4 || t.dims[0] !== 1 || t.dims[2] !== t.dims[3]) fail(`the attention probabilities ${n} have shape [${t.dims}], not [1, heads, tokens, tokens]`);
    const [, heads, q, k] = t.dims as [number, number, number, number];
    return Array.from({ length: heads }, (_, h) => Array.from({ length: q }, (_, i) => Array.from(t.data.subarray((h * q + i) * k, (h * q + i + 1) * k) as Float32Array, Number)));
  });
  return { names, maps };
}

/** Mean over heads of one layer: [query][key]. */
export function headMean(layer: number[][][]): number[][] {
  const H = layer.length;
  return layer[0]!.map((row, i) => row.map((_, j) => layer.reduce((s, head) => s + head[i]![j]!, 0) / H));
}

export interface AttentionOptions {
  targets: (ResolvedTarget | { label?: string; position?: number })[];
  /** Layer index (0-based), or 'last'. */
  layer?: number | 'last';
}

/**
 * Attention as an explanation: the attention probabilities of a layer (default the last), averaged over heads, in
 * the row of the target position ([CLS] for sentence targets); or their rollout over all layers. With every layer's
 * and head's row for the report's head view.
 */
export async function attentionAttribution(runner: ModelRunner, feeds: Record<string, HostTensor>, options: AttentionOptions, kind: 'attention' | 'rollout'):
  Promise<AttributionResult[]> {
  const { names, maps } = await attentionMaps(runner, feeds);
  const L = maps.length;
  const chosen = options.layer === undefined || options.layer === 'last' ? L - 1 : options.layer;
  if (!Number.isInteger(chosen) || chosen < 0 || chosen >= L) fail(`--attention-layer ${options.layer} is out of range: the model has ${L} attention layers (0–${L - 1}, or last)`);
  const matrix = kind === 'rollout' ? rollout(maps) : headMean(maps[chosen]!);
  const positions = options.targets.map((t) => (t as { position?: number }).position ?? 0);
  const results = positions.map((pos, k): AttributionResult => {
    const row = matrix[pos] ?? fail(`target position ${pos} is outside the ${matrix.length} tokens`);
    const t = options.targets[k]! as { label?: string };
    return {
      target: { output: kind, label: t.label ?? String(pos), offsets: [pos], indices: [pos] },
      attributions: { [kind]: { type: 'float64', data: Float64Array.from(row), dims: [1, row.length] } },
      layer: kind === 'rollout' ? `rollout of ${L} layers: ${names.join(', ')}` : names[chosen]!,
      attention: { position: pos, weights: maps.map((layer) => layer.map((head) => head[pos]!)) },
    };
  });
  return results;
}

export class AttentionWeights {
  constructor(readonly runner: ModelRunner) {}
  attribute(feeds: Record<string, HostTensor>, options: AttentionOptions): Promise<AttributionResult[]> {
    return attentionAttribution(this.runner, feeds, options, 'attention');
  }
}
