import type { ModelProto } from '../onnx/proto.js';
import type { HostTensor } from '../runtime/session.js';
import type { ModelRunner } from './runner.js';
import type { AttributionResult } from './base.js';
import type { Random } from './random.js';
import { leastSquares } from './linear-model.js';
import { limeAttribute, type LimeOptions } from './lime.js';

/** Captum's weight of the all-present and all-absent samples (KernelShap.inf_weight). */
export const INF_WEIGHT = 1_000_000;

/**
 * How many features a KernelShap sample keeps: k = 1 … M − 1 with probability ∝ (M − 1) / (k·(M − k)), the Shapley
 * kernel (Captum's num_select_distribution).
 */
export function selectionProbabilities(features: number): Float64Array {
  const p = new Float64Array(features);
  for (let k = 1; k < features; k++) p[k] = (features - 1) / (k * (features - k));
  const total = p.reduce((a, b) => a + b, 0);
  return total > 0 ? p.map((v) => v / total) : p;
}

function drawCount(probs: Float64Array, rand: Random): number {
  let u = rand.uniform();
  for (let k = 0; k < probs.length; k++) {
    u -= probs[k]!;
    if (u < 0) return k;
  }
  return probs.length - 1;
}

/**
 * Captum's KernelShap: the first sample keeps every feature and the second none (both weighted INF_WEIGHT); the
 * others keep k features drawn from the Shapley kernel, chosen uniformly, weight 1; a weighted linear regression
 * (SkLearnLinearRegression) gives the attributions. With enough samples they approach the Shapley values.
 */
export class KernelShap {
  constructor(readonly model: ModelProto | ModelRunner) {}

  attribute(inputs: Record<string, HostTensor>, options: LimeOptions = {}): Promise<AttributionResult[]> {
    let probs: Float64Array | undefined;
    return limeAttribute(this.model, inputs, options, {
      sample: (i, out, rand, features) => {
        if (i === 0) return void out.fill(1);
        if (i === 1 || features < 2) return;
        probs ??= selectionProbabilities(features);
        const k = drawCount(probs, rand);
        // k distinct features, uniformly (a partial Fisher–Yates shuffle)
        const order = Array.from({ length: features }, (_, f) => f);
        for (let j = 0; j < k; j++) {
          const pick = j + rand.int(features - j);
          [order[j], order[pick]] = [order[pick]!, order[j]!];
          out[order[j]!] = 1;
        }
      },
      similarity: (_, __, sample) => {
        const kept = sample.reduce((a, b) => a + b, 0);
        return kept === 0 || kept === sample.length ? INF_WEIGHT : 1;
      },
      fit: leastSquares,
    });
  }
}
