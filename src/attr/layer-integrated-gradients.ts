import type { ModelProto } from '../onnx/proto.js';
import { fail } from '../errors.js';
import type { HostTensor } from '../runtime/session.js';
import { Graph } from '../graph/graph.js';
import { GradientAttribution, type AttributionResult, type Endpoint } from './base.js';
import { integrate, type IntegratedGradientsOptions } from './integrated-gradients.js';
import { ModelRunner } from './runner.js';
import { batchOf, concatRows, float32, gatherRows } from './host.js';
import type { TargetSpec } from './targets.js';

export interface LayerIntegratedGradientsOptions extends Omit<IntegratedGradientsOptions, 'baselines'> {
  /**
   * Baselines as model inputs, as in Captum (e.g. reference input_ids); inputs not given keep their values
   * (attention_mask, token_type_ids). Default: zeros for the first model input.
   */
  baselines?: Record<string, HostTensor>;
  /** Or a constant baseline directly in the layer's space (e.g. 0 for a zero embedding). */
  layerBaseline?: number;
}

/**
 * Integrated Gradients in the space of an intermediate tensor (e.g. the embeddings-layer output): the layer's
 * activation is computed at the input and at the baseline input, and the path is interpolated between the two;
 * the rest of the model runs from the interpolated activation.
 */
export class LayerIntegratedGradients extends GradientAttribution {
  constructor(model: ModelProto | ModelRunner, layer: string) {
    const runner = model instanceof ModelRunner ? model : new ModelRunner(model);
    const graph = new Graph(runner.model);
    if (!graph.producer.has(layer) && !graph.inputNames().includes(layer)) fail(`layer ${layer} is not a tensor of the graph (gradlens inspect lists them)`);
    super(runner, { kind: 'layer', name: layer });
  }

  get layer(): string {
    return this.spaceNames[0]!;
  }

  attribute(inputs: Record<string, HostTensor>, options: LayerIntegratedGradientsOptions & { targets: TargetSpec[] }): Promise<AttributionResult[]>;
  attribute(inputs: Record<string, HostTensor>, options?: LayerIntegratedGradientsOptions): Promise<AttributionResult>;
  async attribute(inputs: Record<string, HostTensor>, options: LayerIntegratedGradientsOptions = {}): Promise<AttributionResult | AttributionResult[]> {
    const [x, b] = await this.layerEndpoints(inputs, options);
    const { baselines: _unused, ...rest } = options;
    const results = await integrate(this, x, b, inputs, rest);
    return options.targets ? results : results[0]!;
  }

  /** The layer activation and outputs at the inputs and at the baselines, in one forward run of 2 × batch rows. */
  async layerEndpoints(inputs: Record<string, HostTensor>, options: LayerIntegratedGradientsOptions): Promise<[Endpoint, Endpoint]> {
    const examples = batchOf(Object.values(inputs)[0]!);
    const first = this.runner.inputNames[0]!;
    const given = options.baselines ?? (options.layerBaseline === undefined ? { [first]: zerosLike(inputs[first]!) } : {});
    for (const name of Object.keys(given)) if (!this.runner.inputNames.includes(name)) fail(`baseline ${name} is not an input of the model`);
    const baseFeeds: Record<string, HostTensor> = {};
    for (const name of this.runner.inputNames) {
      const input = inputs[name];
      if (!input) fail(`input ${name} is missing`);
      const base = given[name] ?? input;
      if (base.dims.join() !== input.dims.join()) {
        if (base.dims[0] === 1 && base.dims.slice(1).join() === input.dims.slice(1).join()) baseFeeds[name] = gatherRows(base, Array(examples).fill(0));
        else fail(`baseline ${name} has shape [${base.dims}] but the input has shape [${input.dims}]`);
      } else baseFeeds[name] = base;
    }
    const both = Object.fromEntries(this.runner.inputNames.map((n) => [n, concatRows([inputs[n]!, baseFeeds[n]!])]));
    const joint = await this.endpoint(both);
    const half = (t: HostTensor, second: boolean) => gatherRows(t, Array.from({ length: examples }, (_, i) => (second ? examples : 0) + i));
    const split = (second: boolean): Endpoint => ({
      values: Object.fromEntries(Object.entries(joint.values).map(([k, v]) => [k, half(v, second)])),
      outputs: Object.fromEntries(Object.entries(joint.outputs).map(([k, v]) => [k, half(v, second)])),
    });
    const x = split(false), b = split(true);
    if (options.layerBaseline !== undefined) {
      const act = x.values[this.layer]!;
      b.values = { [this.layer]: float32(new Float32Array(act.data.length).fill(options.layerBaseline), act.dims) };
      // F at the layer baseline: run the model from that activation (a gradient run with zero cotangents is not needed).
      b.outputs = await this.outputsFromLayer(inputs, b.values[this.layer]!);
    }
    return [x, b];
  }

  /** Model outputs when the layer's activation is replaced by `activation`. */
  private async outputsFromLayer(inputs: Record<string, HostTensor>, activation: HostTensor): Promise<Record<string, HostTensor>> {
    // The gradient model runs the graph from the layer on; zero cotangents make its backward part irrelevant.
    const of = this.runner.outputNames;
    const shapes = await this.runner.forward(inputs);
    const cot = Object.fromEntries(of.map((o) => [o, float32(new Float32Array(shapes[o]!.data.length), shapes[o]!.dims)]));
    const { outputs } = await this.runner.gradient(inputs, { [this.layer]: activation }, of, [cot]);
    return outputs;
  }
}

function zerosLike(t: HostTensor): HostTensor {
  const data = t.type === 'int64' ? new BigInt64Array(t.data.length) : t.type === 'int32' ? new Int32Array(t.data.length) : new Float32Array(t.data.length);
  return { type: t.type, data, dims: [...t.dims] };
}
