import type { ModelProto } from '../onnx/proto.js';
import type { HostTensor } from '../runtime/session.js';
import { GradientAttribution, spaceOf, type AttributionResult, type CommonOptions, type Endpoint, type SpaceOptions } from './base.js';
import { ModelRunner, asRunner } from './runner.js';
import { float64 } from './host.js';
import type { ResolvedTarget } from './targets.js';

export interface SaliencyOptions extends CommonOptions {
  /** Return |gradient| (Captum's default true). */
  abs?: boolean;
}

/** Saliency: the gradient of the target with respect to the input (or layer), by default its absolute value. */
export class Saliency extends GradientAttribution<SaliencyOptions> {
  constructor(model: ModelProto | ModelRunner, options: SpaceOptions = {}) {
    const runner = asRunner(model);
    super(runner, spaceOf(runner, options));
  }

  async compute(x: Endpoint, inputs: Record<string, HostTensor>, options: SaliencyOptions, targets: ResolvedTarget[]): Promise<AttributionResult[]> {
    const grads = await this.gradientsAtValues(x.values, inputs, targets, x.outputs, options.internalBatchSize);
    const abs = options.abs ?? true;
    return targets.map((target, k) => ({
      target,
      attributions: Object.fromEntries(Object.entries(grads[k]!).map(([n, g]) =>
        [n, float64(Float64Array.from(g.data as Float32Array, (v) => (abs ? Math.abs(v) : v)), g.dims)])),
    }));
  }
}
