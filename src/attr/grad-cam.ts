import type { ModelProto } from '../onnx/proto.js';
import { fail } from '../errors.js';
import type { HostTensor } from '../runtime/session.js';
import { GradientAttribution, type AttributionResult, type CommonOptions, type Endpoint } from './base.js';
import { ModelRunner, asRunner } from './runner.js';
import { float64 } from './host.js';
import type { ResolvedTarget } from './targets.js';

export interface GradCamOptions extends CommonOptions {
  /** ReLU of the weighted sum (Captum's relu_attributions; Grad-CAM as published: true). Default true. */
  relu?: boolean;
}

/**
 * Captum's LayerGradCam on a spatial layer A of shape [N, C, spatial…] (channels first, as ONNX Conv outputs are):
 * α_c = mean over the spatial positions of ∂F/∂A_c, attribution = ReLU(Σ_c α_c A_c), shape [N, 1, spatial…], at the
 * layer's resolution (upsampling to the input is the caller's: Captum's LayerAttribution.interpolate).
 */
export class LayerGradCam extends GradientAttribution<GradCamOptions> {
  constructor(model: ModelProto | ModelRunner, readonly layer: string) {
    super(asRunner(model), { kind: 'layer', name: layer });
  }

  async compute(x: Endpoint, inputs: Record<string, HostTensor>, options: GradCamOptions, targets: ResolvedTarget[]): Promise<AttributionResult[]> {
    const A = x.values[this.layer]!;
    if (A.dims.length < 3) fail(`grad-cam needs a spatial layer [batch, channels, height, width]; ${this.layer} has shape [${A.dims.join(', ')}]`);
    const grads = await this.gradientsAtValues(x.values, inputs, targets, x.outputs, options.internalBatchSize);
    const [N, C] = A.dims as [number, number];
    const spatial = A.dims.slice(2).reduce((a, b) => a * b, 1);
    const relu = options.relu ?? true;
    const a = A.data as Float32Array;
    return targets.map((target, k) => {
      const g = grads[k]![this.layer]!.data as Float32Array;
      const out = new Float64Array(N * spatial);
      for (let n = 0; n < N; n++) {
        for (let c = 0; c < C; c++) {
          const base = (n * C + c) * spatial;
          let alpha = 0;
          for (let s = 0; s < spatial; s++) alpha += g[base + s]!;
          alpha /= spatial;
          for (let s = 0; s < spatial; s++) out[n * spatial + s]! += alpha * a[base + s]!;
        }
      }
      if (relu) for (let i = 0; i < out.length; i++) if (out[i]! < 0) out[i] = 0;
      return { target, attributions: { [this.layer]: float64(out, [N, 1, ...A.dims.slice(2)]) }, layer: this.layer };
    });
  }
}
