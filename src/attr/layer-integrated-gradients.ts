import type { ModelProto } from '../onnx/proto.js';
import { fail } from '../errors.js';
import type { HostTensor } from '../runtime/session.js';
import { Graph } from '../graph/graph.js';
import { GradientAttribution, type AttributionResult, type Endpoint } from './base.js';
import { integrate, type IntegratedGradientsOptions } from './integrated-gradients.js';
import { ModelRunner, asRunner } from './runner.js';
import { batchOf, float32, gatherRows } from './host.js';
import type { ResolvedTarget } from './targets.js';

export interface LayerIntegratedGradientsOptions extends Omit<IntegratedGradientsOptions, 'baselines'> {
  /**
   * Baselines as model inputs, as in Captum (e.g. reference input_ids); inputs not given keep their values
   * (attention_mask, token_type_ids). Default: zeros for the first model input.
   */
  baselines?: Record<string, HostTensor>;
  /** Or a constant baseline directly in the layer's space (e.g. 0 for a zero embedding). */
  layerBaseline?: number;
}

/** A layer method: attributions in the space of one intermediate tensor, e.g. the embeddings-layer output. */
export function checkLayer(runner: ModelRunner, layer: string): void {
  const graph = new Graph(runner.model);
  if (!graph.producer.has(layer)) fail(`layer ${layer} is not a tensor computed by the graph (gradlens inspect --tensors lists them)`);
}

/**
 * Integrated Gradients in the space of an intermediate tensor (e.g. the embeddings-layer output): the layer's
 * activation is computed at the input and at the baseline input, and the path is interpolated between the two;
 * the rest of the model runs from the interpolated activation.
 */
export class LayerIntegratedGradients extends GradientAttribution<LayerIntegratedGradientsOptions> {
  constructor(model: ModelProto | ModelRunner, layer: string) {
    const runner = asRunner(model);
    checkLayer(runner, layer);
    super(runner, { kind: 'layer', name: layer });
  }

  get layer(): string {
    return this.spaceNames[0]!;
  }

  async compute(x: Endpoint, inputs: Record<string, HostTensor>, options: LayerIntegratedGradientsOptions, targets: ResolvedTarget[]): Promise<AttributionResult[]> {
    const b = await this.baselineEndpoint(inputs, x, options);
    // The baselines were model inputs; the integral takes the layer values computed from them.
    return integrate(this, x, b, inputs, { ...options, baselines: undefined }, targets);
  }

  /** The layer activation and the outputs at the baseline. */
  async baselineEndpoint(inputs: Record<string, HostTensor>, x: Endpoint, options: Pick<LayerIntegratedGradientsOptions, 'baselines' | 'layerBaseline'>): Promise<Endpoint> {
    const act = x.values[this.layer]!;
    if (options.layerBaseline !== undefined) {
      const values = { [this.layer]: float32(new Float32Array(act.data.length).fill(options.layerBaseline), act.dims) };
      return { values, outputs: await this.outputsAt(inputs, values) };
    }
    return this.endpoint(baselineFeeds(this.runner, inputs, options.baselines, batchOf(act)));
  }
}

/** Feeds for the baseline: the given baseline inputs (broadcast over the batch), the other inputs as at x. */
export function baselineFeeds(runner: ModelRunner, inputs: Record<string, HostTensor>, baselines: Record<string, HostTensor> | undefined, examples: number): Record<string, HostTensor> {
  const first = runner.inputNames[0]!;
  const given = baselines ?? { [first]: zerosLike(inputs[first]!) };
  for (const name of Object.keys(given)) if (!runner.inputNames.includes(name)) fail(`baseline ${name} is not an input of the model`);
  const feeds: Record<string, HostTensor> = {};
  for (const name of runner.inputNames) {
    const input = inputs[name];
    if (!input) fail(`input ${name} is missing`);
    const base = given[name] ?? input;
    if (base.dims.join() === input.dims.join()) feeds[name] = base;
    else if (base.dims[0] === 1 && base.dims.slice(1).join() === input.dims.slice(1).join()) feeds[name] = gatherRows(base, Array(examples).fill(0));
    else fail(`baseline ${name} has shape [${base.dims}] but the input has shape [${input.dims}]`);
  }
  return feeds;
}

function zerosLike(t: HostTensor): HostTensor {
  const data = t.type === 'int64' ? new BigInt64Array(t.data.length) : t.type === 'int32' ? new Int32Array(t.data.length) : new Float32Array(t.data.length);
  return { type: t.type, data, dims: [...t.dims] };
}
