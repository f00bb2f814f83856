import { fail } from '../errors.js';
import type { HostTensor } from '../runtime/session.js';
import type { ModelRunner } from './runner.js';
import type { AttributionResult } from './base.js';
import { attentionAttribution, headMean, type AttentionMaps, type AttentionOptions } from './attention.js';

/**
 * Attention rollout (Abnar & Zuidema 2020): per layer Ā = mean over heads, A′ = ½Ā + ½I with rows renormalised;
 * the product A′_L ⋯ A′_1 (the last layer on the left).
 */
export function rollout(maps: AttentionMaps): number[][] {
  let result: number[][] | undefined;
  for (const layer of maps) {
    const a = headMean(layer).map((row, i) => {
      const r = row.map((v, j) => 0.5 * v + (i === j ? 0.5 : 0));
      const s = r.reduce((x, y) => x + y, 0);
      return r.map((v) => v / s);
    });
    result = result ? a.map((row) => result![0]!.map((_, j) => row.reduce((s, v, k) => s + v * result![k]![j]!, 0))) : a;
  }
  return result ?? fail('the model has no attention layers');
}

export class AttentionRollout {
  constructor(readonly runner: ModelRunner) {}
  attribute(feeds: Record<string, HostTensor>, options: AttentionOptions): Promise<AttributionResult[]> {
    return attentionAttribution(this.runner, feeds, options, 'rollout');
  }
}
