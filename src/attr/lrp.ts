import type { ModelProto } from '../onnx/proto.js';
import type { HostTensor } from '../runtime/session.js';
import { GradientAttribution, spaceOf, type AttributionResult, type CommonOptions, type Endpoint, type SpaceOptions } from './base.js';
import { ModelRunner, asRunner } from './runner.js';
import { float64, rowSize } from './host.js';
import { targetValues, type ResolvedTarget } from './base.js';
import type { RuleSetName } from '../autodiff/lrp.js';

/**
 * LRP in its efficient Gradient×Input form (lxt): relevance = the attributed tensor ⊙ its gradient under a rule set
 * (autodiff/lrp.ts), one forward and one backward pass per target. `delta` is the conservation gap,
 * Σ relevance − F(x): LRP is not conservative through softmax and biases, and the gap is reported, not hidden.
 */
export abstract class LRPAttribution extends GradientAttribution<CommonOptions> {
  constructor(model: ModelProto | ModelRunner, options: SpaceOptions, rules: Exclude<RuleSetName, 'gradient'>) {
    const runner = asRunner(model);
    super(runner, spaceOf(runner, options));
    this.ruleSet = rules;
  }

  async compute(x: Endpoint, inputs: Record<string, HostTensor>, options: CommonOptions, targets: ResolvedTarget[]): Promise<AttributionResult[]> {
    const grads = await this.gradientsAtValues(x.values, inputs, targets, x.outputs, options.internalBatchSize);
    return targets.map((target, k) => {
      const attributions = Object.fromEntries(Object.entries(grads[k]!).map(([n, g]) => {
        const xs = x.values[n]!.data as Float32Array;
        return [n, float64(Float64Array.from(g.data as Float32Array, (v, i) => v * xs[i]!), g.dims)];
      }));
      const fX = targetValues(x.outputs, target);
      const delta = Float64Array.from(fX, (f, e) => {
        let sum = 0;
        for (const t of Object.values(attributions)) {
          const size = rowSize(t);
          for (let i = e * size; i < (e + 1) * size; i++) sum += t.data[i] as number;
        }
        return sum - f;
      });
      return { target, attributions, fX, delta };
    });
  }
}
