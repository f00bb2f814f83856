import type { ModelProto } from '../onnx/proto.js';
import type { HostTensor } from '../runtime/session.js';
import { GradientAttribution, spaceOf, type AttributionResult, type CommonOptions, type Endpoint, type SpaceOptions } from './base.js';
import { ModelRunner, asRunner } from './runner.js';
import { float64 } from './host.js';
import type { ResolvedTarget } from './targets.js';

/** Input × Gradient: x ⊙ ∂F/∂x (on a layer: activation ⊙ gradient). */
export class InputXGradient extends GradientAttribution<CommonOptions> {
  constructor(model: ModelProto | ModelRunner, options: SpaceOptions = {}) {
    const runner = asRunner(model);
    super(runner, spaceOf(runner, options));
  }

  async compute(x: Endpoint, inputs: Record<string, HostTensor>, options: CommonOptions, targets: ResolvedTarget[]): Promise<AttributionResult[]> {
    const grads = await this.gradientsAtValues(x.values, inputs, targets, x.outputs, options.internalBatchSize);
    return targets.map((target, k) => ({
      target,
      attributions: Object.fromEntries(Object.entries(grads[k]!).map(([n, g]) => {
        const xs = x.values[n]!.data as Float32Array;
        return [n, float64(Float64Array.from(g.data as Float32Array, (v, i) => v * xs[i]!), g.dims)];
      })),
    }));
  }
}
